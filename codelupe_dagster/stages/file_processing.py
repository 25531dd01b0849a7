"""The per-file hot path: bytes of one file in, a scored and redacted document or a drop reason out.

Pure and picklable (frozen dataclasses of plain values), so the Dagster layer can fan files out
to worker processes and count outcomes itself. Nothing here logs or raises: an unexpected error
becomes `Dropped(path, "error:<ExceptionType>")`, so one bad file never stops a batch and is
still counted.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field

import pygit2

from codelupe_dagster.backends import eval_sets, git_files
from codelupe_dagster.backends.search.code_tokens import camel_subwords
from codelupe_dagster.core import filters
from codelupe_dagster.core.dedup import digest_normalized, normalize_content
from codelupe_dagster.core.language import LANGUAGES, detect_language
from codelupe_dagster.core.license_detection import license_header
from codelupe_dagster.core.minhash import LSHParams, band_keys, signature
from codelupe_dagster.core.pii import DEFAULT_KINDS, PiiKind
from codelupe_dagster.core.quality import SCORERS
from codelupe_dagster.core.redaction import merge_counts, redact_field, redact_text

# Enough of the text for shebangs and the `.h` C/C++ decision.
LANGUAGE_HEAD_CHARS = 4096


@dataclass(frozen=True)
class ProcessingConfig:
    scorer: str = "v2"  # a key of quality.SCORERS
    max_file_bytes: int = filters.DEFAULT_MAX_FILE_BYTES
    lsh: LSHParams = field(default_factory=LSHParams)
    min_quality: float | None = None  # below it a file is dropped as "low_quality"
    pii_kinds: frozenset[PiiKind] = DEFAULT_KINDS  # personal data redacted besides secrets (PII_REDACT)
    # Evaluation sets, canonical (`eval_sets.resolve_spec`); '' marks nothing (DECONTAMINATE_SETS).
    decontaminate_sets: str = ""

    def __post_init__(self) -> None:
        if self.scorer not in SCORERS:
            raise ValueError(f"unknown scorer {self.scorer!r}; choose one of {sorted(SCORERS)}")


@dataclass(frozen=True)
class ProcessedFile:
    """A file that survived the filters, ready for dedup claims and indexing.

    `content` is the redacted, normalized text (see `dedup.normalize_content`); `digest` is its
    16-byte xxh3-128, whose hex is the document id. `band_keys` is empty for files too short for
    near-dedup (fewer tokens than the shingle size). `path` is redacted too (a token or an address
    in a file name leaves the scorer like one in the file); `secrets` and `pii` count what was
    replaced in content and path together, per kind.
    """

    path: str
    language: str
    content: str
    digest: bytes
    quality_score: float
    quality_signals: dict
    size_bytes: int
    lines: int
    band_keys: tuple[bytes, ...]
    secrets: dict[str, int]
    pii: dict[str, int] = field(default_factory=dict)
    # The file's own `SPDX-License-Identifier:` expression, which overrides its repository's licence.
    license_header: str | None = None
    # Evaluation sets the content overlaps, sorted and comma-separated (DECONTAMINATE_SETS); None: clean.
    contaminated: str | None = None
    # `code_tokens.camel_subwords(content)`, computed here in the worker: the search index's sub-word
    # hint, so the indexing process does not tokenize the content again. None: not computed.
    content_subwords: str | None = None

    @property
    def doc_id(self) -> str:
        return self.digest.hex()


@dataclass(frozen=True)
class Dropped:
    path: str
    reason: str  # a filters reason code, or "error:<ExceptionType>"


def _process(path: str, data: bytes, config: ProcessingConfig, path_checked: bool) -> ProcessedFile | Dropped:
    if not path_checked:
        reason = filters.check_path(path, len(data), config.max_file_bytes)
        if reason is not None:
            return Dropped(path, reason)
    if filters.is_binary(data):
        return Dropped(path, filters.BINARY)
    text = filters.decode_text(data)
    if text is None:
        return Dropped(path, filters.UNDECODABLE)
    language = detect_language(path, text[:LANGUAGE_HEAD_CHARS])
    if language is None or language not in LANGUAGES:
        return Dropped(path, filters.UNKNOWN_LANGUAGE)
    reason, stats = filters.check_content_stats(path, language, text)
    if reason is not None:
        return Dropped(path, reason)

    # Language detection and the path filters above read the path as written; what leaves is redacted.
    redacted = redact_text(text, config.pii_kinds)
    redacted_path = redact_field(path, config.pii_kinds)
    content = normalize_content(redacted.text)
    # The line statistics of the file as read serve the quality signals too (one pass fewer);
    # normalization and redaction change them by a trailing space or a placeholder at most.
    quality = SCORERS[config.scorer](content, language, stats=stats)
    if config.min_quality is not None and quality.score < config.min_quality:
        return Dropped(path, filters.LOW_QUALITY)
    return ProcessedFile(
        path=redacted_path.text,
        language=language,
        content=content,
        digest=digest_normalized(content),
        quality_score=quality.score,
        quality_signals=quality.signals,
        size_bytes=len(data),
        lines=content.count("\n"),
        band_keys=tuple(band_keys(signature(content, config.lsh), config.lsh)),
        secrets=merge_counts(redacted.secrets, redacted_path.secrets),
        pii=merge_counts(redacted.pii, redacted_path.pii),
        license_header=license_header(text),  # the file's own SPDX tag, read before redaction
        contaminated=contamination(content, config.decontaminate_sets),
        content_subwords=camel_subwords(content),
    )


def contamination(content: str, sets: str) -> str | None:
    """The evaluation sets the (redacted, normalised) content overlaps, comma-separated; None: clean.
    The index is built once per process (a pool worker builds it in its initialiser)."""
    index = eval_sets.index_for(sets) if sets else None
    return None if index is None else index.contaminated(content)


def process_file(
    path: str, data: bytes, config: ProcessingConfig, path_checked: bool = False
) -> ProcessedFile | Dropped:
    """Filter, redact, digest, score and sign one file (order: cheapest rejection first).
    `path_checked`: the caller has applied `filters.check_path` to this path and size already."""
    try:
        return _process(path, data, config, path_checked)
    except Exception as error:  # one bad file must not fail its batch; the caller counts it
        return Dropped(path, f"error:{type(error).__name__}")


# --------------------------------------------------------------------------- worker processes
# The scoring pool's side of `score_batch`, kept here so that a forkserver preloading this module
# imports only the per-file core and pygit2 (not pyarrow, redis or Dagster): pool start-up is then
# about half as long.


@dataclass(frozen=True, slots=True)
class FileFailure:
    """An unexpected error on one file: counted and logged, never fatal to the batch."""

    path: str
    error: str


FileResult = ProcessedFile | Dropped | git_files.SkippedEntry | FileFailure

# Reason of a blob whose object is missing from the repository's object database: the clone is broken,
# so the caller fails the repository (re-cloned on its retry) instead of counting a bad file.
MISSING_OBJECT = "missing_object"

# TEST-ONLY hook. No real input is known to kill a scoring worker, yet the pool's recovery from a worker
# that dies on a file (a segfault in a native library, the OOM killer) must be tested end to end: when this
# variable is set in the parent process, a pool worker exits abruptly (status 137, as after SIGKILL) on
# every file whose path contains its value. It is read by the parent when the pool is built and handed to
# the workers; the in-process path (FILE_WORKERS=0) ignores it. Never set it in a deployment.
TEST_CRASH_ENV = "CODELUPE_TEST_CRASH_ON_PATH"

# A file that takes longer than this in a pool worker ends the worker (SIGALRM, whose default action is to
# terminate the process). A file stuck inside native code, where no Python exception can reach it, becomes a
# worker crash, which the pool recovers from (`scoring_pool`: the file is found and dropped as worker_crash),
# instead of a batch that never ends. Seen: libgit2 spins for ever reading a truncated loose object. The
# slowest real file takes well under a second (max_file_bytes bounds what is read).
FILE_TIMEOUT_S = 60

_worker_config: ProcessingConfig | None = None
_worker_crash_marker: str | None = None
_worker_file_timeout_s = 0  # 0: no alarm (the in-process path, FILE_WORKERS=0, never arms one)
_worker_repos: dict[str, pygit2.Repository] = {}
_MAX_OPEN_REPOS = 8


def crash_hook_path() -> str | None:
    """The TEST-ONLY crash hook's path substring, when set (see `TEST_CRASH_ENV`)."""
    return os.environ.get(TEST_CRASH_ENV) or None


def init_worker(
    config: ProcessingConfig, crash_marker: str | None = None, file_timeout_s: int = FILE_TIMEOUT_S
) -> None:
    global _worker_config, _worker_crash_marker, _worker_file_timeout_s
    # The parent owns Ctrl-C: it terminates the pool; workers must not die mid-pickle with tracebacks.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # ... and stops them with SIGTERM, which a worker must never inherit ignored. Dagster points SIGTERM at
    # SIGINT's handler around every run (dagster._utils.interrupts), so in a process started with SIGINT
    # ignored (a background job of a shell, `nohup ... &`) SIGTERM ends up ignored too, and an idle worker
    # would then outlive `Pool.terminate()`.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGALRM, signal.SIG_DFL)  # FILE_TIMEOUT_S: the alarm ends this worker
    _worker_config = config
    _worker_crash_marker = crash_marker
    _worker_file_timeout_s = file_timeout_s


def _repository(path: str) -> pygit2.Repository:
    repo = _worker_repos.get(path)
    if repo is None:
        if len(_worker_repos) >= _MAX_OPEN_REPOS:
            _worker_repos.pop(next(iter(_worker_repos)))
        repo = _worker_repos[path] = git_files.open_repository(path)
    return repo


def score_entries(
    repo_path: str, entries: Sequence[git_files.TreeBlob], config: ProcessingConfig
) -> list[FileResult]:
    """Read and process a chunk of one repository's blobs; one result per entry, in order."""
    repo = _repository(repo_path)
    results: list[FileResult] = []
    try:
        for entry in entries:
            if _worker_crash_marker is not None and _worker_crash_marker in entry.path:
                os._exit(137)  # TEST-ONLY: see TEST_CRASH_ENV
            if _worker_file_timeout_s:
                signal.alarm(_worker_file_timeout_s)  # each file gets its own FILE_TIMEOUT_S
            try:
                results.append(_score_entry(repo, entry, config))
            except KeyError:
                # pygit2's NotFoundError is a KeyError: the blob is missing from the object database.
                results.append(Dropped(entry.path, MISSING_OBJECT))
            except Exception as exc:  # one bad blob must not fail the batch; counted as processing_error
                results.append(FileFailure(entry.path, f"{type(exc).__name__}: {exc}"))
    finally:
        if _worker_file_timeout_s:
            signal.alarm(0)
    return results


def _score_entry(repo: pygit2.Repository, entry: git_files.TreeBlob, config: ProcessingConfig) -> FileResult:
    size = git_files.blob_size(repo, entry.oid)
    reason = filters.check_path(entry.path, size, config.max_file_bytes)
    if reason is not None:
        # Dropped from path and header alone: the blob is never inflated.
        return Dropped(entry.path, reason)
    data = git_files.read_blob(repo, entry, config.max_file_bytes, size=size)
    if isinstance(data, git_files.SkippedEntry):
        return data
    return process_file(entry.path, data, config, path_checked=True)


def score_task(task: tuple[int, str, list[git_files.TreeBlob]]) -> tuple[int, list[FileResult]]:
    repo_index, repo_path, entries = task
    assert _worker_config is not None, "worker not initialised"
    return repo_index, score_entries(repo_path, entries, _worker_config)
