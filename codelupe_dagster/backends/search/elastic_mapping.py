"""The Elasticsearch mapping of an index schema, and the documents as they are sent to it.

Code analysis without ``analysis-common``: the integ-test distribution we test against (and any cluster
without that module) has only the ``standard`` tokenizer and the ``lowercase`` filter — no pattern
tokenizer, no word_delimiter_graph. So every searched field ``f`` is indexed twice over:

- ``f`` itself with the standard analyzer: relevance (BM25) and highlighting;
- ``f__words``, for matching only: the distinct alphanumeric runs of the text (split on ``_`` and every
  non-word character), plus one entry per camelCase identifier holding its sub-words. This is the same
  split the SQLite backend makes (``code_tokens``), computed client side, so both backends match the
  same words. It stays in the stored ``_source``, and every read leaves it out (``words_fields``).

Why not ``_source.excludes``, as indexes made before 2026-12 have it (they keep it, and read the same): a
node that filters a document's source re-serializes every document, and keeps the whole original as
``_recovery_source`` beside the filtered one until merges prune it. Measured with
``bench/es_mapping_cost.py`` (CPython's ``Lib``, 5 rounds, three runs): words kept in ``_source``, against
cut out, take 0.83-0.96x the node's CPU, 0.82-0.83x its wall time, and 0.68x the disk once indexed; once
every recovery source is pruned, the kept words cost about a fifth more ``_source`` (16.2 against
13.3 MB there).

Dates are ``date_nanos`` and floats ``double`` so that microsecond watermarks and bucket edges such as
``quality_score >= 0.7`` compare exactly as the Python values that were written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from codelupe_dagster._native import index_word_runs as _compiled_index_word_runs
from codelupe_dagster.backends.search.base import FieldKind, FieldSpec, IndexSchema
from codelupe_dagster.backends.search.code_tokens import camel_subwords, subwords_hint_key

WORDS_SUFFIX = "__words"

_SCALAR_TYPES: dict[FieldKind, str] = {
    "keyword": "keyword",
    "float": "double",
    "int": "long",
    "date": "date_nanos",
    "bool": "boolean",
}
_UNICODE_WORD = re.compile(r"[^\W_]+")


def field_mapping(spec: FieldSpec) -> dict[str, dict[str, Any]]:
    """The mapping properties one field needs (a searched field has two: itself and its words)."""
    if spec.searched:
        return {
            spec.name: {"type": "text", "analyzer": "standard"},
            spec.name + WORDS_SUFFIX: {"type": "text", "analyzer": "standard", "norms": False},
        }
    if spec.kind == "object":
        # Stored for readers (quality_signals) but not searchable: free-form keys must not grow the mapping.
        return {spec.name: {"type": "object", "enabled": False}}
    if spec.filterable:
        return {spec.name: {"type": _SCALAR_TYPES[spec.kind]}}
    return {spec.name: {"type": _SCALAR_TYPES[spec.kind], "index": False, "doc_values": False}}


def index_mappings(schema: IndexSchema) -> dict[str, Any]:
    """The whole mapping: ``id`` as a keyword (the sort tie-breaker), then every field of the schema."""
    properties: dict[str, Any] = {"id": {"type": "keyword"}}
    for spec in schema.fields:
        properties.update(field_mapping(spec))
    return {
        # Unknown fields are kept in _source (as on SQLite) but not indexed, so they cannot fail a write.
        "dynamic": False,
        "_meta": {"codelupe_schema": schema.name, "schema_version": schema.version},
        "properties": properties,
    }


def words_fields(schema: IndexSchema) -> list[str]:
    """The match-only fields a read leaves out of every document's ``_source``."""
    return [name + WORDS_SUFFIX for name in schema.searched()]


def index_words(text: str, subwords: str | None = None) -> list[str]:
    """The ``__words`` value: distinct word runs in one entry, then one entry per camelCase identifier.

    Separate array entries sit 100 positions apart, so a sub-word phrase never spans two identifiers.
    ``subwords`` is ``camel_subwords(text)`` when the caller has it already (the scoring workers' hint).

    The first entry is the distinct ASCII alphanumeric runs (lowercased, sorted bytewise), then for a
    text with non-ASCII characters, after a space, its distinct non-ASCII words (``[^\\W_]+`` runs that
    are not pure ASCII, lowercased) sorted. The ASCII part and the cutting into runs are compiled
    (``native/src/index_words.rs``; with the workers' sub-word hint the whole function is 4.4x faster
    than the bytes-level Python it replaced, in the one process that feeds the bulk requests); only the
    runs holding non-ASCII characters come back here, where Python's own Unicode tables find their
    words. A word never spans an ASCII character that is not alphanumeric, so scanning those runs finds
    the same words as scanning the whole text.
    """
    words, foreign = _compiled_index_word_runs(text)
    if foreign:
        unicode_words: set[str] = set()
        for run in foreign:
            decoded = run.decode("utf-8", "surrogatepass")
            unicode_words.update(w.lower() for w in _UNICODE_WORD.findall(decoded) if not w.isascii())
        words += " " + " ".join(sorted(unicode_words))
    if subwords is None:
        subwords = camel_subwords(text)
    return [words, *subwords.split("\n")] if subwords else [words]


def document_source(doc: Mapping[str, Any], searched: tuple[str, ...]) -> dict[str, Any]:
    """What is sent for one document: its fields, ``id`` as a string, and the words of searched fields.

    A field's sub-word hint (``code_tokens.subwords_hint_key``) is used for its words and never sent.
    """
    source = dict(doc)
    source["id"] = str(doc["id"])
    for name in searched:
        hint = source.pop(subwords_hint_key(name), None)
        value = doc.get(name)
        if isinstance(value, str):
            source[name + WORDS_SUFFIX] = index_words(value, hint if isinstance(hint, str) else None)
    return source
