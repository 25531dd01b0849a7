"""The repository-source interface: where `crawled_repos` gets the repositories it indexes.

A source yields its repositories in batches of `RepoRecord`s and counts what it skipped, by reason. The
crawl asset drives every source the same way (GitHub search, GitLab's project list, a local directory,
a list of URLs), so adding a forge means one new module and one registration line in `__init__.py`.

Delivery contract: a batch is handed over before the source records any progress that depends on it
(an ETag, a watermark, a cursor); that progress is saved when the consumer asks for the next batch. So
a consumer writes each batch before iterating on, and a crash between batches loses nothing: the next
run repeats the unsaved part. Records are keyed by `full_name`, which is the repository's stable id.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from codelupe_dagster.backends.sources.state import DictStore, KeyValueStore
from codelupe_dagster.core.models import RepoRecord

Sleep = Callable[[float], None]
Now = Callable[[], float]
# Source-specific counters for the run's metadata (api_calls, pages, ...); dicts are shown as JSON.
Details = dict[str, Any]
# How many skips keep their detail text (for logs); every skip is counted regardless.
KEPT_SKIP_DETAILS = 50


@dataclass(frozen=True)
class SkippedEntry:
    """One entry a source could not turn into a record, with a reason code to count it by."""

    entry: str
    reason: str
    detail: str = ""


@dataclass
class SourceStats:
    """What a source did: repositories handed over, skips by reason, and whether it stopped early."""

    repos_seen: int = 0
    skipped_by_reason: Counter[str] = field(default_factory=Counter)
    skipped_examples: list[SkippedEntry] = field(default_factory=list)
    stopped: str | None = None  # a reason code when the source stopped early (rate_limited, ...)
    resume_at: float | None = None  # epoch seconds when a stopped source can go on
    details: Details = field(default_factory=dict)

    @property
    def skipped(self) -> int:
        return sum(self.skipped_by_reason.values())

    def skip(self, entry: str, reason: str, detail: str = "") -> None:
        self.skipped_by_reason[reason] += 1
        if len(self.skipped_examples) < KEPT_SKIP_DETAILS:
            self.skipped_examples.append(SkippedEntry(entry, reason, detail))


class RepoSource(Protocol):
    """A place repositories come from."""

    @property
    def kind(self) -> str:
        """The registry kind (`github`, `gitlab`, `local`, `urls`); also each record's `source`."""
        ...

    @property
    def location(self) -> str:
        """Where it reads from (an API URL, a path), for metadata and logs; never carries a secret."""
        ...

    def batches(self) -> Iterator[Sequence[RepoRecord]]:
        """The repositories, in batches; see the delivery contract in the module docstring."""
        ...

    def stats(self) -> SourceStats:
        """Counts so far; complete once `batches()` is exhausted."""
        ...


def collect(source: RepoSource) -> list[RepoRecord]:
    """Every record of a source, for small sources and tests (a crawl writes batch by batch instead)."""
    return [record for batch in source.batches() for record in batch]


@dataclass(frozen=True)
class SourceRequest:
    """What a source factory gets: a target (a path, or None for a forge), the forge's options from
    its resource and the run config, persistent state, a log and the clock.

    `state(name)` returns the named key-value store the source may keep between runs (a Redis hash in
    production, memory in tests). `options` is the source's own settings; each source parses it into
    a typed settings object and rejects names it does not know.
    """

    target: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    state: Callable[[str], KeyValueStore] = field(default=lambda _name: DictStore())
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("codelupe_dagster.sources"))
    sleep: Sleep = time.sleep
    now: Now = time.time
    full_refresh: bool = False


class UnknownOption(ValueError):
    """An option a source does not have: a typo in run config should fail, not be ignored."""


def check_options(options: Mapping[str, Any], known: set[str], kind: str) -> None:
    unknown = sorted(set(options) - known)
    if unknown:
        raise UnknownOption(f"{kind} source has no option(s) {', '.join(unknown)}")
