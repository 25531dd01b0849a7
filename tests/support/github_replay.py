"""A local stand-in for the GitHub search API: a real HTTP server answering from a synthetic population.

GitHub is unreachable from tests, so this server reproduces the parts of its behaviour the crawler relies
on, from GitHub's REST documentation: `q` qualifiers (language, stars and pushed ranges), `sort=stars`,
`per_page`/`page`, `total_count`, the 1,000-result cap (422 past it), `Link` headers with absolute URLs,
`X-RateLimit-*` headers counting down per window (30/min with a token, 10/min without), ETags with 304
answers that do not spend quota, and a script of faults keyed by request number.

Time comes from an injectable clock shared with the client under test, so a rate-limit reset "a minute
ahead" passes as soon as the client's fake sleep advances the clock.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.support.replay_http import ReplayServer

RESULT_CAP = 1000
DOCS = "https://docs.github.com/rest/search/search#search-repositories"
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID."
)

# The fault kinds a script may name; each replaces the normal answer to one request.
FAULTS = {
    "secondary_retry_after",  # 403 + Retry-After: 30
    "secondary",  # 403 secondary-limit message, no Retry-After (client must wait >= 60s)
    "429",  # 429 + Retry-After: 5
    "primary",  # quota exhausted now (another client shares the token): 403, Remaining 0
    "502",
    "503",
    "incomplete",  # 200 with incomplete_results: true and the last item missing
    "garbled",  # 200 whose body is a proxy's HTML page, not JSON
}


class FakeClock:
    """Epoch seconds that only move when someone sleeps; records every sleep."""

    def __init__(self, start: float):
        self._now = float(start)
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self._now += seconds


@dataclass(frozen=True)
class SyntheticRepo:
    id: int
    owner: str
    name: str
    language: str
    stars: int
    forks: int
    pushed_at: datetime
    created_at: datetime
    license_spdx: str | None
    archived: bool = False
    fork: bool = False
    topics: tuple[str, ...] = ()
    description: str | None = None
    size_kb: int = 0
    default_branch: str = "main"

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def item(self) -> dict[str, Any]:
        """The repository as the search API lists it (a representative subset of its ~80 fields)."""
        html = f"https://github.com/{self.full_name}"
        api = f"https://api.github.com/repos/{self.full_name}"
        license_info = None
        if self.license_spdx is not None:
            license_info = {
                "key": self.license_spdx.lower(),
                "name": "Other" if self.license_spdx == "NOASSERTION" else f"{self.license_spdx} License",
                "spdx_id": self.license_spdx,
                "url": None if self.license_spdx == "NOASSERTION" else f"https://api.github.com/licenses/{self.license_spdx.lower()}",
                "node_id": "MDc6TGljZW5zZTEz",
            }  # fmt: skip
        stamp = _github_time
        return {
            "id": self.id,
            "node_id": f"R_kgDO{self.id:08d}",
            "name": self.name,
            "full_name": self.full_name,
            "private": False,
            "owner": {"login": self.owner, "id": 1000 + self.id % 97, "type": "User",
                      "html_url": f"https://github.com/{self.owner}"},
            "html_url": html,
            "description": self.description,
            "fork": self.fork,
            "url": api,
            "created_at": stamp(self.created_at),
            "updated_at": stamp(self.pushed_at),
            "pushed_at": stamp(self.pushed_at),
            "git_url": f"git://github.com/{self.full_name}.git",
            "ssh_url": f"git@github.com:{self.full_name}.git",
            "clone_url": f"{html}.git",
            "homepage": None,
            "size": self.size_kb,
            "stargazers_count": self.stars,
            "watchers_count": self.stars,
            "language": self.language,
            "has_issues": True,
            "forks_count": self.forks,
            "archived": self.archived,
            "disabled": False,
            "open_issues_count": self.id % 13,
            "license": license_info,
            "topics": list(self.topics),
            "visibility": "public",
            "forks": self.forks,
            "open_issues": self.id % 13,
            "watchers": self.stars,
            "default_branch": self.default_branch,
            "score": 1.0,
        }  # fmt: skip


def _github_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


LANGUAGE_SHARE = (("Python", 2100), ("Go", 300), ("JavaScript", 100))
LICENSES = ("MIT", "Apache-2.0", "BSD-3-Clause", "GPL-3.0", "NOASSERTION", None)
POPULATION_END = datetime(2026, 6, 30, 23, 0, tzinfo=UTC)


def synthetic_population(
    seed: int = 7, shares: tuple[tuple[str, int], ...] = LANGUAGE_SHARE
) -> list[SyntheticRepo]:
    """A deterministic population shaped like GitHub: most repositories sit at the star floor.

    2,500 repositories by default; Python alone has more than 1,000 at exactly 10 stars after mid-2025,
    so a crawl has to split both the star range and, for that single star value, the date range.
    A fresh list each call (tests mutate theirs); the frozen repositories themselves are built once.
    """
    return list(_population(seed, shares))


@functools.cache
def _population(seed: int, shares: tuple[tuple[str, int], ...]) -> tuple[SyntheticRepo, ...]:
    rng = random.Random(seed)
    repos: list[SyntheticRepo] = []
    span_days = 730
    for language, count in shares:
        for _ in range(count):
            repo_id = len(repos) + 1
            stars = 10 if rng.random() < 0.7 else 10 + int(rng.paretovariate(1.1) * 4)
            pushed = POPULATION_END - timedelta(days=rng.randrange(span_days), seconds=rng.randrange(86_400))
            repos.append(
                SyntheticRepo(
                    id=repo_id,
                    owner=f"dev{repo_id % 331}",
                    name=f"{language.lower()}-project-{repo_id}",
                    language=language,
                    stars=stars,
                    forks=stars // 7 + rng.randrange(3),
                    pushed_at=pushed,
                    created_at=pushed - timedelta(days=rng.randrange(30, 2000)),
                    license_spdx=rng.choice(LICENSES),
                    archived=rng.random() < 0.03,
                    fork=rng.random() < 0.05,
                    topics=tuple(rng.sample(("cli", "web", "ml", "api", "tools", "data"), rng.randrange(3))),
                    description=f"A {language} project number {repo_id}",
                    size_kb=rng.randrange(20, 50_000),
                )
            )
    return tuple(repos)


# ---------------------------------------------------------------- query parsing


class QueryError(ValueError):
    pass


def _parse_range(raw: str, parse: Callable[[str], Any]) -> tuple[Any, Any, bool, bool]:
    """`N`, `A..B`, `A..*`, `*..B`, `>=N`, `>N`, `<=N`, `<N` → (low, high, low_inclusive, high_inclusive)."""
    if ".." in raw:
        low, high = raw.split("..", 1)
        return (None if low == "*" else parse(low), None if high == "*" else parse(high), True, True)
    for prefix, result in (
        (">=", (True, True)),
        ("<=", (True, True)),
        (">", (False, True)),
        ("<", (True, False)),
    ):
        if raw.startswith(prefix):
            value = parse(raw[len(prefix) :])
            if prefix.startswith(">"):
                return value, None, result[0], True
            return None, value, True, result[1]
    value = parse(raw)
    return value, value, True, True


def _in_range(value: Any, bounds: tuple[Any, Any, bool, bool]) -> bool:
    low, high, low_inclusive, high_inclusive = bounds
    if low is not None and (value < low or (value == low and not low_inclusive)):
        return False
    return not (high is not None and (value > high or (value == high and not high_inclusive)))


def _parse_day(raw: str) -> date:
    try:
        return date.fromisoformat(raw[:10])
    except ValueError as exc:
        raise QueryError(f"bad date {raw!r}") from exc


def _parse_int(raw: str) -> int:
    if not raw.isdigit():
        raise QueryError(f"bad number {raw!r}")
    return int(raw)


def matcher(q: str) -> Callable[[SyntheticRepo], bool]:
    """The predicate of a search query; raises QueryError for qualifiers GitHub would reject."""
    tests: list[Callable[[SyntheticRepo], bool]] = []
    for token in q.split():
        key, sep, value = token.partition(":")
        if not sep:
            word = token.lower()
            tests.append(lambda r, w=word: w in r.name or w in (r.description or "").lower())
            continue
        value = value.strip('"')
        if key == "language":
            tests.append(lambda r, v=value.lower(): r.language.lower() == v)
        elif key == "stars":
            bounds = _parse_range(value, _parse_int)
            tests.append(lambda r, b=bounds: _in_range(r.stars, b))
        elif key == "pushed":
            bounds = _parse_range(value, _parse_day)
            tests.append(lambda r, b=bounds: _in_range(r.pushed_at.date(), b))
        else:
            raise QueryError(f"unsupported qualifier {key!r}")
    return lambda repo: all(test(repo) for test in tests)


# ---------------------------------------------------------------- the server


@dataclass
class RecordedRequest:
    q: str
    page: int
    per_page: int
    status: int
    at: float
    if_none_match: str | None
    authorized: bool
    headers: dict[str, str] = field(default_factory=dict)


class GitHubReplayServer(ReplayServer):
    """`ThreadingHTTPServer` on 127.0.0.1:<free port>, serving `/search/repositories` for `repos`."""

    def __init__(
        self,
        repos: list[SyntheticRepo],
        *,
        clock: Callable[[], float] = time.time,
        token_limit: int = 30,
        anonymous_limit: int = 10,
        window_s: int = 60,
        cap_links: bool = True,
        valid_tokens: frozenset[str] | None = None,
    ):
        self.repos = list(repos)
        self.clock = clock
        self.token_limit = token_limit
        self.anonymous_limit = anonymous_limit
        self.window_s = window_s
        # GitHub's Link header stops at the page holding result 1,000; False keeps offering `next` past it,
        # so the client's handling of the 422 can be exercised.
        self.cap_links = cap_links
        self.valid_tokens = valid_tokens
        self.faults: dict[int, str] = {}
        self.requests: list[RecordedRequest] = []
        self._quota: dict[bool, tuple[float, int]] = {}  # authorized? -> (window start, used)
        # pages of one query are asked for one after another: match and render each repository once
        self._matches: dict[str, list[SyntheticRepo]] = {}
        self._items: dict[int, tuple[SyntheticRepo, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        super().__init__()

    # -- population changes between crawls

    def push(self, full_name: str, when: datetime, stars: int | None = None) -> None:
        """A new push to a repository (and optionally a new star count)."""
        with self._lock:
            for index, repo in enumerate(self.repos):
                if repo.full_name == full_name:
                    self._matches.clear()
                    self.repos[index] = replace(
                        repo, pushed_at=when, stars=repo.stars if stars is None else stars
                    )
                    return
        raise KeyError(full_name)

    def add(self, repo: SyntheticRepo) -> None:
        with self._lock:
            self._matches.clear()
            self.repos.append(repo)

    def queries(self) -> list[str]:
        return [request.q for request in self.requests]

    # -- rate limiting

    def _spend(self, authorized: bool, spend: bool) -> tuple[bool, dict[str, str]]:
        """(allowed, rate-limit headers); a window opens at its first request and lasts `window_s`."""
        limit = self.token_limit if authorized else self.anonymous_limit
        now = self.clock()
        start, used = self._quota.get(authorized, (now, 0))
        if now >= start + self.window_s:
            start, used = now, 0
        allowed = used < limit
        if allowed and spend:
            used += 1
        self._quota[authorized] = (start, used)
        reset = math.ceil(start + self.window_s)
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(limit - used),
            "X-RateLimit-Reset": str(reset),
            "X-RateLimit-Used": str(used),
            "X-RateLimit-Resource": "search",
        }
        return allowed, headers

    def _exhaust(self, authorized: bool) -> None:
        limit = self.token_limit if authorized else self.anonymous_limit
        now = self.clock()
        start, _ = self._quota.get(authorized, (now, 0))
        if now >= start + self.window_s:
            start = now
        self._quota[authorized] = (start, limit)

    # -- answering

    def answer(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(path)
        params = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        q = params.get("q", "")
        page = int(params.get("page", "1") or 1)
        per_page = min(int(params.get("per_page", "30") or 30), 100)
        auth = headers.get("authorization")
        authorized = auth is not None
        with self._lock:
            number = len(self.requests) + 1
            status, out_headers, body = self._answer_locked(
                parts.path, q, page, per_page, params, auth, headers, number
            )
            self.requests.append(
                RecordedRequest(
                    q, page, per_page, status, self.clock(), headers.get("if-none-match"), authorized,
                    dict(out_headers),
                )
            )  # fmt: skip
        return status, out_headers, body

    def _answer_locked(
        self, route: str, q: str, page: int, per_page: int, params: dict[str, str], auth: str | None,
        headers: dict[str, str], number: int,
    ) -> tuple[int, dict[str, str], bytes]:  # fmt: skip
        authorized = auth is not None
        if self.valid_tokens is not None and auth is not None:
            token = auth.split(" ", 1)[-1]
            if token not in self.valid_tokens:
                return _json(401, {"message": "Bad credentials", "documentation_url": DOCS})
        if route != "/search/repositories":
            return _json(404, {"message": "Not Found", "documentation_url": DOCS})
        fault = self.faults.get(number)
        if fault == "primary":
            self._exhaust(authorized)
        if fault == "garbled":
            return 200, {"Content-Type": "text/html"}, b"<html><body>upstream hiccup</body></html>"
        if fault in {"502", "503"}:
            return int(fault), {"Content-Type": "text/html"}, b"<html><body>Server Error</body></html>"
        if fault == "secondary_retry_after":
            return _json(
                403, {"message": SECONDARY_MESSAGE, "documentation_url": DOCS}, {"Retry-After": "30"}
            )
        if fault == "secondary":
            return _json(403, {"message": SECONDARY_MESSAGE, "documentation_url": DOCS})
        if fault == "429":
            return _json(429, {"message": SECONDARY_MESSAGE, "documentation_url": DOCS}, {"Retry-After": "5"})

        if not q:
            return _json(422, {"message": "Validation Failed", "errors": [{"field": "q", "code": "missing"}]})
        try:
            matches = self._search(q)
        except QueryError as exc:
            return _json(422, {"message": "Validation Failed", "errors": [{"message": str(exc)}]})
        if (page - 1) * per_page >= RESULT_CAP:
            _, limit_headers = self._spend(authorized, spend=True)
            return _json(422, {"message": "Only the first 1000 search results are available",
                               "documentation_url": DOCS}, limit_headers)  # fmt: skip
        window = matches[(page - 1) * per_page : min(page * per_page, RESULT_CAP)]
        incomplete = fault == "incomplete"
        if incomplete and window:
            window = window[:-1]
        payload = {
            "total_count": len(matches),
            "incomplete_results": incomplete,
            "items": [self._item(repo) for repo in window],
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        etag = f'W/"{hashlib.sha256(body).hexdigest()[:40]}"'
        if headers.get("if-none-match") == etag:
            # GitHub: a 304 to a conditional request does not count against the primary limit.
            _, limit_headers = self._spend(authorized, spend=False)
            return 304, {"ETag": etag, **limit_headers}, b""
        allowed, limit_headers = self._spend(authorized, spend=True)
        if not allowed:
            message = (
                "API rate limit exceeded for user ID 1."
                if authorized
                else "API rate limit exceeded for 127.0.0.1."
            )
            return _json(403, {"message": message, "documentation_url": DOCS}, limit_headers)
        out = {"Content-Type": "application/json; charset=utf-8", "ETag": etag, **limit_headers}
        link = self._link_header(params, page, per_page, len(matches))
        if link:
            out["Link"] = link
        return 200, out, body

    def _search(self, q: str) -> list[SyntheticRepo]:
        if q not in self._matches:
            predicate = matcher(q)
            self._matches[q] = sorted((r for r in self.repos if predicate(r)), key=lambda r: (-r.stars, r.id))
        return self._matches[q]

    def _item(self, repo: SyntheticRepo) -> dict[str, Any]:
        cached = self._items.get(id(repo))
        if cached is None or cached[0] is not repo:
            cached = (repo, repo.item())
            self._items[id(repo)] = cached
        return cached[1]

    def _link_header(self, params: dict[str, str], page: int, per_page: int, total: int) -> str:
        reachable = min(total, RESULT_CAP) if self.cap_links else total
        last = max(math.ceil(reachable / per_page), 1)
        links = []

        def url(number: int) -> str:
            return f"{self.url}/search/repositories?{urlencode({**params, 'page': number})}"

        if page > 1:
            links.append(f'<{url(page - 1)}>; rel="prev"')
        if page < last:
            links.append(f'<{url(page + 1)}>; rel="next"')
            links.append(f'<{url(last)}>; rel="last"')
        if page > 1:
            links.append(f'<{url(1)}>; rel="first"')
        return ", ".join(links)


def _json(
    status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    return (
        status,
        {"Content-Type": "application/json; charset=utf-8", **(headers or {})},
        json.dumps(payload).encode(),
    )


def expected_names(
    repos: Iterable[SyntheticRepo], languages: Iterable[str], min_stars: int, pushed_since: date | None
) -> set[str]:
    """What a complete crawl of (languages, min_stars, pushed_since) must find."""
    wanted = {language.lower() for language in languages}
    return {
        repo.full_name
        for repo in repos
        if repo.language.lower() in wanted
        and repo.stars >= min_stars
        and (pushed_since is None or repo.pushed_at.date() >= pushed_since)
    }
