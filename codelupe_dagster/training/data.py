"""Training data: stream eligible documents from the code index, hold out whole repositories, tokenize.

The held-out split is decided by a hash of the repository name, so it is stable across runs (a
resumed run never trains on what an earlier run evaluated on) and no repository is in both splits
(files of one repository share idioms and licence headers; splitting files would leak).

No torch here: the tokenizer is anything with the Hugging Face `__call__`/`eos_token_id` surface.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import numpy as np

from codelupe_dagster.backends.search.base import Filters
from codelupe_dagster.core.corpus_policy import ConsumerPolicy

DOCUMENT_FIELDS = (
    "id",
    "content",
    "repo",
    "language",
    "indexed_at",
    "license",
    "license_source",
    "contaminated",
)


class DocumentSource(Protocol):
    """The part of `SearchIndex` the trainer needs (both backends provide it)."""

    def iter_documents(
        self,
        filters: Filters | None = None,
        fields: Sequence[str] | None = None,
        newest_first: bool = False,
        batch_size: int = 500,
        limit: int | None = None,
    ) -> Iterator[dict]: ...

    def max_value(self, field: str, filters: Filters | None = None) -> Any: ...


class NoEligibleSamples(RuntimeError):
    """Nothing in the index passes the training filter; the asset turns this into a clear failure."""


@dataclass
class CorpusSelection:
    """The documents one run trains and evaluates on, with the counts the manifest reports."""

    train: list[dict]
    eval: list[dict]
    watermark: str | None
    fetched: int = 0
    duplicate_ids: int = 0
    duplicate_contents: int = 0
    empty: int = 0
    train_repos: int = 0
    eval_repos: int = 0
    languages: dict[str, int] = field(default_factory=dict)
    # Documents the consumer policy left out, per reason (``license``, ``contaminated``), and what it was.
    excluded: dict[str, int] = field(default_factory=dict)
    policy: dict[str, Any] = field(default_factory=dict)
    licenses: dict[str, int] = field(default_factory=dict)

    @property
    def documents(self) -> int:
        return len(self.train) + len(self.eval)


def as_iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    return datetime.fromisoformat(str(value)).isoformat()


def repo_hash_fraction(repo: str) -> float:
    """A uniform number in [0, 1) fixed by the repository name."""
    digest = hashlib.blake2b(repo.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def split_by_repository(docs: Sequence[dict], eval_fraction: float) -> tuple[list[dict], list[dict]]:
    """Hold out the repositories whose hash falls under `eval_fraction`.

    With few repositories the hash may pick none; then the repository with the smallest hash is
    held out (when there are at least two), so an evaluation loss always exists.
    """
    repos = sorted({_repo_of(doc) for doc in docs}, key=repo_hash_fraction)
    held_out = {repo for repo in repos if repo_hash_fraction(repo) < eval_fraction}
    if eval_fraction > 0 and not held_out and len(repos) >= 2:
        held_out = {repos[0]}
    if len(held_out) == len(repos) and len(repos) >= 2:
        held_out.discard(repos[-1])  # keep something to train on
    train = [doc for doc in docs if _repo_of(doc) not in held_out]
    evaluation = [doc for doc in docs if _repo_of(doc) in held_out]
    return train, evaluation


def _repo_of(doc: dict) -> str:
    return str(doc.get("repo") or "")


def select_corpus(
    source: DocumentSource,
    *,
    min_quality: float,
    max_documents: int,
    eval_fraction: float,
    policy: ConsumerPolicy | None = None,
) -> CorpusSelection:
    """Fetch eligible documents newest first, drop duplicates, empties and what `policy` excludes (by
    default the training policy: permissive licences, no evaluation-set overlap), split by repository.

    The watermark is read first and the stream is bounded by it, so documents indexed while the
    run streams are left for the next run instead of being half-counted.
    """
    eligible = Filters(min_quality=min_quality)
    watermark = as_iso(source.max_value("indexed_at", eligible))
    if watermark is None:
        raise NoEligibleSamples(
            f"no documents with quality_score >= {min_quality} in the code index; "
            "index some code first or lower TRAIN_MIN_QUALITY"
        )
    bounded = Filters(min_quality=min_quality, indexed_before=datetime.fromisoformat(watermark))
    policy = policy or ConsumerPolicy.default("training")
    # No backend limit: the policy filters after the fetch, and `max_documents` counts admitted ones.
    stream = source.iter_documents(filters=bounded, fields=list(DOCUMENT_FIELDS), newest_first=True)
    selection = CorpusSelection(train=[], eval=[], watermark=watermark, policy=policy.describe())
    docs = _unique_documents(_admitted(stream, policy, selection), selection, max_documents)
    if not docs:
        left_out = ", ".join(f"{n} for {reason}" for reason, n in sorted(selection.excluded.items()))
        raise NoEligibleSamples(
            f"{selection.fetched} documents with quality_score >= {min_quality} were found, "
            "but none has non-empty unique content that the training policy admits"
            + (f" ({left_out} excluded; see LICENSE_POLICY)" if left_out else "")
        )
    selection.train, selection.eval = split_by_repository(docs, eval_fraction)
    selection.train_repos = len({_repo_of(doc) for doc in selection.train})
    selection.eval_repos = len({_repo_of(doc) for doc in selection.eval})
    for doc in docs:
        language = str(doc.get("language") or "unknown")
        selection.languages[language] = selection.languages.get(language, 0) + 1
        licence = str(doc.get("license") or "none")
        selection.licenses[licence] = selection.licenses.get(licence, 0) + 1
    return selection


def _admitted(stream: Iterable[dict], policy: ConsumerPolicy, selection: CorpusSelection) -> Iterator[dict]:
    for doc in stream:
        reason = policy.exclusion(doc)
        if reason is None:
            yield doc
        else:
            selection.fetched += 1
            selection.excluded[reason] = selection.excluded.get(reason, 0) + 1


def _unique_documents(
    stream: Iterable[dict], selection: CorpusSelection, limit: int | None = None
) -> list[dict]:
    """Ids are content digests already; the content check guards against a backend returning a
    document twice (e.g. a re-indexed copy under an older id scheme)."""
    seen_ids: set[str] = set()
    seen_contents: set[bytes] = set()
    unique = []
    for doc in stream:
        selection.fetched += 1
        content = doc.get("content") or ""
        if not content.strip():
            selection.empty += 1
            continue
        doc_id = str(doc.get("id"))
        if doc_id in seen_ids:
            selection.duplicate_ids += 1
            continue
        digest = hashlib.blake2b(content.encode("utf-8", "replace"), digest_size=16).digest()
        if digest in seen_contents:
            selection.duplicate_contents += 1
            continue
        seen_ids.add(doc_id)
        seen_contents.add(digest)
        unique.append(doc)
        if limit is not None and len(unique) >= limit:
            break
    return unique


def tokenize_documents(
    tokenizer: Any, docs: Sequence[dict], *, batch_size: int = 256, shuffle_seed: int | None = None
) -> list[np.ndarray]:
    """Token ids of each document followed by EOS, optionally in a seeded shuffled order.

    Shuffling matters because the stream is newest first: training in index order would end every
    run on the oldest files.
    """
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ValueError("the tokenizer has no EOS token; documents could not be delimited")
    order = list(range(len(docs)))
    if shuffle_seed is not None:
        random.Random(shuffle_seed).shuffle(order)
    tokenized: list[np.ndarray] = []
    for start in range(0, len(order), batch_size):
        chunk = [docs[i]["content"] for i in order[start : start + batch_size]]
        encoded = tokenizer(chunk, add_special_tokens=False)["input_ids"]
        tokenized.extend(np.asarray([*ids, eos], dtype=np.int64) for ids in encoded)
    return tokenized
