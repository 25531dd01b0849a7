"""A local stand-in for GitLab's projects API: a real HTTP server on loopback answering recorded-shape JSON.

GitLab is unreachable from tests, so this server reproduces what the GitLab source relies on, from GitLab's
REST documentation ("Projects API", "Pagination", "Rate limits"): `GET /api/v4/projects` with
`order_by=id&sort=asc&pagination=keyset` (400 for other keyset orders), `id_after`, `per_page` (max 100),
`Link: <...>; rel="next"` with absolute URLs and no totals, the `RateLimit-*` headers counting down per
window, the `PRIVATE-TOKEN` header (401 for an unknown token), and a script of faults keyed by request
number: "429" (with Retry-After), "500", "502", "403".

Time comes from an injectable clock shared with the client under test, so a reset "a minute ahead"
passes as soon as the client's fake sleep advances the clock.
"""

from __future__ import annotations

import email.utils
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.support.replay_http import ReplayServer

RETRY_AFTER_S = 7
FAULTS = {"429", "500", "502", "403"}


def project(
    project_id: int,
    path_with_namespace: str,
    *,
    stars: int = 0,
    forks: int = 0,
    last_activity: datetime | None = None,
    default_branch: str | None = "main",
    archived: bool = False,
    empty_repo: bool = False,
    forked_from: str | None = None,
    license_key: str | None = None,
    repository_size: int | None = None,
    topics: tuple[str, ...] = (),
    description: str | None = None,
    repository_access_level: str = "enabled",
    host: str = "gitlab.example.com",
) -> dict[str, Any]:
    """A project as `GET /projects` lists it (a representative subset of its ~100 fields)."""
    namespace, _, path = path_with_namespace.rpartition("/")
    active = last_activity or datetime(2026, 5, 1, 10, 0, tzinfo=UTC) + timedelta(hours=project_id)
    stamp = active.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{project_id % 1000:03d}Z"
    web = f"https://{host}/{path_with_namespace}"
    item: dict[str, Any] = {
        "id": project_id,
        "description": description,
        "name": path.replace("-", " ").title(),
        "name_with_namespace": " / ".join(part.title() for part in path_with_namespace.split("/")),
        "path": path,
        "path_with_namespace": path_with_namespace,
        "created_at": "2024-01-02T03:04:05.678Z",
        "default_branch": default_branch,
        "tag_list": list(topics),
        "topics": list(topics),
        "ssh_url_to_repo": f"git@{host}:{path_with_namespace}.git",
        "http_url_to_repo": f"{web}.git",
        "web_url": web,
        "readme_url": f"{web}/-/blob/main/README.md",
        "forks_count": forks,
        "avatar_url": None,
        "star_count": stars,
        "last_activity_at": stamp,
        "namespace": {
            "id": 1000 + project_id,
            "name": namespace.rsplit("/", 1)[-1],
            "path": namespace.rsplit("/", 1)[-1],
            "kind": "group",
            "full_path": namespace,
            "parent_id": None,
            "web_url": f"https://{host}/groups/{namespace}",
        },
        "archived": archived,
        "empty_repo": empty_repo,
        "visibility": "public",
        "repository_access_level": repository_access_level,
        "open_issues_count": project_id % 9,
    }
    if forked_from is not None:
        item["forked_from_project"] = {"id": project_id + 10_000, "path_with_namespace": forked_from}
    if license_key is not None:
        item["license"] = {"key": license_key, "name": license_key.upper(), "nickname": None}
    if repository_size is not None:
        item["statistics"] = {"commit_count": 12, "storage_size": repository_size * 2,
                              "repository_size": repository_size, "lfs_objects_size": 0}  # fmt: skip
    return item


def sample_projects() -> list[dict[str, Any]]:
    """Twenty-five projects: nested groups, forks, licenses, archived, plus entries a crawl must skip."""
    projects = []
    for number in range(1, 26):
        group = ("gnome", "gitlab-org/security", "fdroid/apps/tools", "solo")[number % 4]
        projects.append(
            project(
                number * 3,  # ids have gaps, as real ones do
                f"{group}/project-{number}",
                stars=number * 2,
                forks=number // 3,
                forked_from="upstream/project" if number % 7 == 0 else None,
                license_key=("mit", "apache-2.0", "other", None)[number % 4],
                archived=number % 11 == 0,
                empty_repo=number == 13,
                repository_access_level="disabled" if number == 17 else "enabled",
                topics=("cli",) if number % 2 else (),
                description=f"Project {number}",
            )
        )
    return projects


@dataclass
class RecordedRequest:
    path: str
    params: dict[str, str]
    status: int
    at: float
    token: str | None
    headers: dict[str, str] = field(default_factory=dict)


class GitLabReplayServer(ReplayServer):
    """`ThreadingHTTPServer` on 127.0.0.1:<free port> serving `/api/v4/projects` for `projects`."""

    def __init__(
        self,
        projects: list[dict[str, Any]],
        *,
        clock: Callable[[], float] = time.time,
        limit: int = 2000,
        window_s: int = 60,
        valid_tokens: frozenset[str] | None = None,
    ):
        self.projects = sorted(projects, key=lambda item: item["id"])
        self.clock = clock
        self.limit = limit
        self.window_s = window_s
        self.valid_tokens = valid_tokens
        self.faults: dict[int, str] = {}
        self.requests: list[RecordedRequest] = []
        self._window: tuple[float, int] | None = None  # (start, used)
        self._lock = threading.Lock()
        super().__init__()

    def answer(self, raw_path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(raw_path)
        params = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        token = headers.get("private-token")
        with self._lock:
            number = len(self.requests) + 1
            status, out, body = self._answer_locked(parts.path, params, token, number)
            self.requests.append(RecordedRequest(parts.path, params, status, self.clock(), token, dict(out)))
        return status, out, body

    def _rate_headers(self, spend: bool) -> tuple[bool, dict[str, str]]:
        now = self.clock()
        start, used = self._window or (now, 0)
        if now >= start + self.window_s:
            start, used = now, 0
        allowed = used < self.limit
        if allowed and spend:
            used += 1
        self._window = (start, used)
        reset = math.ceil(start + self.window_s)
        return allowed, {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Observed": str(used),
            "RateLimit-Remaining": str(self.limit - used),
            "RateLimit-Reset": str(reset),
            "RateLimit-ResetTime": email.utils.formatdate(reset, usegmt=True),
        }

    def _answer_locked(
        self, path: str, params: dict[str, str], token: str | None, number: int
    ) -> tuple[int, dict[str, str], bytes]:
        if self.valid_tokens is not None and token not in self.valid_tokens:
            return _json(401, {"message": "401 Unauthorized"})
        fault = self.faults.get(number)
        if fault in {"500", "502"}:
            return int(fault), {"Content-Type": "text/html"}, b"<html><body>We're sorry</body></html>"
        if fault == "403":
            return _json(403, {"message": "403 Forbidden"})
        if fault == "429":
            _, limits = self._rate_headers(spend=False)
            return (
                429,
                {"Retry-After": str(RETRY_AFTER_S), "Content-Type": "text/plain", **limits},
                (b"Retry later\n"),
            )
        if path != "/api/v4/projects":
            return _json(404, {"message": "404 Not Found"})
        if params.get("pagination") == "keyset" and (params.get("order_by"), params.get("sort")) != (
            "id",
            "asc",
        ):
            return _json(400, {"error": "Keyset pagination is not supported for this order"})
        allowed, limits = self._rate_headers(spend=True)
        if not allowed:
            return _json(429, {"message": "Retry later"}, {"Retry-After": "60", **limits})
        per_page = min(int(params.get("per_page", "20")), 100)
        after = int(params.get("id_after", "0"))
        rest = [item for item in self.projects if item["id"] > after]
        window = rest[:per_page]
        statistics = params.get("statistics") == "true"
        items = [
            item if statistics else {k: v for k, v in item.items() if k != "statistics"} for item in window
        ]
        out = {"Content-Type": "application/json", **limits}
        if len(rest) > per_page:
            following = {**params, "id_after": str(window[-1]["id"])}
            out["Link"] = f'<{self.url}{path}?{urlencode(following)}>; rel="next"'
        return 200, out, json.dumps(items).encode()


def _json(
    status: int, payload: Any, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(payload).encode()


def crawlable(projects: list[dict[str, Any]], min_stars: int = 0) -> set[str]:
    """The names a complete crawl keeps: not empty, repository enabled, enough stars."""
    return {
        item["path_with_namespace"]
        for item in projects
        if not item["empty_repo"]
        and item["repository_access_level"] != "disabled"
        and item["star_count"] >= min_stars
    }
