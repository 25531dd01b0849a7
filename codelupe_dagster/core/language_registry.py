"""A language as one entry (`LanguageSpec`), and the lookup tables derived from a set of entries.

Detection (extensions, file names, shebangs, content markers), the content filters' thresholds and
the quality scanner's syntax all read a `LanguageRegistry`, so adding a language is adding one
`LanguageSpec` (see `core.languages`, which builds the default registry from Linguist's table).
`ambiguous` lists the extensions several languages share, with their claimants; detection settles
those with `core.language_heuristics` or leaves the file unlabelled.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from codelupe_dagster.core.filter_thresholds import DEFAULT_THRESHOLDS, FilterThresholds
from codelupe_dagster.core.syntax import ANY_SEED, C_SEED, GENERIC_SYNTAX, SeedSyntax, Syntax


@dataclass(frozen=True)
class LanguageSpec:
    """Everything the pipeline knows about one language, keyed by its canonical lower-case name."""

    name: str
    # Lower-case extensions, dot included, that read as this language by default.
    extensions: tuple[str, ...] = ()
    # Lower-case whole file names (`makefile`), and name prefixes/suffixes (`dockerfile.`).
    filenames: tuple[str, ...] = ()
    filename_prefixes: tuple[str, ...] = ()
    filename_suffixes: tuple[str, ...] = ()
    # Interpreter names in a shebang, lower-case with versions stripped (`python3.11` -> `python`).
    interpreters: tuple[str, ...] = ()
    # Extensions shared with another language (`.h`, `.m`): this language takes them when the file's
    # first lines match `head_markers`; entries are tried in table order, then the default reading.
    marked_extensions: tuple[str, ...] = ()
    head_markers: re.Pattern[str] | None = None
    syntax: Syntax = GENERIC_SYNTAX  # what the quality scanner reads (v2)
    seed: SeedSyntax = C_SEED  # what seed_v1 reads
    thresholds: FilterThresholds = DEFAULT_THRESHOLDS  # the content filters' limits
    # False for prose (markdown): detected, so callers can tell "known, not code" from "unknown",
    # but never indexed.
    indexed: bool = True

    def __post_init__(self) -> None:
        if self.marked_extensions and self.head_markers is None:
            raise ValueError(f"{self.name}: marked_extensions need head_markers")
        for value in (*self.extensions, *self.marked_extensions):
            if not value.startswith(".") or value != value.lower():
                raise ValueError(f"{self.name}: extension {value!r} must be lower-case and start with '.'")
        for value in (*self.filenames, *self.filename_prefixes, *self.filename_suffixes, *self.interpreters):
            if value != value.lower():
                raise ValueError(f"{self.name}: {value!r} must be lower-case")


def _claim(table: dict[str, str], keys: Iterable[str], language: str, what: str) -> None:
    """Add `key -> language` for each key; two languages claiming one key is a table error."""
    for key in keys:
        if table.setdefault(key, language) != language:
            raise ValueError(f"{what} {key!r} is claimed by both {table[key]} and {language}")


@dataclass(frozen=True)
class LanguageRegistry:
    """The lookup tables derived from a set of `LanguageSpec`s, built once."""

    specs: tuple[LanguageSpec, ...]
    # Extension -> the languages that share it (None: a data/prose format), settled by content.
    ambiguous: Mapping[str, tuple[str | None, ...]] = field(default_factory=lambda: MappingProxyType({}))
    by_name: Mapping[str, LanguageSpec] = field(init=False)
    indexed: frozenset[str] = field(init=False)
    extensions: Mapping[str, str] = field(init=False)
    filenames: Mapping[str, str] = field(init=False)
    interpreters: Mapping[str, str] = field(init=False)
    name_affixes: tuple[tuple[tuple[str, ...], tuple[str, ...], str], ...] = field(init=False)
    marked: Mapping[str, tuple[tuple[re.Pattern[str], str], ...]] = field(init=False)

    def __post_init__(self) -> None:
        by_name: dict[str, LanguageSpec] = {}
        extensions: dict[str, str] = {}
        filenames: dict[str, str] = {}
        interpreters: dict[str, str] = {}
        marked: dict[str, list[tuple[re.Pattern[str], str]]] = {}
        for spec in self.specs:
            if by_name.setdefault(spec.name, spec) is not spec:
                raise ValueError(f"language {spec.name!r} is listed twice")
            _claim(extensions, spec.extensions, spec.name, "extension")
            _claim(filenames, spec.filenames, spec.name, "file name")
            _claim(interpreters, spec.interpreters, spec.name, "interpreter")
            for extension in spec.marked_extensions:
                assert spec.head_markers is not None  # checked by LanguageSpec
                marked.setdefault(extension, []).append((spec.head_markers, spec.name))
        affixes = tuple(
            (spec.filename_prefixes, spec.filename_suffixes, spec.name)
            for spec in self.specs
            if spec.filename_prefixes or spec.filename_suffixes
        )
        # Read-only views: these tables are shared module-level state across the whole process.
        object.__setattr__(self, "ambiguous", MappingProxyType(dict(self.ambiguous)))
        object.__setattr__(self, "by_name", MappingProxyType(by_name))
        object.__setattr__(self, "indexed", frozenset(s.name for s in self.specs if s.indexed))
        object.__setattr__(self, "extensions", MappingProxyType(extensions))
        object.__setattr__(self, "filenames", MappingProxyType(filenames))
        object.__setattr__(self, "interpreters", MappingProxyType(interpreters))
        object.__setattr__(self, "name_affixes", affixes)
        object.__setattr__(self, "marked", MappingProxyType({k: tuple(v) for k, v in marked.items()}))

    def with_specs(self, *specs: LanguageSpec) -> LanguageRegistry:
        """This registry with more languages (a plug-in language, or a test's)."""
        return LanguageRegistry((*self.specs, *specs), ambiguous=self.ambiguous)

    def thresholds_for(self, language: str | None) -> FilterThresholds:
        spec = self.by_name.get(language or "")
        return DEFAULT_THRESHOLDS if spec is None else spec.thresholds

    def syntax_for(self, language: str | None) -> Syntax:
        spec = self.by_name.get(language or "")
        return GENERIC_SYNTAX if spec is None else spec.syntax

    def seed_syntax_for(self, language: str | None) -> SeedSyntax:
        if language is None:
            return ANY_SEED
        spec = self.by_name.get(language)
        return C_SEED if spec is None else spec.seed
