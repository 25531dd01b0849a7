"""Forget repositories, owners or files everywhere, and let surviving copies take their place (DESIGN §11).

`forget(patterns, stores)` is what `codelupe forget` and OPT_OUT_FILE (read by crawled_repos and
queued_repos each run) both call. Patterns are parsed by `backends.forget_registry`: a name (a repository,
an owner or group, `owner/*`) forgets whole repositories; a glob over `owner/name/path` forgets files.

Forgetting a repository R is the generation swap of `stages.repo_updates` applied to everything R holds,
ordered the same way so a crash at any step is finished by running the same forget again:

1. the registry entry, first: from then on the queue refuses R, the crawl skips it and the scorer drops
   its files (even in a batch already running);
2. the queue: pending, metadata, in flight and leases, back-off, dead letters, processed head, and R's
   name in batch records; the repo index document;
3. the content ids R held are recorded under the pattern (for `codelupe status` and checkpoints);
4. R's documents leave the code index; R's rows leave finished spools (rewritten atomically) and the
   handoff of batches not yet scored; R's clones under DATA_DIR are deleted; registered exports are
   rewritten without R's rows (`stages.dataset_export.forget_in_exports`);
5. the repositories recorded as carrying R's digests (exact or near duplicates dropped earlier) are
   queued for a full re-read — before the claims go, so a crash cannot lose who they were;
6. R's exact claims are released (compare-and-delete) and its generations dropped; the LSH buckets its
   documents own are freed just before they leave the index (recomputed from their content; one that
   cannot be recomputed is stale anyway: its owner has no claimant, so the next document to land there
   takes it over, see `backends.redis_dedup`). Carrier lists drop R's name.

A pattern naming many repositories runs steps 2-4 (index part) for each, then rewrites the files under
DATA_DIR once for all of them, then steps 5-6 for each. Each step is idempotent: a second run finds
nothing left to remove and re-queues the same carriers (harmless: `requeue_full` adds them only if not
queued). A glob does steps 3-6 for the matching files only.
"""

from __future__ import annotations

import logging
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codelupe_dagster.backends.dedup_ledger import DIGEST_BYTES, DedupLedger
from codelupe_dagster.backends.document_spool import SpoolIncomplete
from codelupe_dagster.backends.dropped_samples import DroppedSamples
from codelupe_dagster.backends.forget_registry import ForgetPattern, RedisForgetRegistry, parse_pattern
from codelupe_dagster.backends.repo_queue import RepoQueue
from codelupe_dagster.backends.search.base import Filters, SearchIndex
from codelupe_dagster.backends.spool import PART_PREFIX, remove_rows
from codelupe_dagster.core.minhash import DEFAULT_LSH, LSHParams, band_keys, signature
from codelupe_dagster.stages.dataset_export import forget_in_exports
from codelupe_dagster.stages.handoff import ClonedBatch, write_cloned_manifest

log = logging.getLogger(__name__)

DELETE_CHUNK = 1000
GET_CHUNK = 200  # documents read back (with content) per round trip for their LSH keys
PROGRESS_EVERY = 10_000  # documents between progress lines


@dataclass
class ForgetStores:
    """Everywhere a repository's data lives."""

    registry: RedisForgetRegistry
    ledger: DedupLedger
    queue: RepoQueue
    code_index: SearchIndex
    repo_index: SearchIndex | None
    data_dir: Path
    progress: Callable[[str], None] = field(default=lambda line: None)
    dropped: DroppedSamples | None = None  # samples of dropped files (`codelupe dropped`) name repos too


@dataclass
class ForgetReport:
    """What one pattern removed, per store, and the carriers queued to take its place."""

    pattern: str
    kind: str
    repos: list[str] = field(default_factory=list)
    files: int = 0  # documents matched in the code index
    removed: Counter[str] = field(default_factory=Counter)
    requeued: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False
    unfinished: bool = False  # a spool was being written: run again once its batch is done

    def to_dict(self) -> dict[str, Any]:
        return {
            "pattern": self.pattern,
            "kind": self.kind,
            "repos": self.repos,
            "files": self.files,
            "removed": dict(sorted(self.removed.items())),
            "requeued": self.requeued,
            "notes": self.notes,
            "dry_run": self.dry_run,
        }


def read_opt_out_file(path: str | Path | None) -> list[str]:
    """The patterns of an opt-out file: one per line, `#` starts a comment, blank lines ignored. A
    missing file is no patterns (an operator may create it later)."""
    if not path:
        return []
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line]


def apply_opt_out_file(path: str | Path | None, stores: ForgetStores) -> list[ForgetReport]:
    """Forget the opt-out file's patterns the registry does not hold yet, then finish every registry
    entry left unfinished (a crash midway, or a spool that was being written), whichever way it came. A
    line removed from the file is not un-forgotten: `codelupe forget --undo` does that."""
    entries = stores.registry.entries()
    new = []
    for text in read_opt_out_file(path):
        pattern = parse_pattern(text)
        if pattern.text not in entries:
            new.append(pattern.text)
    reports = forget(new, stores, reason="opt-out file", source="opt-out") if new else []
    unfinished = [text for text, entry in entries.items() if entry.get("state") != "done"]
    if unfinished:
        reports += forget(unfinished, stores, reason="unfinished", source="cli")
    return reports


def forget(
    patterns: Iterable[str],
    stores: ForgetStores,
    *,
    reason: str = "",
    source: str = "cli",
    dry_run: bool = False,
) -> list[ForgetReport]:
    """Forget each pattern (see the module docstring); ValueError before anything is done when one
    does not parse."""
    parsed = [parse_pattern(text) for text in patterns]
    known = _known_repos(stores) if parsed else set()  # one scan of the stores for all the patterns
    reports = [_forget_one(pattern, stores, known, reason, source, dry_run) for pattern in parsed]
    if not dry_run and parsed:
        rules = stores.ledger.forget_rules()
        changed = stores.ledger.forget_carrier(rules.repo_forgotten)
        if reports:
            reports[-1].removed["carrier_entries"] += changed
    return reports


def _forget_one(
    pattern: ForgetPattern, stores: ForgetStores, known: set[str], reason: str, source: str, dry_run: bool
) -> ForgetReport:
    report = ForgetReport(pattern.text, pattern.kind, dry_run=dry_run)
    if not dry_run:
        stores.registry.register(pattern, reason=reason, source=source)
    targets = _files_by_repo(pattern, stores, known) if pattern.kind == "glob" else None
    repos = sorted(r for r in known if pattern.matches_repo(r)) if targets is None else []
    if not dry_run and targets is None:
        repos = stores.registry.note_repos(pattern, repos)  # with those an interrupted run found
    report.repos = repos if targets is None else sorted(targets)
    if dry_run:
        report.files = (
            sum(stores.code_index.count(Filters(repos=(r,))) for r in repos)
            if targets is None
            else sum(len(files) for files in targets.values())
        )
        return report
    # Three phases, each over every repository the pattern names, so the spools and exports are
    # rewritten once per pattern (not once per repository) and the claims still go last.
    held: dict[str, list[bytes]] = {}
    if repos:
        for store, count in stores.queue.forget_repos(repos).items():
            report.removed[f"queue_{store}"] += count
    for repo in repos:
        held[repo] = _remove_from_index(repo, pattern, stores, report)
    for repo, files in sorted((targets or {}).items()):
        held[repo] = _remove_files_from_index(files, pattern, stores, report)
    if targets is None and repos:
        gone = {repo.lower() for repo in repos}
        _forget_in_files(stores, report, lambda r, _p: r.lower() in gone, repos)
    elif targets:
        _forget_in_files(stores, report, lambda r, p: r in targets and pattern.matches_file(r, p), [])
    if stores.dropped is not None:
        report.removed["dropped_samples"] += stores.dropped.forget(
            pattern.matches_file if targets is not None else lambda repo, _path: pattern.matches_repo(repo)
        )
    _requeue_carriers(stores, sorted({d for digests in held.values() for d in digests}), report)
    for repo, digests in held.items():
        report.removed["claims_released"] += stores.ledger.release(repo, digests)
        stores.ledger.forget_digests(repo, [] if targets is None else digests)
    stores.registry.finish(pattern, report.removed, complete=not report.unfinished)
    log.info("forgot %s: %s", pattern.text, dict(report.removed))
    return report


def _known_repos(stores: ForgetStores) -> set[str]:
    found = stores.queue.known_repos() | stores.ledger.claimant_repos()
    if stores.repo_index is not None:
        found.update(str(doc["id"]) for doc in stores.repo_index.iter_documents(fields=["id"]))
    return found


def _files_by_repo(
    pattern: ForgetPattern, stores: ForgetStores, known: set[str]
) -> dict[str, list[tuple[str, str]]]:
    """repo -> [(id, path)] of the indexed documents a glob matches."""
    found: dict[str, list[tuple[str, str]]] = {}
    for repo in sorted(r for r in known if pattern.may_hold_files_of(r)):
        for doc in stores.code_index.iter_documents(Filters(repos=(repo,)), fields=["id", "path"]):
            if pattern.matches_file(repo, str(doc.get("path") or "")):
                found.setdefault(repo, []).append((str(doc["id"]), str(doc["path"])))
    return found


def _remove_from_index(
    repo: str, pattern: ForgetPattern, stores: ForgetStores, report: ForgetReport
) -> list[bytes]:
    """Steps 2-4 for one repository (repo index, ids recorded, LSH buckets, code index; the queue was
    cleared for all of the pattern's repositories at once); the digests it holds."""
    if stores.repo_index is not None:
        report.removed["repo_index"] += stores.repo_index.delete_ids([repo])
        stores.repo_index.refresh()
    ids = [str(d["id"]) for d in stores.code_index.iter_documents(Filters(repos=(repo,)), fields=["id"])]
    report.files += len(ids)
    digests = sorted(set(stores.ledger.repo_digests(repo)) | {_raw(i) for i in ids if _is_digest(i)})
    stores.registry.record_ids(pattern, digests)
    report.removed["lsh_buckets"] += _release_buckets(stores, ids)
    report.removed["index"] += _delete(stores, ids)
    return digests


def _remove_files_from_index(
    files: Sequence[tuple[str, str]], pattern: ForgetPattern, stores: ForgetStores, report: ForgetReport
) -> list[bytes]:
    """The same for the files a glob matched in one repository."""
    ids = [doc_id for doc_id, _ in files]
    report.files += len(ids)
    digests = sorted(_raw(i) for i in ids if _is_digest(i))
    stores.registry.record_ids(pattern, digests)
    report.removed["lsh_buckets"] += _release_buckets(stores, ids)
    report.removed["index"] += _delete(stores, ids)
    return digests


def _release_buckets(stores: ForgetStores, ids: Sequence[str], lsh: LSHParams = DEFAULT_LSH) -> int:
    """Free the LSH buckets the documents own, from their indexed content (the text scoring hashed,
    with the pipeline's LSH parameters). Before the index deletion: a re-run after a crash recomputes the
    same keys; after it, nothing is left to read and the buckets are already free. A bucket that another
    document owns by now is left alone (compare-and-delete)."""
    released = 0
    for start in range(0, len(ids), GET_CHUNK):
        found = stores.code_index.get(list(ids[start : start + GET_CHUNK]))
        docs = [
            (_raw(doc_id), band_keys(signature(str(doc.get("content") or ""), lsh), lsh))
            for doc_id, doc in found.items()
            if _is_digest(doc_id)
        ]
        released += stores.ledger.release_near(docs)
    return released


def _delete(stores: ForgetStores, ids: Sequence[str]) -> int:
    deleted = 0
    for start in range(0, len(ids), DELETE_CHUNK):
        deleted += stores.code_index.delete_ids(ids[start : start + DELETE_CHUNK])
        if len(ids) > PROGRESS_EVERY and (start // DELETE_CHUNK) % 10 == 9:
            stores.progress(f"  deleted {start + DELETE_CHUNK:,} of {len(ids):,} documents")
    if deleted:
        stores.code_index.refresh()
    return deleted


def _forget_in_files(
    stores: ForgetStores, report: ForgetReport, drop: Callable[[str, str], bool], repos: list[str]
) -> None:
    """Spools, batch handoffs, clones and exports under DATA_DIR."""
    for spool in sorted((stores.data_dir / "spool").glob("*")):
        if not spool.is_dir():
            continue
        try:
            report.removed["spool_rows"] += remove_rows(spool, drop, repos_gone=repos)
        except SpoolIncomplete:
            if not any(child.name.lstrip(".").startswith(PART_PREFIX) for child in spool.iterdir()):
                continue  # an aborted run's empty directory: nothing to remove
            # Scoring is writing it: the scorer drops forgotten files itself from the next chunk on, and
            # re-running forget after the batch removes what it wrote before.
            report.notes.append(f"spool {spool.name} is being written: run forget again once it is done")
            report.unfinished = True
    if repos:
        for manifest in sorted((stores.data_dir / "batches").glob("*/cloned.json")):
            _forget_in_handoff(manifest, set(repos), stores.data_dir, report)
    removed = forget_in_exports(
        stores.data_dir, lambda doc: drop(str(doc.get("repo") or ""), str(doc.get("path") or ""))
    )
    report.removed["export_rows"] += sum(removed.values())


def _forget_in_handoff(manifest: Path, repos: set[str], data_dir: Path, report: ForgetReport) -> None:
    batch = ClonedBatch.load(manifest)
    gone = [r for r in batch.repos if r.repo in repos]
    if not gone and not any(f.repo in repos for f in batch.failed):
        return
    root = data_dir.resolve()
    for cloned in gone:
        path = Path(cloned.path).resolve()
        if path.is_relative_to(root) and path != root and path.exists():  # only clones we made
            shutil.rmtree(path, ignore_errors=True)
            report.removed["clones"] += 1
    write_cloned_manifest(
        data_dir,
        batch.batch,
        [r for r in batch.repos if r.repo not in repos],
        [f for f in batch.failed if f.repo not in repos],
    )
    report.removed["handoff_entries"] += len(gone)


def _requeue_carriers(stores: ForgetStores, digests: Sequence[bytes], report: ForgetReport) -> None:
    rules = stores.ledger.forget_rules()
    carriers = {
        name
        for names in stores.ledger.carriers(digests).values()
        for name in names
        if not rules.repo_forgotten(name)
    }
    if not carriers:
        return
    priorities = dict.fromkeys(sorted(carriers), 0.0)
    if stores.repo_index is not None:
        for name, doc in stores.repo_index.get(sorted(carriers)).items():
            priorities[name] = float(doc.get("priority") or 0.0)
    queued = stores.queue.requeue_full(priorities)
    report.requeued = sorted(set(report.requeued) | set(queued))
    report.removed["carriers_requeued"] = len(report.requeued)


def _is_digest(doc_id: str) -> bool:
    return len(doc_id) == DIGEST_BYTES * 2 and all(c in "0123456789abcdef" for c in doc_id)


def _raw(doc_id: str) -> bytes:
    return bytes.fromhex(doc_id)
