"""The forget registry: what `codelupe forget` and OPT_OUT_FILE removed, and the rules that keep it out.

A forget pattern is one of:
- a name without glob characters, `owner/name` or `owner` (also `owner/*`, and a GitLab group path): a
  *prefix*. It forgets the repository of that name and every repository under it (`owner/...`), so an
  owner's opt-out covers repositories crawled later too.
- anything else with `*`, `?` or `[`: a *glob* over `owner/name/path/in/repo` (fnmatch: `*` also crosses
  `/`). It forgets matching files only; the rest of the repository stays.

Names are matched lower-cased, since forges treat them case-insensitively; globs are matched lower-cased
too (an opt-out of `Secrets.txt` also covers `secrets.txt`: forgetting more is the safe side).

Stored in Redis (`keys.forget_*`): one registry entry per pattern (when, why, from where, how far it got
and what it removed), the prefixes and globs as two small sets that the queue, the crawl and the scorer
consult, and per pattern the content ids it removed, for naming the checkpoints trained on them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, Literal

from codelupe_dagster.core.keys import RedisKeys

if TYPE_CHECKING:  # redis-py is only named: readers pass `resp_reader.RespReader`
    import redis

GLOB_CHARS = frozenset("*?[")
PatternKind = Literal["prefix", "glob"]
SOURCES = ("cli", "opt-out")


def _lower(value: bytes | str) -> str:
    return (value.decode() if isinstance(value, bytes) else value).lower()


@dataclass(frozen=True)
class ForgetPattern:
    """One parsed pattern: `text` as the operator wrote it (the registry key), `key` what is matched."""

    text: str
    kind: PatternKind
    key: str

    def matches_repo(self, repo: str) -> bool:
        """Whether the whole repository is forgotten by this pattern (never true for a glob)."""
        name = repo.lower()
        return self.kind == "prefix" and (name == self.key or name.startswith(self.key + "/"))

    def matches_file(self, repo: str, path: str) -> bool:
        if self.kind == "prefix":
            return self.matches_repo(repo)
        return fnmatchcase(f"{repo}/{path}".lower(), self.key)

    def may_hold_files_of(self, repo: str) -> bool:
        """Whether some file of `repo` could match: its name agrees with the literal start of the pattern."""
        if self.kind == "prefix":
            return self.matches_repo(repo)
        literal = self.key[: min((self.key.index(c) for c in GLOB_CHARS if c in self.key), default=0)]
        name = repo.lower() + "/"
        return name.startswith(literal) or literal.startswith(name)


def parse_pattern(text: str) -> ForgetPattern:
    """`owner/name`, `owner`, `owner/*` (prefixes) or a path glob; ValueError for an empty pattern or a
    glob that does not name a repository part (a `/`)."""
    cleaned = text.strip().strip("/")
    if not cleaned or cleaned in {"*", "**"}:
        raise ValueError(f"not a forget pattern: {text!r}")
    if cleaned.endswith("/*") and not GLOB_CHARS & set(cleaned[:-2]):
        return ForgetPattern(cleaned, "prefix", cleaned[:-2].lower())
    if GLOB_CHARS & set(cleaned):
        if "/" not in cleaned:
            raise ValueError(f"a glob must match owner/name/path, got {text!r}")
        return ForgetPattern(cleaned, "glob", cleaned.lower())
    return ForgetPattern(cleaned, "prefix", cleaned.lower())


@dataclass(frozen=True)
class ForgetRules:
    """What must stay out: forgotten names (and everything under them) and forgotten path globs."""

    prefixes: frozenset[str] = frozenset()
    globs: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.prefixes or self.globs)

    def repo_forgotten(self, repo: str) -> bool:
        if not self.prefixes:
            return False
        segments = repo.lower().split("/")
        return any("/".join(segments[:depth]) in self.prefixes for depth in range(1, len(segments) + 1))

    def file_forgotten(self, repo: str, path: str) -> bool:
        if self.repo_forgotten(repo):
            return True
        if not self.globs:
            return False
        name = f"{repo}/{path}".lower()
        return any(fnmatchcase(name, glob) for glob in self.globs)


class RedisForgetRegistry:
    """The registry on Redis or Valkey (see the module docstring)."""

    def __init__(self, client: redis.Redis, keys: RedisKeys):
        self._client = client
        self._keys = keys

    def register(self, pattern: ForgetPattern, *, reason: str, source: str, now: float | None = None) -> bool:
        """Record the pattern (state `started`) and start refusing what it names, in one transaction:
        crawl, queue and scoring stop at once, before anything is removed. True when it is new; a known
        pattern keeps its first date and reason."""
        if source not in SOURCES:
            raise ValueError(f"unknown forget source {source!r}")
        keys = self._keys
        old = self.entry(pattern.text)
        entry = old or {"pattern": pattern.text, "kind": pattern.kind, "at": now or time.time()}
        entry.setdefault("reason", reason)
        entry.setdefault("source", source)
        entry["state"] = "started"
        pipe = self._client.pipeline(transaction=True)
        pipe.hset(keys.forget_patterns, pattern.text, json.dumps(entry, sort_keys=True))
        pipe.sadd(keys.forget_prefixes if pattern.kind == "prefix" else keys.forget_globs, pattern.key)
        pipe.execute()
        return old is None

    def note_repos(self, pattern: ForgetPattern, repos: Iterable[str]) -> list[str]:
        """Add the repositories the pattern resolved to (kept, so a re-run still finds a repository that
        is gone from every store it was found in); all it names so far."""
        entry = self.entry(pattern.text) or {"pattern": pattern.text, "kind": pattern.kind}
        entry["repos"] = sorted(set(entry.get("repos") or []) | set(repos))
        self._client.hset(self._keys.forget_patterns, pattern.text, json.dumps(entry, sort_keys=True))
        return list(entry["repos"])

    def finish(self, pattern: ForgetPattern, removed: Mapping[str, int], complete: bool = True) -> None:
        """Record what was removed; `complete=False` (a spool was being written) leaves the state
        `incomplete`, so the next crawl or queue run forgets the pattern again."""
        entry = self.entry(pattern.text) or {"pattern": pattern.text, "kind": pattern.kind}
        entry.update(state="done" if complete else "incomplete", finished=time.time(), removed=dict(removed))
        self._client.hset(self._keys.forget_patterns, pattern.text, json.dumps(entry, sort_keys=True))

    def entry(self, text: str) -> dict[str, Any] | None:
        raw = self._client.hget(self._keys.forget_patterns, text)
        return json.loads(raw) if raw else None

    def entries(self) -> dict[str, dict[str, Any]]:
        raw: dict[bytes, bytes] = self._client.hgetall(self._keys.forget_patterns)  # type: ignore[assignment]
        return {name.decode(): json.loads(value) for name, value in sorted(raw.items())}

    def record_ids(self, pattern: ForgetPattern, ids: Iterable[bytes]) -> None:
        """Remember the content ids the pattern removed (16 raw bytes each)."""
        members = list(ids)
        for start in range(0, len(members), 10_000):
            self._client.sadd(self._keys.forget_ids(pattern.text), *members[start : start + 10_000])

    def forgotten_ids(self, patterns: Sequence[str] | None = None) -> dict[bytes, str]:
        """Every removed content id with the (first) pattern that removed it."""
        found: dict[bytes, str] = {}
        for name in patterns if patterns is not None else list(self.entries()):
            for member in self._client.sscan_iter(self._keys.forget_ids(name), count=10_000):
                found.setdefault(bytes(member), name)
        return found

    def rules(self) -> ForgetRules:
        pipe = self._client.pipeline(transaction=False)
        pipe.smembers(self._keys.forget_prefixes)
        pipe.smembers(self._keys.forget_globs)
        prefixes, globs = pipe.execute()
        return ForgetRules(frozenset(_lower(p) for p in prefixes), tuple(sorted(_lower(g) for g in globs)))

    def undo(self, pattern: ForgetPattern) -> bool:
        """Drop a registry entry: what it names may be crawled and indexed again. Nothing removed comes
        back by itself; a later crawl brings it in like any new repository."""
        # `acme` and `acme/*` share one rule: it stays while another entry still needs it.
        others = [parse_pattern(text) for text in self.entries() if text != pattern.text]
        shared = any(other.kind == pattern.kind and other.key == pattern.key for other in others)
        pipe = self._client.pipeline(transaction=True)
        pipe.hdel(self._keys.forget_patterns, pattern.text)
        if not shared:
            rules = self._keys.forget_prefixes if pattern.kind == "prefix" else self._keys.forget_globs
            pipe.srem(rules, pattern.key)
        pipe.delete(self._keys.forget_ids(pattern.text))
        removed, *_ = pipe.execute()
        return bool(removed)
