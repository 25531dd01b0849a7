"""Query DSL bodies for the Elasticsearch backend: filters, full-text search, highlights, aggregations.

User text only ever reaches Elasticsearch inside ``match``/``match_phrase`` queries (or escaped, as a
``path:`` wildcard), so query syntax is just text.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from codelupe_dagster.backends.search.base import QUALITY_BUCKETS, Filters, IndexSchema
from codelupe_dagster.backends.search.elastic_mapping import WORDS_SUFFIX
from codelupe_dagster.backends.search.query_syntax import ParsedQuery, Term

SORT_FIELD = "indexed_at"
# Each term a document holds adds this to its score: far above any BM25 score, so documents holding
# more terms come first, and the BM25 part is the score minus this times the terms held.
TIER_BOOST = 10_000.0

Query = dict[str, Any]


def iso(moment: datetime) -> str:
    if moment.tzinfo is None:  # the pipeline writes UTC; a naive time is taken to be UTC too
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def filter_clauses(schema: IndexSchema, filters: Filters | None) -> list[Query]:
    """The shared filters as ``bool.filter`` clauses (no scoring, cacheable)."""
    if filters is None:
        return []
    clauses: list[Query] = []
    quality: dict[str, float] = {}
    if filters.min_quality is not None:
        quality["gte"] = filters.min_quality
    if filters.max_quality is not None:
        quality["lt"] = filters.max_quality
    if quality:
        clauses.append({"range": {"quality_score": quality}})
    if filters.languages:  # any case, as on SQLite
        clauses.append(_any_of([_term("language", value) for value in filters.languages]))
    if filters.paths:
        clauses.append(_any_of([_path_contains(value) for value in filters.paths]))
    if filters.repos:
        repo_field = "repo" if schema.kind_of("repo") else "full_name"
        clauses.append({"terms": {repo_field: list(filters.repos)}})
    if filters.ids:
        clauses.append({"ids": {"values": list(filters.ids)}})
    if filters.batches:
        clauses.append({"terms": {"batch": list(filters.batches)}})
    window: dict[str, str] = {}
    if filters.indexed_after is not None:
        window["gt"] = iso(filters.indexed_after)
    if filters.indexed_before is not None:
        window["lte"] = iso(filters.indexed_before)
    if window:
        clauses.append({"range": {SORT_FIELD: window}})
    return clauses


def filtered(schema: IndexSchema, filters: Filters | None) -> Query:
    clauses = filter_clauses(schema, filters)
    return {"bool": {"filter": clauses}} if clauses else {"match_all": {}}


def _any_of(options: list[Query]) -> Query:
    return {"bool": {"should": options, "minimum_should_match": 1}}


def _term(field: str, value: str) -> Query:
    return {"term": {field: {"value": value, "case_insensitive": True}}}


def _path_contains(value: str) -> Query:
    escaped = re.sub(r"([\\*?])", r"\\\1", value)
    return {"wildcard": {"path": {"value": f"*{escaped}*", "case_insensitive": True}}}


def term_clause(term: Term, text_fields: tuple[str, ...], ordered: bool = True) -> Query:
    """Documents holding ``term`` in some text field's ``__words``: a word, or a phrase of words (the
    text's words in order, or a camelCase word's sub-words in one identifier's entry).

    With ``ordered`` (indexes made from 2026-12-03) this is exactly the text check of ``matching``:
    ``__words`` holds the text's words in order. On an older index ``__words`` holds each word once, so
    a word sequence is only required to be there (or, for sub-words, as a phrase), and the text check
    decides."""
    options: list[Query] = []
    for name in text_fields:
        words_field = name + WORDS_SUFFIX
        for index, words in enumerate(term.alternatives):
            if len(words) == 1:
                options.append({"match": {words_field: {"query": words[0]}}})
            elif index == 0 and not ordered:
                options.append({"match": {words_field: {"query": " ".join(words), "operator": "and"}}})
            else:
                options.append({"match_phrase": {words_field: " ".join(words)}})
    return _any_of(options)


def _phrase(term: Term, name: str, ordered: bool) -> Query:
    """``term`` as a phrase of a text field: of its words on an ordered index, else of its text as the
    standard analyzer cuts it (``foo.bar`` and ``foo_bar`` whole)."""
    if ordered:
        return {"match_phrase": {name + WORDS_SUFFIX: {"query": " ".join(term.words)}}}
    return {"match_phrase": {name: {"query": term.text}}}


def search_query(
    schema: IndexSchema, query: ParsedQuery, filters: Filters, match_all: bool, ordered: bool = True
) -> Query:
    """Terms as named ``constant_score`` clauses worth ``TIER_BOOST`` each, so documents holding more
    terms rank first; BM25 of the text fields (and the phrases as phrases) orders each tier: of the
    ``__words`` on an ordered index (the query's words, as they were cut for it), else of the text by
    the standard analyzer."""
    text_fields = schema.searched()
    named = [
        {
            "constant_score": {
                "filter": term_clause(term, text_fields, ordered),
                "boost": TIER_BOOST,
                "_name": f"t{i}",
            }
        }
        for i, term in enumerate(query.terms)
    ]
    if ordered:
        words = " ".join(word for term in query.terms for word in term.words)
        relevance: list[Query] = [{"match": {name + WORDS_SUFFIX: {"query": words}}} for name in text_fields]
    else:
        text = " ".join(term.text for term in query.terms)
        relevance = [{"match": {name: {"query": text}}} for name in text_fields]
    relevance += [
        _phrase(term, name, ordered) for term in query.terms if term.is_phrase for name in text_fields
    ]
    must = named if match_all else [_any_of(named)]
    return {
        "bool": {
            "must": must,
            "should": relevance,
            "must_not": excluded_clauses(query, text_fields, ordered),
            "filter": filter_clauses(schema, filters),
        }
    }


def excluded_clauses(query: ParsedQuery, text_fields: tuple[str, ...], ordered: bool = True) -> list[Query]:
    """A word is excluded exactly; a phrase exactly on an ordered index, else as the standard analyzer
    sees it (the text check does the rest)."""
    clauses = []
    for term in query.excluded:
        if term.is_phrase:
            clauses += [_phrase(term, name, ordered) for name in text_fields]
        else:
            clauses.append(term_clause(term, text_fields, ordered))
    return clauses


def listing_query(schema: IndexSchema, query: ParsedQuery, filters: Filters, ordered: bool = True) -> Query:
    """Documents the filters admit, holding no excluded term."""
    return {
        "bool": {
            "must_not": excluded_clauses(query, schema.searched(), ordered),
            "filter": filter_clauses(schema, filters),
        }
    }


def listing_sort(schema: IndexSchema) -> list[dict[str, Any]]:
    """Best quality first where there is a quality, else newest first; the id breaks ties."""
    first = "quality_score" if schema.kind_of("quality_score") else SORT_FIELD
    return [{first: {"order": "desc", "missing": "_last"}}, {"id": {"order": "asc"}}]


def quality_histogram_aggs() -> dict[str, Any]:
    """A keyed range aggregation named ``quality``, one bucket per ``QUALITY_BUCKETS`` label."""
    ranges = []
    for label, low, high in QUALITY_BUCKETS:
        bucket: dict[str, Any] = {"key": label}
        if low is not None:
            bucket["from"] = low
        if high is not None:
            bucket["to"] = high
        ranges.append(bucket)
    return {"quality": {"range": {"field": "quality_score", "keyed": True, "ranges": ranges}}}


def page_sort(newest_first: bool) -> list[dict[str, Any]]:
    """The iteration order, (indexed_at, id), documents without a date last."""
    order = "desc" if newest_first else "asc"
    return [{SORT_FIELD: {"order": order, "missing": "_last"}}, {"id": {"order": order}}]
