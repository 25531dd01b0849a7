"""Query DSL bodies for the Elasticsearch backend: filters, full-text search, highlights, aggregations.

User text only ever reaches Elasticsearch inside ``match``/``match_phrase`` queries (or as a literal
wildcard needle in the highlight query, applied to each hit's text only), so query syntax is just text.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from codelupe_dagster.backends.search.base import QUALITY_BUCKETS, Filters, IndexSchema
from codelupe_dagster.backends.search.code_tokens import query_alternatives
from codelupe_dagster.backends.search.elastic_mapping import WORDS_SUFFIX

SORT_FIELD = "indexed_at"
_UNICODE_WORD = re.compile(r"[^\W_]+")

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
    if filters.languages:
        clauses.append({"terms": {"language": list(filters.languages)}})
    if filters.repos:
        repo_field = "repo" if schema.kind_of("repo") else "full_name"
        clauses.append({"terms": {repo_field: list(filters.repos)}})
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


def query_words(query: str) -> list[str]:
    """The words of a user query; none means the query matches nothing."""
    return _UNICODE_WORD.findall(query)


def _word_clause(word: str, text_fields: tuple[str, ...]) -> Query:
    """One user word must occur in some text field: as written, or as its camelCase sub-word phrase."""
    _, parts = query_alternatives(word)
    options: list[Query] = []
    for name in text_fields:
        words_field = name + WORDS_SUFFIX
        options.append({"match": {words_field: {"query": word, "operator": "and"}}})
        if parts:
            options.append({"match_phrase": {words_field: " ".join(parts)}})
    return {"bool": {"should": options, "minimum_should_match": 1}}


def search_query(schema: IndexSchema, query: str, words: list[str], filters: Filters | None) -> Query:
    """Every word required (matched on ``__words``), ranked by BM25 on the text itself."""
    text_fields = schema.searched()
    return {
        "bool": {
            "must": [_word_clause(word, text_fields) for word in words],
            "should": [{"match": {name: {"query": query}}} for name in text_fields],
            "filter": filter_clauses(schema, filters),
        }
    }


def highlight(schema: IndexSchema, words: list[str]) -> dict[str, Any]:
    """Fragments found by sub-string: the standard analyzer keeps identifiers whole
    ("parsehttprequest", "http.request"), so a word query alone would highlight too little."""
    text_fields = schema.searched()
    needles = {w.lower() for w in words} | {p for w in words for p in query_alternatives(w)[1]}
    highlight_query = {
        "bool": {
            "should": [
                {"wildcard": {name: {"value": f"*{needle}*"}}}
                for name in text_fields
                for needle in sorted(needles)
            ]
        }
    }
    return {
        "fields": {name: {} for name in text_fields},
        "highlight_query": highlight_query,
        "fragment_size": 160,
        "number_of_fragments": 3,
        # Huge files highlight their first megabyte instead of failing the search.
        "max_analyzed_offset": 1_000_000,
    }


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
