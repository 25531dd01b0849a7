"""Documents to SQLite rows and back: validation, typed filter columns, normalised dates."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from codelupe_dagster.backends.search.base import FieldKind, IndexSchema
from codelupe_dagster.backends.search.code_tokens import hinted_subwords, subwords_hint_key
from codelupe_dagster.backends.search.sqlite_layout import SqliteLayout

# The text columns and sub-word column stored for an id: a rewrite of unchanged text reuses the latter.
StoredText = tuple[tuple[str | None, ...], str | None]


class DocumentRejected(ValueError):
    """One document cannot be written; the message is a reason a person can act on."""


def normalise_date(value: object) -> str:
    """ISO-8601 in UTC with a fixed width, so that text order is time order in SQL."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        moment = datetime.fromisoformat(value)
    else:
        raise TypeError(f"expected an ISO-8601 string or datetime, got {type(value).__name__}")
    if moment.tzinfo is None:  # the pipeline writes UTC; a naive time is taken to be UTC too
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "+00:00"


def doc_id(doc: object) -> str | None:
    """The document's id as a string; integer ids are accepted, as Elasticsearch accepts them."""
    found = doc.get("id") if isinstance(doc, dict) else None
    if isinstance(found, int) and not isinstance(found, bool):
        found = str(found)
    return found if isinstance(found, str) and found else None


def prepare_row(
    schema: IndexSchema,
    layout: SqliteLayout,
    doc: object,
    lenient: bool = False,
    known: Mapping[str, StoredText] | None = None,
) -> tuple[Any, ...]:
    """One row (``layout.row_columns``) for the upsert; raises ``DocumentRejected``.

    ``lenient`` keeps a document whose filterable field no longer fits its type (an upgrade to a
    stricter schema), unfiltered on that field. ``known`` holds the stored text of ids being rewritten.
    """
    if not isinstance(doc, dict):
        raise DocumentRejected(f"expected a dict, got {type(doc).__name__}")
    the_id = doc_id(doc)
    if the_id is None:
        raise DocumentRejected("missing 'id'")
    rest = {k: v for k, v in doc.items() if k != "id"}
    texts: list[str | None] = []
    for name in layout.text_fields:
        rest.pop(subwords_hint_key(name), None)  # an indexing hint, not a field: never stored
        value = rest.get(name)
        if isinstance(value, str):
            del rest[name]
            texts.append(value)
        elif value is None:
            texts.append(None)
        else:
            raise DocumentRejected(f"field {name!r}: expected a string, got {type(value).__name__}")
    if layout.has_subwords:
        stored = known.get(the_id) if known else None
        if stored is not None and stored[0] == tuple(texts):
            texts.append(stored[1])
        else:
            texts.append(_subwords_column(doc, layout, texts))
    sort_at = ""
    if layout.sort_field and rest.get(layout.sort_field) is not None:
        if isinstance(rest[layout.sort_field], list | tuple):
            raise DocumentRejected(f"field {layout.sort_field!r}: expected one date, got a list")
        sort_at = typed_value(layout.sort_field, "date", rest, lenient) or ""
    kinds = zip(layout.typed_fields, layout.typed_kinds, strict=True)
    typed = [typed_value(name, kind, rest, lenient) for name, kind in kinds]
    try:
        doc_json = json.dumps(rest, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise DocumentRejected(f"not JSON-serializable: {exc}") from exc
    return (the_id, sort_at, doc_json, *texts, *typed)


def _subwords_column(doc: Mapping[str, Any], layout: SqliteLayout, texts: list[str | None]) -> str | None:
    """``camel_subwords`` of the code fields' text joined by newlines, from their hints when present.

    Each line is one distinct identifier's split, so the lines of several fields, deduplicated, are the
    lines of their joined text (in another order, which changes no match)."""
    code = [(n, t) for n, t in zip(layout.text_fields, texts, strict=True) if t and n in layout.code_fields]
    if not code:
        return None
    if len(code) == 1:
        return hinted_subwords(doc, *code[0])
    lines = (line for n, t in code for line in hinted_subwords(doc, n, t).split("\n") if line)
    return "\n".join(dict.fromkeys(lines))


def typed_value(name: str, kind: FieldKind | None, rest: dict[str, Any], lenient: bool) -> Any:
    """The SQL value of one filterable field; dates are normalised in the stored document too."""
    value = rest.get(name)
    if value is None:
        return None
    # The common cases first, stored as given: a keyword string, a whole number for an int field, a
    # finite float for a float field (this runs for every typed field of every document written).
    value_type = type(value)
    if value_type is str and kind == "keyword":
        return value
    if kind == "int" and value_type is int and -(2**63) <= value < 2**63:
        return value
    if kind == "float" and value_type is float and math.isfinite(value):
        return value
    try:
        if isinstance(value, list | tuple):
            return json.dumps(list(value), ensure_ascii=False, allow_nan=False).encode()
        if kind == "date":
            normalised = normalise_date(value)
            if isinstance(value, datetime):
                rest[name] = value.isoformat()
            return normalised
        if kind in ("int", "float"):
            return _number(value, kind)
        if kind == "bool":
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return int(value.lower() == "true")
            if not isinstance(value, bool):
                raise TypeError(f"expected a boolean, got {type(value).__name__}")
            return int(value)
        if isinstance(value, dict):
            raise TypeError("expected a keyword, got an object")
        return value if isinstance(value, str | int | float) else str(value)
    except (TypeError, ValueError, OverflowError) as exc:
        if lenient:
            return None
        raise DocumentRejected(f"field {name!r}: {exc}") from exc


def _number(value: object, kind: FieldKind) -> int | float:
    number = float(value) if isinstance(value, str) else value
    if isinstance(number, bool) or not isinstance(number, int | float):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError("not a finite number")
    if isinstance(number, int) and not -(2**63) <= number < 2**63:
        raise ValueError("integer out of 64-bit range")
    return int(number) if kind == "int" and float(number).is_integer() else number


def row_document(
    the_id: str, doc_json: str, texts: Sequence[str | None], text_fields: Sequence[str]
) -> dict[str, Any]:
    """A stored row back into the document that was written (text fields from their columns)."""
    doc: dict[str, Any] = json.loads(doc_json)
    for name, value in zip(text_fields, texts, strict=True):
        if value is not None:
            doc[name] = value
    doc["id"] = the_id
    return doc
