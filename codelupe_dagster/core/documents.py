"""The code document (DESIGN §4): one declaration from which every schema that stores it is derived.

A code document lives in three places: the Parquet spool between scoring and indexing, the search index
(Elasticsearch mapping or SQLite columns), and the dataset export. Each of them derives its schema from
the field table here (``CODE_FIELDS``), so adding a field is one edit: one attribute of ``CodeDocument``
with its ``describe(...)`` metadata.

Each field says what the other layers need and nothing more:

- ``kind``: the value type. ``code`` is full text split the code-aware way (camelCase and snake_case
  parts are words too); ``text`` is plain full text; ``object`` is a free-form mapping, stored but never
  indexed (its keys vary by scorer and language, so they must not grow an index mapping).
- ``searched``: full-text searched (only ``code`` and ``text`` fields, and always for them).
- ``filterable``: can be filtered, counted per value (``terms``) and maximised (``max_value``); only
  keyword, number, date and bool fields can be.
- ``stored``: kept in the spool and the export (every index field is in the index).

Pure: no I/O, no clock; dates are ISO-8601 strings set by whoever indexes the document.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args

FieldKind = Literal["text", "code", "keyword", "float", "int", "date", "bool", "object"]

TEXT_KINDS: Final[tuple[FieldKind, ...]] = ("text", "code")
FILTERABLE_KINDS: Final[tuple[FieldKind, ...]] = ("keyword", "float", "int", "date", "bool")

# The document's identity: the hex content digest. Every store keys documents by it (the index's `_id`,
# the spool's first column), so it is not one of the described fields.
ID_FIELD: Final = "id"
_SPEC_KEY: Final = "codelupe.field"


@dataclass(frozen=True)
class FieldSpec:
    """How one field is stored: its kind, and whether it is searched, filterable and stored.

    ``searched`` and ``filterable`` default to what the kind allows, so ``FieldSpec("topic", "keyword")``
    is a filterable keyword; pass ``filterable=False`` for a scalar that is only carried along.
    """

    name: str
    kind: FieldKind
    searched: bool | None = None
    filterable: bool | None = None
    stored: bool = True

    def __post_init__(self) -> None:
        if self.kind not in get_args(FieldKind):
            raise ValueError(f"field {self.name!r}: unknown kind {self.kind!r}")
        is_text = self.kind in TEXT_KINDS
        if self.searched is None:
            object.__setattr__(self, "searched", is_text)
        if self.filterable is None:
            object.__setattr__(self, "filterable", self.kind in FILTERABLE_KINDS)
        if self.searched != is_text:
            raise ValueError(f"field {self.name!r}: only (and every) text and code fields are searched")
        if self.filterable and self.kind not in FILTERABLE_KINDS:
            raise ValueError(f"field {self.name!r}: a {self.kind} field cannot be filterable")


def describe(
    kind: FieldKind, *, filterable: bool | None = None, stored: bool = True, doc: str = ""
) -> dict[str, Any]:
    """Metadata for one ``CodeDocument`` attribute: ``x: int = field(metadata=describe("int"))``."""
    return {_SPEC_KEY: {"kind": kind, "filterable": filterable, "stored": stored, "doc": doc}}


@dataclass(frozen=True, kw_only=True)
class CodeDocument:
    """One unique file content in the corpus; ``id`` is the hex digest of the normalised content.

    Attribute order is the field order of every derived schema (spool columns, index mapping, export).
    """

    id: str
    content: str = field(metadata=describe("code", doc="redacted, normalised file text"))
    path: str = field(metadata=describe("keyword", doc="path inside the repository, redacted"))
    filename: str = field(metadata=describe("keyword"))
    extension: str | None = field(metadata=describe("keyword", doc="lowercase, without the dot"))
    language: str = field(metadata=describe("keyword"))
    repo: str = field(metadata=describe("keyword", doc="owner/name of the first claiming repository"))
    repo_stars: int = field(metadata=describe("int"))
    license: str | None = field(
        metadata=describe(
            "keyword", doc="SPDX expression of the file's licence (its own header, else its repo's)"
        )
    )
    license_source: str | None = field(
        default=None,
        metadata=describe(
            "keyword", doc="where `license` came from: api, license-file, file-header; None: no licence"
        ),
    )
    commit: str = field(metadata=describe("keyword", doc="HEAD the file was read at"))
    quality_score: float = field(metadata=describe("float"))
    quality_signals: Mapping[str, Any] = field(
        metadata=describe("object", doc="lines, comment_ratio, has_docstrings, complexity, ...")
    )
    size_bytes: int = field(metadata=describe("int"))
    lines: int = field(metadata=describe("int"))
    near_dup_cluster: str | None = field(
        default=None, metadata=describe("keyword", doc="id of the document this one nearly duplicates")
    )
    contaminated: str | None = field(
        default=None,
        metadata=describe(
            "keyword", doc="evaluation sets it overlaps, sorted and comma-separated; None: clean"
        ),
    )
    secrets_redacted: int = field(default=0, metadata=describe("int", doc="secrets and PII redacted"))
    batch: str | None = field(default=None, metadata=describe("keyword", doc="repo batch that scored it"))
    indexed_at: str | None = field(
        default=None, metadata=describe("date", doc="ISO-8601 UTC; set when first indexed, then kept")
    )

    def to_record(self) -> dict[str, Any]:
        """The plain dict every store takes: ``id`` first, then the fields in table order."""
        record: dict[str, Any] = {ID_FIELD: self.id}
        record.update(zip(CODE_FIELD_NAMES, _field_values(self), strict=True))
        # Only `object` fields hold mappings; asking every field would cost an ABC check each, per
        # document of every batch (issue 12).
        for name in _OBJECT_FIELD_NAMES:
            value = record[name]
            if isinstance(value, Mapping):
                record[name] = dict(value)
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> CodeDocument:
        """Back from a stored dict; unknown keys are ignored, missing optional fields take defaults."""
        return cls(**{k: v for k, v in record.items() if k in _RECORD_KEYS})


def _field_table() -> tuple[FieldSpec, ...]:
    specs = []
    for attribute in dataclasses.fields(CodeDocument):
        if attribute.name == ID_FIELD:
            continue
        meta = attribute.metadata[_SPEC_KEY]
        specs.append(FieldSpec(attribute.name, meta["kind"], None, meta["filterable"], meta["stored"]))
    return tuple(specs)


# The field table every schema derives from, in document order (``id`` excluded).
CODE_FIELDS: Final[tuple[FieldSpec, ...]] = _field_table()
CODE_FIELD_NAMES: Final[tuple[str, ...]] = tuple(spec.name for spec in CODE_FIELDS)
_RECORD_KEYS: Final[frozenset[str]] = frozenset({ID_FIELD, *CODE_FIELD_NAMES})  # what from_record keeps
_OBJECT_FIELD_NAMES: Final[tuple[str, ...]] = tuple(
    spec.name for spec in CODE_FIELDS if spec.kind == "object"
)
_field_values: Final = operator.attrgetter(*CODE_FIELD_NAMES)  # one C call for every field's value
# The columns of the spool and the export: the id, then every stored field.
STORED_CODE_FIELDS: Final[tuple[FieldSpec, ...]] = tuple(spec for spec in CODE_FIELDS if spec.stored)
