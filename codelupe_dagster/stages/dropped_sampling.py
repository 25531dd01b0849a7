"""Which files a batch dropped, per reason: a bounded sample built while scoring, without Dagster.

`BatchScorer` hands every dropped file it counts to a `DropSampler` (repository, commit, path, blob id,
reason, an error text). The sampler holds the latest `per_reason` of each reason: nothing is read then,
so the scoring hot path pays one deque append per dropped file. When the batch is done, `samples()` reads
the held files' blobs from the clones (a few hundred at most) for their size and an excerpt, and redacts
every text that leaves: path, detail and excerpt go through the same secret and PII redaction as kept
documents, so a sample never stores what the index would not.

Files whose bytes are no text (binary, undecodable), too large to read, not readable (a missing object)
or that killed a scoring worker get no excerpt. Files of forgotten repositories or paths are never
sampled: the scorer does not hand over those it drops as `forgotten`, and lets go of any other held file
that the forget rules name (`discard`) before the samples are built.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import pygit2

from codelupe_dagster.backends import git_files
from codelupe_dagster.backends.dropped_samples import SAMPLE_SIZE, DroppedSample
from codelupe_dagster.core import filters
from codelupe_dagster.core.pii import DEFAULT_KINDS, PiiKind
from codelupe_dagster.core.redaction import redact_field, redact_text

log = logging.getLogger(__name__)

EXCERPT_CHARS = 240  # what a sample shows of the file
REDACT_HEAD_BYTES = 16_384  # read and redacted before the excerpt is cut: a secret cannot straddle the cut
DETAIL_CHARS = 300
# Reasons whose bytes are not shown: no text, not read, or reading them is what went wrong.
NO_EXCERPT = frozenset(
    {
        filters.BINARY,
        filters.UNDECODABLE,
        filters.TOO_LARGE,
        git_files.SUBMODULE,
        git_files.SYMLINK,
        "missing_object",
        "worker_crash",
    }
)


@dataclass(frozen=True, slots=True)
class DropCandidate:
    """A dropped file as the scorer saw it (nothing read, nothing redacted yet)."""

    reason: str
    repo: str
    repo_path: str
    commit: str | None
    path: str
    blob: str | None
    detail: str | None


class DropSampler:
    """The latest `per_reason` dropped files of each reason in one batch (see the module docstring)."""

    def __init__(
        self,
        per_reason: int = SAMPLE_SIZE,
        pii_kinds: frozenset[PiiKind] = DEFAULT_KINDS,
        max_file_bytes: int = filters.DEFAULT_MAX_FILE_BYTES,
    ):
        self.per_reason = per_reason
        self.pii_kinds = pii_kinds
        self.max_file_bytes = max_file_bytes
        self._held: dict[str, deque[DropCandidate]] = {}
        # The samples built, by batch: the scorer builds them while its index stream finishes, the asset
        # records them after. Anything added or discarded since makes them stale.
        self._built: tuple[str, list[DroppedSample]] | None = None

    def add(
        self,
        reason: str,
        repo: str,
        repo_path: str,
        commit: str | None,
        path: str,
        blob: str | None = None,
        detail: str | None = None,
    ) -> None:
        held = self._held.get(reason)
        if held is None:
            held = self._held[reason] = deque(maxlen=self.per_reason)
        held.append(DropCandidate(reason, repo, repo_path, commit, path, blob, detail))
        self._built = None

    def discard(self, forgotten: Callable[[str, str], bool]) -> int:
        """Let go of held files for which `forgotten(repo, path)` is true (a repository or a path forgotten
        while the batch ran, or a path glob that also names a file dropped for another reason); how many."""
        dropped = 0
        for reason, held in self._held.items():
            kept = [candidate for candidate in held if not forgotten(candidate.repo, candidate.path)]
            dropped += len(held) - len(kept)
            self._held[reason] = deque(kept, maxlen=self.per_reason)
        if dropped:
            self._built = None
        return dropped

    def held(self) -> dict[str, int]:
        return {reason: len(held) for reason, held in sorted(self._held.items())}

    def samples(self, batch_id: str) -> list[DroppedSample]:
        """The held files as redacted samples, oldest first per reason; blobs are read here, once (a second
        call with nothing added or discarded since returns the same samples)."""
        if self._built is not None and self._built[0] == batch_id:
            return list(self._built[1])
        repos: dict[str, pygit2.Repository | None] = {}
        samples: list[DroppedSample] = []
        for _, held in sorted(self._held.items()):
            for candidate in held:
                samples.append(self._sample(batch_id, candidate, repos))
        self._built = (batch_id, samples)
        return list(samples)

    def _sample(
        self, batch_id: str, candidate: DropCandidate, repos: dict[str, pygit2.Repository | None]
    ) -> DroppedSample:
        size, excerpt = None, None
        if candidate.blob is not None:
            size, excerpt = self._read(candidate, repos)
        return DroppedSample(
            reason=candidate.reason,
            batch=batch_id,
            repo=candidate.repo,
            path=redact_field(candidate.path, self.pii_kinds).text,
            commit=candidate.commit,
            blob=candidate.blob,
            size=size,
            detail=self._redacted(candidate.detail, DETAIL_CHARS),
            excerpt=excerpt,
        )

    def _read(
        self, candidate: DropCandidate, repos: dict[str, pygit2.Repository | None]
    ) -> tuple[int | None, str | None]:
        if candidate.repo_path not in repos:
            try:
                repos[candidate.repo_path] = git_files.open_repository(candidate.repo_path)
            except pygit2.GitError:
                repos[candidate.repo_path] = None
        repository = repos[candidate.repo_path]
        if repository is None or candidate.blob is None:
            return None, None
        try:
            size = git_files.blob_size(repository, candidate.blob)  # the header: read even when cut short
        except (KeyError, ValueError, pygit2.GitError):
            return None, None
        if candidate.reason in NO_EXCERPT or size > self.max_file_bytes:
            return size, None
        try:
            git_files.check_loose_object(repository, candidate.blob)  # no alarm ends a hang here
            data = repository.odb.read(pygit2.Oid(hex=candidate.blob))[1][:REDACT_HEAD_BYTES]
        except (KeyError, ValueError, pygit2.GitError):  # git_files.TruncatedObject included
            return size, None
        return size, self._redacted(data.decode("utf-8", "replace"), EXCERPT_CHARS)

    def _redacted(self, text: str | None, limit: int) -> str | None:
        """`text` redacted whole, then cut to `limit` characters (never cut first: a cut secret is missed)."""
        if not text:
            return None
        try:
            return redact_text(text, self.pii_kinds).text[:limit]
        except Exception as exc:  # a sample is a convenience: one that cannot be redacted is not kept
            log.warning("a dropped file's text could not be redacted (%s): not kept", type(exc).__name__)
            return None
