"""Score one batch of cloned repositories into a spool, without Dagster.

Division of labour, chosen for throughput on few cores:
- the parent walks the HEAD trees (paths and object ids only, no content) and hands chunks of entries
  to `FILE_WORKERS` processes;
- each worker opens the repository itself, checks path rules and the blob size from the object header
  before inflating anything, reads the blob, and runs the pure `process_file` (filters, language,
  quality, secrets, digest, MinHash) — so file contents cross a process boundary once, on the way back;
- the parent claims digests and LSH buckets in the dedup ledger one round trip per chunk, builds the
  documents and writes the Parquet spool.

Results come back in task order (see `scoring_pool`): which copy of a duplicate survives is then the same
on every run, the first one in repository priority order. A worker that dies is replaced and its work
retried; only a file that kills its worker every time is lost, counted as `worker_crash`.

Every blob of every tree is accounted for exactly once: kept, or dropped with a reason, or an exact or a
near duplicate. `BatchCounts.unaccounted` must be 0; it is checked at the end of every run.

While scoring repository R in batch B, every digest R claims in the exact ledger (new or its own,
including files then dropped as near duplicates) is recorded in R's next claim generation for B, which
`stages.repo_updates` swaps in after the batch is indexed.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pygit2

from codelupe_dagster.backends import git_files
from codelupe_dagster.backends.dedup_ledger import DedupLedger, NearCandidate
from codelupe_dagster.backends.search.base import QUALITY_BUCKETS
from codelupe_dagster.backends.search.code_tokens import subwords_hint_key
from codelupe_dagster.backends.spool import ShardWriter
from codelupe_dagster.core.documents import CodeDocument
from codelupe_dagster.core.pii import PiiKind
from codelupe_dagster.core.redaction import redact_field
from codelupe_dagster.stages.dropped_sampling import DropSampler
from codelupe_dagster.stages.file_processing import (
    FILE_TIMEOUT_S,
    MISSING_OBJECT,
    Dropped,
    FileFailure,
    FileResult,
    ProcessedFile,
    ProcessingConfig,
    score_entries,
)
from codelupe_dagster.stages.handoff import ClonedBatch, ClonedRepo, load_cloned_batch, spool_path
from codelupe_dagster.stages.heap import frozen_heap
from codelupe_dagster.stages.scoring_pool import MAX_REBUILDS, WORKER_CRASH, ScoringPool
from codelupe_dagster.stages.stream_index import STREAMED_INFO, StreamIndexer

log = logging.getLogger(__name__)

PROCESSING_ERROR = "processing_error"
FORGOTTEN = "forgotten"  # a file of a forgotten repository or path (stages.forget)

TASK_FILES = 32  # files per worker task: small enough to keep both cores busy to the end
CLAIM_FILES = 512  # files per ledger round trip


# The `_SUCCESS` info key naming the PII kinds the batch was redacted with, so the index's sample check
# looks for the same kinds (a spool without it was written with the default kinds).
PII_KINDS_INFO = "pii_kinds"


def pii_kinds_info(kinds: frozenset[PiiKind]) -> list[str]:
    return sorted(kind.value for kind in kinds)


# --------------------------------------------------------------------------- counts


def quality_bucket(score: float) -> str:
    for label, low, high in QUALITY_BUCKETS:
        if (low is None or score >= low) and (high is None or score < high):
            return label
    raise AssertionError(f"no bucket for {score}")


@dataclass
class BatchCounts:
    """What a person wants to see about a scored batch; also the `_SUCCESS` marker's info."""

    seen: int = 0
    kept: int = 0
    kept_bytes: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    exact_duplicates: int = 0
    near_duplicates: int = 0
    secrets_redacted: Counter[str] = field(default_factory=Counter)
    pii_redacted: Counter[str] = field(default_factory=Counter)  # per kind: email, ip
    contaminated: Counter[str] = field(default_factory=Counter)  # kept files per evaluation set
    languages: Counter[str] = field(default_factory=Counter)
    quality_histogram: Counter[str] = field(default_factory=Counter)
    repos: int = 0
    failed_repos: dict[str, str] = field(default_factory=dict)
    commits: dict[str, str] = field(default_factory=dict)  # repo -> commit read, marked processed at index
    pool_rebuilds: int = 0
    unaccounted: int = 0  # seen files neither kept nor counted anywhere: a bug when not 0
    elapsed_s: float = 0.0

    def account(self, near_duplicates_kept: bool) -> int:
        """Files seen but neither kept nor dropped with a reason nor counted as duplicates (should be 0).
        Near duplicates are also counted as kept when the scorer keeps them."""
        near = 0 if near_duplicates_kept else self.near_duplicates
        return self.seen - (self.kept + sum(self.dropped.values()) + self.exact_duplicates + near)

    @property
    def files_per_s(self) -> float:
        return self.seen / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def count_kept(self, processed: ProcessedFile) -> None:
        self.kept += 1
        self.kept_bytes += processed.size_bytes
        self.languages[processed.language or "unknown"] += 1
        self.quality_histogram[quality_bucket(processed.quality_score)] += 1
        self.secrets_redacted.update(processed.secrets)
        self.pii_redacted.update(processed.pii)
        if processed.contaminated:
            self.contaminated.update(processed.contaminated.split(","))

    def to_dict(self) -> dict[str, Any]:
        return {
            "seen": self.seen,
            "kept": self.kept,
            "kept_bytes": self.kept_bytes,
            "dropped": dict(sorted(self.dropped.items())),
            "exact_duplicates": self.exact_duplicates,
            "near_duplicates": self.near_duplicates,
            "secrets_redacted": dict(sorted(self.secrets_redacted.items())),
            "pii_redacted": dict(sorted(self.pii_redacted.items())),
            "contaminated": dict(sorted(self.contaminated.items())),
            "languages": dict(self.languages.most_common()),
            "quality_histogram": {
                label: self.quality_histogram.get(label, 0) for label, _, _ in QUALITY_BUCKETS
            },
            "repos": self.repos,
            "failed_repos": self.failed_repos,
            "commits": self.commits,
            "pool_rebuilds": self.pool_rebuilds,
            "unaccounted": self.unaccounted,
            "elapsed_s": round(self.elapsed_s, 3),
            "files_per_s": round(self.files_per_s, 1),
        }


# --------------------------------------------------------------------------- parent side
# The worker side (reading blobs and scoring them) lives in `file_processing`, so the forkserver preloads
# only what workers need: this module's pyarrow and redis imports would double every pool's start-up.

_Origin = tuple[ClonedRepo, str]  # the repository a file was read from, and the commit read
_Pending = list[tuple[_Origin, ProcessedFile]]
_Task = tuple[int, str, list[git_files.TreeBlob]]  # (repo index, repo path, entries)


def claim_chunk(claim_files: int, task_files: int, claimed: int, remaining: int | None) -> int:
    """Files to claim (and hand to the index stream) at once, when `claimed` files were claimed so far
    and `remaining` are still to come from the workers (None: not known yet, the trees are still being
    walked).

    Full chunks in the middle of a batch (one ledger round trip and one index transaction per
    `claim_files`); smaller ones at both ends, growing from a quarter chunk and shrinking back to it: the
    stream thread starts indexing before a whole chunk has been scored, and what is claimed and indexed
    after the last result is at most a quarter chunk, not a whole one that the parent would then write
    alone on a machine the workers have left. Never below a quarter chunk (or a task's files): each chunk
    is a transaction and an FTS5 segment, and chunks of a task's files cost the stream thread about a
    tenth more CPU than they saved at the ends (issue 12).
    """
    floor = max(task_files, claim_files // 4)
    return min(claim_files, max(floor, claimed if remaining is None else min(claimed, remaining)))


class _Listing:
    """The batch's tasks as they are listed (the trees walked): `listed` so far, their `files`, and
    whether the listing is `complete`. Iterating it lists the next tasks."""

    def __init__(self, tasks: Iterator[_Task]):
        self._tasks = tasks
        self.listed: list[_Task] = []
        self.files = 0
        self.complete = False

    def __iter__(self) -> Iterator[_Task]:
        for task in self._tasks:
            self.listed.append(task)
            self.files += len(task[2])
            yield task
        self.complete = True


class BatchScorer:
    """Scores a `ClonedBatch` into a spool directory, claiming each kept file in `ledger` under the
    repository it was read from. The ledger is the only dedup state the scorer touches: another dedup
    store is another `DedupLedger`."""

    def __init__(
        self,
        ledger: DedupLedger,
        config: ProcessingConfig,
        workers: int,
        keep_near_duplicates: bool = False,
        task_files: int = TASK_FILES,
        claim_files: int = CLAIM_FILES,
        max_pool_rebuilds: int = MAX_REBUILDS,
        stream: StreamIndexer | None = None,
        samples: DropSampler | None = None,
        file_timeout_s: int = FILE_TIMEOUT_S,
    ):
        self.ledger = ledger
        # Dropped files are handed to it per reason (stages.dropped_sampling); None: only counted.
        self.samples = samples
        # Kept documents also go to the index as they are spooled (stages.stream_index); None: only spooled.
        self.stream = stream
        self.config = config
        self.workers = workers
        self.keep_near_duplicates = keep_near_duplicates
        self.task_files = task_files
        self.claim_files = claim_files
        self.max_pool_rebuilds = max_pool_rebuilds
        self.file_timeout_s = file_timeout_s  # a pool worker stuck longer on one file is ended (a crash)

    def run(self, batch: ClonedBatch, spool_dir: str | Path) -> BatchCounts:
        """Score every repo; the spool gets `_SUCCESS` only if the whole batch went through."""
        with frozen_heap():  # collections skip the process's long-lived heap (stages.heap)
            return self._run(batch, spool_dir)

    def _run(self, batch: ClonedBatch, spool_dir: str | Path) -> BatchCounts:
        started = time.perf_counter()
        counts = BatchCounts(repos=len(batch.repos))
        self._batch = batch
        self._commits: dict[int, str] = {}
        # Digests this run's repositories claimed (new or own): the in-batch exact dedup, and the owners
        # that are current files of their repository for the near-dup takeover rule.
        self._claimed: set[bytes] = set()
        pool = (
            ScoringPool(self.workers, self.config, self.max_pool_rebuilds, self.file_timeout_s)
            if self.workers > 0
            else None
        )
        if pool is not None:
            pool.prepare()  # the workers' server starts up while the ledger opens and the trees are walked
        self.ledger.begin_generation(batch.batch, [repo.repo for repo in batch.repos])
        # Listed lazily: the pool takes a task whenever it has room, so the first repositories are scored
        # while the parent still walks the others' trees.
        tasks = _Listing(self._tasks(batch, counts))
        finished = False
        if self.stream is not None:
            self.stream.start()
        try:
            with ShardWriter(spool_dir) as writer:
                self._score_into(writer, pool, tasks, counts)
                self._drop_forgotten_repos(counts)
                self._finish_counts(counts, pool, started)
                self.ledger.discard_generation(batch.batch, counts.failed_repos)
                info = {**counts.to_dict(), PII_KINDS_INFO: pii_kinds_info(self.config.pii_kinds)}
                # The batch's tail, while the stream thread writes its last chunks (SQLite, mostly without
                # the GIL) on a machine the workers have left: the last spool part is compressed (Arrow,
                # without the GIL) and the dropped-file samples are read and redacted.
                if self.stream is not None:
                    self.stream.hand_over()
                writer.flush()
                if self.samples is not None:
                    self.samples.samples(batch.batch)
                streamed = self.stream.finish() if self.stream is not None else None
                if streamed is not None:
                    info[STREAMED_INFO] = streamed.to_info()
                writer.commit(info)
            finished = True
        finally:
            if pool is not None:
                pool.close(cancel=not finished)
            if self.stream is not None and not finished:
                self.stream.abandon()
        return counts

    def _score_into(
        self, writer: ShardWriter, pool: ScoringPool | None, tasks: _Listing, counts: BatchCounts
    ) -> None:
        """Collect the workers' results in task order and claim and write them a chunk at a time."""
        pending: _Pending = []
        claimed = scored = 0
        for number, (repo_index, results) in enumerate(self._results(pool, tasks)):
            entries = tasks.listed[number][2]
            scored += len(entries)
            remaining = tasks.files - scored if tasks.complete else None  # results still to come
            origin = (self._batch.repos[repo_index], self._commits[repo_index])
            # One result per entry, in order: a dropped file's blob id, for its sample.
            blobs: list[str | None] = [entry.oid for entry in entries]
            if len(blobs) != len(results):
                blobs = [None] * len(results)
            for result, blob in zip(results, blobs, strict=True):
                if isinstance(result, ProcessedFile):
                    pending.append((origin, result))
                else:
                    self._count_skip(result, origin[0], counts)
                    self._sample(result, origin, blob)
            if len(pending) >= claim_chunk(self.claim_files, self.task_files, claimed, remaining):
                self._claim_and_write(pending, writer, counts)
                claimed += len(pending)
                pending = []
                if self.stream is not None:
                    self.stream.hand_over()
        self._claim_and_write(pending, writer, counts)

    def _finish_counts(self, counts: BatchCounts, pool: ScoringPool | None, started: float) -> None:
        """Failed repos are not marked processed; check that every file seen was accounted for."""
        for repo in counts.failed_repos:
            counts.commits.pop(repo, None)
        counts.pool_rebuilds = pool.rebuilds if pool is not None else 0
        counts.unaccounted = counts.account(self.keep_near_duplicates)
        if counts.unaccounted:
            log.error(
                "ACCOUNTING BUG in batch %s: %d files seen but neither kept, dropped nor deduplicated: %s",
                self._batch.batch,
                counts.unaccounted,
                counts.to_dict(),
            )
        counts.elapsed_s = time.perf_counter() - started

    def _shown(self, text: str) -> str:
        """`text` as it may leave the scorer in a log line or a record: a file path or an error message
        that quotes one carries the file name's tokens and addresses, redacted like the file's."""
        return redact_field(text, self.config.pii_kinds).text

    def _tasks(self, batch: ClonedBatch, counts: BatchCounts) -> Iterator[_Task]:
        for index, repo in enumerate(batch.repos):
            try:
                # The whole walk first: a tree missing halfway fails the repo before any file is counted.
                self._commits[index], entries = self._walk(repo)
                counts.commits[repo.repo] = self._commits[index]
            except (pygit2.GitError, KeyError, ValueError) as exc:
                # A broken repository fails alone, not its batch (DESIGN §9).
                reason = self._shown(f"{type(exc).__name__}: {exc}")
                log.warning("skipping repository %s: %s", repo.repo, reason)
                counts.failed_repos[repo.repo] = reason
                continue
            chunk: list[git_files.TreeBlob] = []
            for entry in entries:
                counts.seen += 1
                if isinstance(entry, git_files.SkippedEntry):
                    counts.dropped[entry.reason] += 1
                    self._sample(entry, (repo, self._commits[index]), None)
                    continue
                chunk.append(entry)
                if len(chunk) >= self.task_files:
                    yield index, repo.path, chunk
                    chunk = []
            if chunk:
                yield index, repo.path, chunk

    @staticmethod
    def _walk(repo: ClonedRepo) -> tuple[str, list[git_files.TreeBlob | git_files.SkippedEntry]]:
        """The commit read and its file entries. The commit is the one cloned_repos recorded, so the
        `commit` of every document matches the content read even if the clone has been fetched since."""
        repository = git_files.open_repository(repo.path)
        if repo.head:
            commit = git_files.read_object(repository, repo.head).peel(pygit2.Commit)
        else:
            commit = git_files.head_commit(repository)
        return str(commit.id), list(
            git_files.walk_tree(repository, git_files.commit_tree(repository, commit))
        )

    def _results(
        self, pool: ScoringPool | None, tasks: Iterable[_Task]
    ) -> Iterator[tuple[int, list[FileResult]]]:
        if pool is None:
            for repo_index, repo_path, entries in tasks:
                yield repo_index, score_entries(repo_path, entries, self.config)
            return
        yield from pool.results(tasks)

    def _count_skip(self, result: FileResult, repo: ClonedRepo, counts: BatchCounts) -> None:
        if isinstance(result, FileFailure):
            # The error text may quote the path (or a line of the file) too.
            path, error = self._shown(result.path), self._shown(result.error)
            log.warning("error processing %s in %s: %s", path, repo.repo, error)
            counts.dropped[PROCESSING_ERROR] += 1
            return
        counts.dropped[result.reason] += 1
        if isinstance(result, Dropped) and result.reason == MISSING_OBJECT:
            # A clone with holes: the repository fails (and is retried), its other files still count.
            path = self._shown(result.path)
            log.warning("repository %s is missing the object of %s", repo.repo, path)
            counts.failed_repos.setdefault(repo.repo, f"missing object for {path!r}")
        elif isinstance(result, Dropped) and result.reason == WORKER_CRASH:
            path = self._shown(result.path)
            log.error("dropped %s in %s: its scoring worker died on it twice", path, repo.repo)

    def _sample(self, result: FileResult, origin: _Origin, blob: str | None) -> None:
        """Hand a dropped file to the sampler, when there is one (it redacts what it keeps)."""
        if self.samples is None:
            return
        repo, commit = origin
        if isinstance(result, FileFailure):
            reason, detail = PROCESSING_ERROR, result.error
        elif isinstance(result, (Dropped, git_files.SkippedEntry)):
            reason, detail = result.reason, None
        else:
            return
        self.samples.add(reason, repo.repo, repo.path, commit, result.path, blob, detail)

    # ------------------------------------------------------------------ claims

    def _claim_and_write(self, pending: _Pending, writer: ShardWriter, counts: BatchCounts) -> None:
        """Claim a chunk in the ledger (exact, then within the run, then near) and write what survives."""
        pending = self._not_forgotten(pending, counts)
        if not pending:
            return
        claimed = self._claim_exact(pending)
        counts.exact_duplicates += len(pending) - len(claimed)
        # Who else carried a dropped copy: if its holder is forgotten, they are re-read (stages.forget).
        held = {id(item) for item in claimed}  # _claim_exact returns the very items it keeps
        carriers = [(item[1].digest, item[0][0].repo) for item in pending if id(item) not in held]
        unique = self._unique_in_run(claimed, counts)
        owners = self.ledger.claim_near(
            [NearCandidate(origin[0].repo, p.digest, p.band_keys) for origin, p in unique],
            batch_id=self._batch.batch,
            current=self._claimed,
        )
        for (origin, processed), owner in zip(unique, owners, strict=True):
            if owner is not None:
                carriers.append((bytes.fromhex(owner), origin[0].repo))
                counts.near_duplicates += 1
                if not self.keep_near_duplicates:
                    continue
            self._write(writer, origin, processed, owner, counts)
        self.ledger.record_carriers(carriers)

    def _drop_forgotten_repos(self, counts: BatchCounts) -> None:
        """A repository forgotten while the batch ran is neither marked processed nor given a generation
        (its files were dropped as they were claimed, see `_not_forgotten`)."""
        rules = self.ledger.forget_rules()
        if rules and self.samples is not None:  # no sample of a forgotten file, whatever it was dropped for
            self.samples.discard(rules.file_forgotten)
        gone = [repo for repo in counts.commits if rules.repo_forgotten(repo)]
        for repo in gone:
            counts.commits.pop(repo)
        if gone:
            self.ledger.discard_generation(self._batch.batch, gone)

    def _not_forgotten(self, pending: _Pending, counts: BatchCounts) -> _Pending:
        """Files of forgotten repositories or paths (`codelupe forget`, OPT_OUT_FILE) are dropped before
        they can claim anything; the rules are read per chunk, so a forget during a run takes hold."""
        rules = self.ledger.forget_rules()
        if not rules or not pending:
            return pending
        kept = [(o, p) for o, p in pending if not rules.file_forgotten(o[0].repo, p.path)]
        counts.dropped[FORGOTTEN] += len(pending) - len(kept)
        return kept

    def _claim_exact(self, items: _Pending) -> _Pending:
        """The items whose digest belongs to the repository they were read from (new or its own claim).

        The claimant is the repository, not the batch: a failed batch's repos come back in a *new* batch,
        and that retry must recognise the claims its first try made, or every file it had scored would be
        dropped as a duplicate of itself and never indexed (DESIGN §6: a retry never turns into data loss).
        One round trip for all the repositories of the chunk.
        """
        by_repo: dict[str, list[int]] = defaultdict(list)
        for position, ((repo, _commit), _processed) in enumerate(items):
            by_repo[repo.repo].append(position)
        groups = [(name, [items[i][1].digest for i in positions]) for name, positions in by_repo.items()]
        foreign: set[int] = set()
        for positions, statuses in zip(by_repo.values(), self.ledger.claim_exact(groups), strict=True):
            foreign.update(i for i, status in zip(positions, statuses, strict=True) if status.is_duplicate)
        return [item for position, item in enumerate(items) if position not in foreign]

    def _unique_in_run(self, claimed: _Pending, counts: BatchCounts) -> _Pending:
        """Drop second copies within this run: the ledger says "ours" for both. Only claimed copies count
        here, so a foreign copy seen first cannot hide the claimant's own copy. A second copy is always of
        the same repository as the first (another repository's claim would have been foreign), so its
        digest is already in that repository's next generation."""
        unique: _Pending = []
        for origin, processed in claimed:
            if processed.digest in self._claimed:
                counts.exact_duplicates += 1
            else:
                self._claimed.add(processed.digest)
                unique.append((origin, processed))
        return unique

    def _write(
        self,
        writer: ShardWriter,
        origin: _Origin,
        processed: ProcessedFile,
        near_dup_cluster: str | None,
        counts: BatchCounts,
    ) -> None:
        repo, commit = origin
        try:
            document = code_document(
                processed, repo, commit, self._batch.batch, near_dup_cluster=near_dup_cluster
            )
            writer.write(document)
        except Exception as exc:  # one document that cannot be stored is a counted skip, not a failed batch
            # processed.path is redacted already; the error text may quote the document's content.
            error = self._shown(f"{type(exc).__name__}: {exc}")
            log.warning("cannot write %s of %s: %s", processed.path, repo.repo, error)
            counts.dropped[PROCESSING_ERROR] += 1
            if self.samples is not None:
                self.samples.add(PROCESSING_ERROR, repo.repo, repo.path, commit, processed.path, None, error)
            return
        counts.count_kept(processed)
        if self.stream is not None:
            self.stream.add(document)


def score_batch(
    ledger: DedupLedger,
    data_dir: str | Path,
    batch_id: str,
    config: ProcessingConfig,
    workers: int,
    keep_near_duplicates: bool = False,
    stream: StreamIndexer | None = None,
    samples: DropSampler | None = None,
) -> tuple[BatchCounts, Path]:
    """Score the batch `cloned_repos` handed over under `data_dir` into its spool; the counts and the
    spool's path. FileNotFoundError when cloning has not completed. With `stream`, kept documents are
    indexed while the batch is scored (stages.stream_index); with `samples`, dropped files are sampled
    per reason (stages.dropped_sampling)."""
    batch = load_cloned_batch(data_dir, batch_id)
    spool = spool_path(data_dir, batch_id)
    scorer = BatchScorer(
        ledger,
        config,
        workers=workers,
        keep_near_duplicates=keep_near_duplicates,
        stream=stream,
        samples=samples,
    )
    return scorer.run(batch, spool), spool


def code_document(
    processed: ProcessedFile,
    repo: ClonedRepo,
    commit: str,
    batch_id: str,
    near_dup_cluster: str | None = None,
) -> dict[str, Any]:
    """The code index document (DESIGN §4) of a kept file, as the record the spool and the index take;
    `indexed_at` is set when it is indexed."""
    filename = os.path.basename(processed.path)
    stem, dot, extension = filename.rpartition(".")
    record = repo.record
    license_expression, license_source = document_license(processed.license_header, record)
    document = CodeDocument(
        id=processed.digest.hex(),
        content=processed.content,
        path=processed.path,
        filename=filename,
        extension=extension.lower() if dot and stem else None,
        language=processed.language,
        repo=repo.repo,
        repo_stars=int(record.get("stars") or 0),
        license=license_expression,
        license_source=license_source,
        commit=commit,
        quality_score=float(processed.quality_score),
        quality_signals=processed.quality_signals,
        size_bytes=processed.size_bytes,
        lines=processed.lines,
        near_dup_cluster=near_dup_cluster,
        contaminated=processed.contaminated,
        # The document's one count (its schema predates PII redaction): secrets and PII together.
        secrets_redacted=sum(processed.secrets.values()) + sum(processed.pii.values()),
        batch=batch_id,
    ).to_record()
    if processed.content_subwords is not None:
        # The worker's sub-words of `content`: an indexing hint the spool carries, not a field.
        document[subwords_hint_key("content")] = processed.content_subwords
    return document


def document_license(header: str | None, record: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """A file's licence and where it came from: its own SPDX header, else its repository's licence (as
    the forge's API or the repository's licence files said: `license_source` in the record)."""
    if header:
        return header, "file-header"
    licence = record.get("license")
    if not licence:
        return None, None
    return str(licence), str(record.get("license_source") or "api")
