"""One interface over the two search backends (Elasticsearch, local SQLite FTS5).

Everything above this module — assets, the trainer, the CLI — speaks only this interface, so the embedded
default and a real cluster run the same code path, and the contract tests run against both.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from codelupe_dagster.backends.search.matching import best_lines, rank
from codelupe_dagster.backends.search.query_syntax import ParsedQuery, QuerySyntaxError, parse_query
from codelupe_dagster.core.documents import CODE_FIELDS
from codelupe_dagster.core.documents import FieldKind as FieldKind  # re-exported for the backends
from codelupe_dagster.core.documents import FieldSpec as FieldSpec

# The old pipeline's monitoring buckets (reference notes, "Check quality distribution"); kept so that
# numbers stay comparable with what users already watch.
QUALITY_BUCKETS: tuple[tuple[str, float | None, float | None], ...] = (
    ("<0.3", None, 0.3),
    ("0.3-0.5", 0.3, 0.5),
    ("0.5-0.7", 0.5, 0.7),
    (">=0.7", 0.7, None),
)


@dataclass(frozen=True)
class IndexSchema:
    """Fields of one logical index; ``version`` bumps when a mapping changes so backends can upgrade."""

    name: str
    fields: tuple[FieldSpec, ...]
    version: int = 1

    def spec(self, name: str) -> FieldSpec | None:
        for spec in self.fields:
            if spec.name == name:
                return spec
        return None

    def kind_of(self, name: str) -> FieldKind | None:
        spec = self.spec(name)
        return None if spec is None else spec.kind

    def names(self, *kinds: FieldKind) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.fields if not kinds or spec.kind in kinds)

    def searched(self) -> tuple[str, ...]:
        """The full-text fields, in schema order."""
        return tuple(spec.name for spec in self.fields if spec.searched)

    def filterable(self) -> tuple[str, ...]:
        """The fields that filters, ``terms`` and ``max_value`` work on, in schema order."""
        return tuple(spec.name for spec in self.fields if spec.filterable)


def _fields(**kinds: FieldKind) -> tuple[FieldSpec, ...]:
    return tuple(FieldSpec(name, kind) for name, kind in kinds.items())


# DESIGN §4: one document per unique content, id = hex content digest; the fields are CodeDocument's.
# v2: license_source and contaminated (issue 11).
CODE_SCHEMA = IndexSchema(name="code", fields=CODE_FIELDS, version=2)

# The GitHub repository fields we use, plus our priority; id = "owner/name".
REPO_SCHEMA = IndexSchema(
    name="repos",
    fields=_fields(
        full_name="keyword",
        clone_url="keyword",
        description="text",
        stars="int",
        forks="int",
        language="keyword",
        license="keyword",
        size_kb="int",
        pushed_at="date",
        archived="bool",
        fork="bool",
        default_branch="keyword",
        topics="keyword",
        source="keyword",
        head="keyword",
        priority="float",
        indexed_at="date",
    ),
)


@dataclass(frozen=True)
class Filters:
    """Conjunctive filters shared by count, search, aggregations and iteration.

    ``max_quality`` and ``indexed_after`` are exclusive so that adjacent buckets and watermarks never
    count a document twice. Within one field the values are alternatives: ``languages`` (any case),
    ``repos`` (exact), ``paths`` (the path contains one of them, any case), ``ids`` (exact document ids)
    and ``batches`` (the code index's ``batch``, exact).
    """

    min_quality: float | None = None
    max_quality: float | None = None
    languages: tuple[str, ...] = ()
    repos: tuple[str, ...] = ()
    indexed_after: datetime | None = None
    indexed_before: datetime | None = None
    paths: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    batches: tuple[str, ...] = ()

    def narrowed(self, query: ParsedQuery) -> Filters | None:
        """These filters and the query's ``lang:``/``repo:``/``path:``; ``None`` when the two leave
        nothing (``--language go`` with ``lang:rust``)."""
        languages = _both(self.languages, query.languages, str.lower)
        repos = _both(self.repos, query.repos, str)
        if languages is None or repos is None:
            return None
        if self.paths and query.paths:
            raise QuerySyntaxError("path: cannot be combined with a path filter given another way")
        return replace(self, languages=languages, repos=repos, paths=self.paths or query.paths)


def _both(
    given: tuple[str, ...], asked: tuple[str, ...], fold: Callable[[str], str]
) -> tuple[str, ...] | None:
    if not given or not asked:
        return given or asked
    wanted = {fold(value) for value in asked}
    common = tuple(value for value in given if fold(value) in wanted)
    return common or None


@dataclass(frozen=True)
class DocError:
    id: str
    reason: str


@dataclass
class BulkResult:
    indexed: int = 0
    errors: list[DocError] = field(default_factory=list)

    def raise_for_errors(self) -> None:
        """Fail loudly: a partial bulk write must never look like success."""
        if self.errors:
            sample = "; ".join(f"{e.id}: {e.reason}" for e in self.errors[:5])
            raise BulkIndexError(f"{len(self.errors)} documents failed to index ({sample})", self.errors)


@dataclass(frozen=True)
class Hit:
    id: str
    score: float
    doc: dict[str, Any]
    highlights: list[str]


class BackendUnavailable(RuntimeError):
    """The backend cannot be reached; the message names the URL with credentials masked."""


class BulkIndexError(RuntimeError):
    def __init__(self, message: str, errors: list[DocError]):
        super().__init__(message)
        self.errors = errors


class SearchIndex(abc.ABC):
    """One logical index (code or repo) on one backend.

    Visibility contract (read-your-writes), the same on both backends:

    - ``get`` sees every write that returned before it, at once (Elasticsearch's get is real-time).
    - ``count``, ``search``, ``terms``, ``quality_histogram``, ``max_value`` and ``iter_documents`` see
      every write (upsert or delete) that returned before the last ``refresh()``; later writes may or
      may not be seen yet. Elasticsearch makes writes searchable only on a refresh, and refreshing
      after every bulk request would cost big bulks dearly, so refreshing is the writer's job, once,
      where its stage hands over: a stage that writes an index calls ``refresh()`` before it returns,
      so every stage materialized after it reads everything it wrote (``crawled_repos`` before
      ``queued_repos``; ``queued_repos`` after writing priorities; ``es_code_index`` before its checks
      and the training sensor).
    - An index that does not exist (never ensured, or deleted) reads as empty: zero counts, no
      documents, ``None`` maxima, zero size; ``delete_ids`` and ``refresh`` do nothing. Only writes
      need ``ensure()`` first.
    - Backend faults that persist past the backend's bounded retries raise ``BackendUnavailable``.
    """

    schema: IndexSchema
    name: str

    @abc.abstractmethod
    def ensure(self) -> None:
        """Create the index or upgrade its mappings; idempotent."""

    @abc.abstractmethod
    def bulk_upsert(self, docs: Iterable[dict[str, Any]]) -> BulkResult:
        """Write documents keyed by ``doc["id"]``; writing the same id twice leaves one document."""

    @property
    def concurrent_writes(self) -> int:
        """How many ``bulk_upsert`` calls of disjoint documents are worth running at once, from different
        threads: a server indexes concurrent requests on several cores, while one SQLite file takes one
        writer at a time (a second would only wait for the lock)."""
        return 1

    @abc.abstractmethod
    def get(self, ids: Sequence[str], fields: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
        """The stored documents of those ``ids`` that exist, by id. With ``fields``, each holds only those
        fields it has, and ``id``: a caller after one small field (``indexed_at``, ``repo``) never reads
        the code text."""

    @abc.abstractmethod
    def count(self, filters: Filters | None = None) -> int: ...

    def search(
        self, query: str, filters: Filters | None = None, size: int = 10, *, match_all: bool = False
    ) -> list[Hit]:
        """Full-text search on text/code fields in the query language of ``query_syntax``, best first.

        Documents holding any term are found (every term with ``match_all``), those holding more of
        the terms first, then by BM25; case-insensitive, camelCase/snake_case parts are words. A query
        with no term but a filter (``lang:go``, or ``filters``) lists the matching documents, best
        quality first. ``Hit.highlights`` are the best matching lines, plain text. Raises
        ``QuerySyntaxError`` for what the language does not support; a query of no words at all
        (``""``, ``+++``) finds nothing."""
        parsed = parse_query(query)
        has_filters = parsed.has_filters or (filters is not None and filters != Filters())
        if size <= 0 or not (parsed.terms or has_filters):
            return []
        if not self.schema.searched():
            raise ValueError(f"schema {self.schema.name!r} has no text fields to search")
        narrowed = (filters or Filters()).narrowed(parsed)
        if narrowed is None:
            return []
        # Phrases are approximate on Elasticsearch (its candidates hold the words), so the shared
        # text check below may drop some: read more than asked for.
        wanted = size * 5 + 20 if parsed.needs_text_check else size
        candidates = self._candidates(parsed, narrowed, wanted, match_all)
        # Without phrases the backends' own tiers are exact (a term is a word or a camelCase phrase,
        # matched the same way on both), so the text is only read again where a phrase needs it.
        hits = (
            rank(candidates, parsed, self._searched_text, match_all, size)
            if parsed.needs_text_check
            else candidates[:size]
        )
        return [
            Hit(
                hit.id,
                hit.score,
                hit.doc,
                [line.text for line in best_lines(self._searched_text(hit), parsed.terms)],
            )
            for hit in hits
        ]

    def _searched_text(self, hit: Hit) -> str:
        """The searched fields of a hit as one text."""
        return "\n".join(str(hit.doc.get(name) or "") for name in self.schema.searched())

    @abc.abstractmethod
    def _candidates(self, query: ParsedQuery, filters: Filters, size: int, match_all: bool) -> list[Hit]:
        """Up to ``size`` documents holding some term of ``query`` (every term with ``match_all``) and
        no excluded single word, those holding more terms first, then best BM25 first (``Hit.score``,
        higher is better); without terms, every document the filters admit, best quality first.
        Phrases may be matched loosely (``SearchIndex.search`` checks them); no highlights."""

    @abc.abstractmethod
    def quality_histogram(self, filters: Filters | None = None) -> dict[str, int]:
        """Counts per ``QUALITY_BUCKETS`` label (every label present, zeros included)."""

    @abc.abstractmethod
    def terms(self, field: str, filters: Filters | None = None, size: int = 20) -> dict[str, int]:
        """Document counts per value of a keyword field, most frequent first."""

    @abc.abstractmethod
    def iter_documents(
        self,
        filters: Filters | None = None,
        fields: Sequence[str] | None = None,
        newest_first: bool = False,
        batch_size: int = 500,
        limit: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every matching document once, ordered by (indexed_at, id), stable under concurrent writes."""

    @abc.abstractmethod
    def max_value(self, field: str, filters: Filters | None = None) -> Any | None:
        """Largest value of a field, ``None`` when no document has one; a date field gives a timezone-aware
        UTC ``datetime``, ready to use as ``Filters.indexed_after`` (a watermark)."""

    @abc.abstractmethod
    def delete_ids(self, ids: Sequence[str]) -> int:
        """Remove these documents (absent ids are ignored); returns how many were removed. Idempotent:
        deleting the same ids again removes nothing and returns 0."""

    @abc.abstractmethod
    def refresh(self) -> None:
        """Make every write that returned so far visible to counts, searches and iteration; a stage
        calls it once before handing its index over to the next (see the class docstring)."""

    @abc.abstractmethod
    def size_bytes(self) -> int: ...

    @abc.abstractmethod
    def delete(self) -> None: ...

    @abc.abstractmethod
    def ping(self) -> None:
        """Raise ``BackendUnavailable`` when the backend cannot serve requests."""
