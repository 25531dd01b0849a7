"""The Elasticsearch mapping of an index schema, and the documents as they are sent to it.

Code analysis without ``analysis-common``: the integ-test distribution we test against (and any cluster
without that module) has only the ``standard`` tokenizer, the ``whitespace`` analyzer and the
``lowercase`` filter — no pattern tokenizer, no word_delimiter_graph. So the words of every searched
field ``f`` are cut client side, in the same split the SQLite backend and the shared text check make
(``code_tokens``, ``matching.TextWords``), and sent beside the text:

- ``f`` itself is kept in ``_source`` for readers and not indexed;
- ``f__words`` is what is searched and scored (BM25), by the ``whitespace`` analyzer: first every word
  of the text in order (``[^\\W_]+`` runs of the lowercased text, joined by spaces), then one entry per
  camelCase identifier holding its lowercased sub-words. Entries sit 100 positions apart, so a phrase
  never spans two identifiers, and a phrase of the text is a phrase of the first entry. It stays in the
  stored ``_source``, and every read leaves it out (``words_fields``).

Why not let the node analyze ``f`` with the ``standard`` analyzer, as indexes made before 2026-12-03
do: its tokenizer was about 40% of the node's CPU (``bench/es_mapping_cost.py``), more than the client
pays to cut the words (compiled, ``native/src/index_words.rs``), and it keeps ``foo.bar`` and
``foo_bar`` whole, so it never matched the words that both backends' text check decides with. Those
older indexes (``_meta`` without ``codelupe_words``) keep their mapping — ``f`` by ``standard``,
``f__words`` the distinct words of the text and the sub-word entries — and are written and searched as
they were (``ordered=False`` here and in ``elastic_query``).

Why the words stay in ``_source`` rather than ``_source.excludes`` (as indexes made before 2026-12 have
it; they keep it, and read the same): a node that filters a document's source re-serializes every
document, and keeps the whole original as ``_recovery_source`` beside the filtered one until merges
prune it; ``bench/es_mapping_cost.py`` measured 1.21x the node's CPU and 1.46x the disk for it.

Dates are ``date_nanos`` and floats ``double`` so that microsecond watermarks and bucket edges such as
``quality_score >= 0.7`` compare exactly as the Python values that were written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from codelupe_dagster._native import index_word_runs as _compiled_index_word_runs
from codelupe_dagster._native import ordered_word_runs as _compiled_ordered_word_runs
from codelupe_dagster.backends.search.base import FieldKind, FieldSpec, IndexSchema
from codelupe_dagster.backends.search.code_tokens import camel_subwords, subwords_hint_key

WORDS_SUFFIX = "__words"
# The `_meta` key and value of an index whose words are every word in order (made from 2026-12-03).
WORDS_LAYOUT_KEY = "codelupe_words"
ORDERED_WORDS = "ordered"

_SCALAR_TYPES: dict[FieldKind, str] = {
    "keyword": "keyword",
    "float": "double",
    "int": "long",
    "date": "date_nanos",
    "bool": "boolean",
}
_UNICODE_WORD = re.compile(r"[^\W_]+")


def field_mapping(spec: FieldSpec, ordered: bool = True) -> dict[str, dict[str, Any]]:
    """The mapping properties one field needs (a searched field has two: itself and its words);
    ``ordered=False`` gives an index made before 2026-12-03 its own."""
    if spec.searched and ordered:
        return {
            spec.name: {"type": "text", "index": False},
            # Norms: BM25's length normalization, now that this field is the one scored.
            spec.name + WORDS_SUFFIX: {"type": "text", "analyzer": "whitespace"},
        }
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


def index_mappings(schema: IndexSchema, ordered: bool = True) -> dict[str, Any]:
    """The whole mapping: ``id`` as a keyword (the sort tie-breaker), then every field of the schema.
    ``ordered=False``: the mapping of an index made before 2026-12-03, for adding fields to one."""
    properties: dict[str, Any] = {"id": {"type": "keyword"}}
    for spec in schema.fields:
        properties.update(field_mapping(spec, ordered))
    meta: dict[str, Any] = {"codelupe_schema": schema.name, "schema_version": schema.version}
    if ordered:
        meta[WORDS_LAYOUT_KEY] = ORDERED_WORDS
    return {
        # Unknown fields are kept in _source (as on SQLite) but not indexed, so they cannot fail a write.
        "dynamic": False,
        "_meta": meta,
        "properties": properties,
    }


def has_ordered_words(mappings: Mapping[str, Any]) -> bool:
    """Whether an index's mapping (as ``GET _mapping`` gives it) holds every word in order."""
    meta = mappings.get("_meta") or {}
    return meta.get(WORDS_LAYOUT_KEY) == ORDERED_WORDS


def words_fields(schema: IndexSchema) -> list[str]:
    """The match-only fields a read leaves out of every document's ``_source``."""
    return [name + WORDS_SUFFIX for name in schema.searched()]


def ordered_words(text: str) -> str:
    """Every word of ``text`` in order, joined by spaces: ``" ".join(re.findall(r"[^\\W_]+", text.lower()))``,
    the words ``matching.TextWords`` checks a document's text with.

    Compiled (``native/src/index_words.rs``): the text is cut into runs at its ASCII characters that are
    not letters or digits, the ASCII runs lowercased there (an ASCII text is done there whole) and only
    the runs holding non-ASCII characters read here, with Python's own Unicode tables. Lowercasing run by run
    is lowercasing the whole, except for a capital sigma, whose lower case depends on the letters around
    it: a text with one, or with lone surrogates, is read whole here.
    """
    runs = _compiled_ordered_word_runs(text)
    if runs is None:
        return " ".join(_UNICODE_WORD.findall(text.lower()))
    parts, foreign = runs
    if not foreign:
        return parts[0]
    pieces = [parts[0]]
    for run, after in zip(foreign, parts[1:], strict=True):
        pieces.append(" ".join(_UNICODE_WORD.findall(run.decode("utf-8").lower())))
        pieces.append(after)
    return " ".join(piece for piece in pieces if piece)


def ordered_index_words(text: str, subwords: str | None = None) -> list[str]:
    """The ``__words`` value of an index made from 2026-12-03: every word in order in one entry, then
    one entry per camelCase identifier, its sub-words lowercased (the ``whitespace`` analyzer does not
    lowercase). ``subwords`` is ``camel_subwords(text)`` when the caller has it (the workers' hint)."""
    if subwords is None:
        subwords = camel_subwords(text)
    words = ordered_words(text)
    return [words, *subwords.lower().split("\n")] if subwords else [words]


def index_words(text: str, subwords: str | None = None) -> list[str]:
    """The ``__words`` value of an index made before 2026-12-03: distinct word runs in one entry, then
    one entry per camelCase identifier.

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


def document_source(
    doc: Mapping[str, Any], searched: tuple[str, ...], ordered: bool = True
) -> dict[str, Any]:
    """What is sent for one document: its fields, ``id`` as a string, and the words of searched fields
    (``ordered=False``: as an index made before 2026-12-03 holds them).

    A field's sub-word hint (``code_tokens.subwords_hint_key``) is used for its words and never sent.
    """
    words_of = ordered_index_words if ordered else index_words
    source = dict(doc)
    source["id"] = str(doc["id"])
    for name in searched:
        hint = source.pop(subwords_hint_key(name), None)
        value = doc.get(name)
        if isinstance(value, str):
            source[name + WORDS_SUFFIX] = words_of(value, hint if isinstance(hint, str) else None)
    return source
