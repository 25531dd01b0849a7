"""Language detection from a file's path and, when the path is ambiguous, its first lines.

Order: whole file name (`PKGBUILD`, `.bashrc`, `Makefile`) -> an extension only one language
claims (longest first: `.sh.in` before `.in`) -> the shebang's program (`#!/usr/bin/env -S deno
run`) -> content rules for an extension several languages share (`.h`, `.m`, `.pl`, `.v`: see
`core.language_heuristics`). A file none of these settles has no language (None), never the
extension's most common reading. Names are canonical lowercase strings used across the index
(`language` field); the tables come from GitHub Linguist through `core.languages.REGISTRY`. Each
function takes `languages=` to read another registry (one with an extra language, in a test or a
plug-in).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from types import MappingProxyType

from codelupe_dagster.core import language_heuristics
from codelupe_dagster.core.filter_thresholds import FilterThresholds
from codelupe_dagster.core.language_registry import LanguageRegistry
from codelupe_dagster.core.languages import REGISTRY

# Languages the pipeline indexes. detect_language() also names prose formats (markdown,
# restructuredtext) so callers can tell "known but not code" from "unknown"; they are left out
# here and dropped as unknown_language.
LANGUAGES: frozenset[str] = REGISTRY.indexed
# The common reading of extensions several languages share, as the earlier table had it. Only for
# statistics over file names, where no content is read (a repository's main language from its
# tree); a file's label never comes from here.
_COMMON_READINGS: dict[str, str] = {
    ".h": "c", ".hh": "cpp", ".m": "objective-c", ".mm": "objective-c", ".pl": "perl", ".pm": "perl",
    ".t": "perl", ".v": "verilog", ".ts": "typescript", ".tsx": "typescript", ".rs": "rust",
    ".cs": "csharp", ".php": "php", ".r": "r", ".html": "html", ".ex": "elixir", ".f": "fortran",
    ".fs": "fsharp", ".ml": "ocaml", ".sc": "scala", ".sol": "solidity", ".md": "markdown",
}  # fmt: skip
# Extension -> language for path-only statistics: every extension one language claims, plus the
# common reading of the shared ones above.
EXTENSIONS: Mapping[str, str] = MappingProxyType({**_COMMON_READINGS, **REGISTRY.extensions})

_SHEBANG = re.compile(r"#!\s*(\S+)(?:\s+(\S+))?(?:\s+(\S+))?")
_VERSION_SUFFIX = re.compile(r"[\d.]+$")


def _shebang_program(head: str) -> str | None:
    """The program a shebang runs, lower-case, version kept (`#!/usr/bin/env -S python3.11`: `python3.11`)."""
    if not head.startswith("#!"):
        return None
    match = _SHEBANG.match(head)
    if match is None:
        return None
    program, first_arg, second_arg = match.groups()
    name = os.path.basename(program)
    if name == "env":
        # `#!/usr/bin/env -S node --flags`: skip env's own options.
        name = first_arg if first_arg and not first_arg.startswith("-") else (second_arg or "")
        name = os.path.basename(name)
    return name.lower()


def interpreter_name(head: str) -> str | None:
    """The program a shebang runs, lower-case and without version (`/usr/bin/env python3` -> `python`)."""
    program = _shebang_program(head)
    if program is None:
        return None
    return _VERSION_SUFFIX.sub("", program) or program


def _language_from_interpreter(head: str, languages: LanguageRegistry) -> str | None:
    """`perl6` is Raku before it is `perl` without its version; `python3.11` is found as `python`."""
    program = _shebang_program(head)
    if not program:
        return None
    exact = languages.interpreters.get(program)
    if exact is not None:
        return exact
    return languages.interpreters.get(_VERSION_SUFFIX.sub("", program) or program)


def _language_from_name(lower_name: str, languages: LanguageRegistry) -> str | None:
    by_name = languages.filenames.get(lower_name)
    if by_name is not None:
        return by_name
    for prefixes, suffixes, language in languages.name_affixes:
        if lower_name.startswith(prefixes) or lower_name.endswith(suffixes):
            return language
    return None


def _suffixes(lower_name: str) -> list[str]:
    """`a.tar.sh.in` -> [`.tar.sh.in`, `.sh.in`, `.in`]: every extension, longest first."""
    return [lower_name[i:] for i, char in enumerate(lower_name) if char == "." and i > 0]


def _extension_claim(lower_name: str, languages: LanguageRegistry) -> tuple[str, str | None, bool]:
    """(extension, its language, shared): the longest known extension of the name.

    A language for an extension one language claims; `shared` when several claim it (content
    decides); ("", None, False) when no extension is known.
    """
    for suffix in _suffixes(lower_name):
        language = languages.extensions.get(suffix)
        if language is not None:
            return suffix, language, False
        if suffix in languages.ambiguous:
            return suffix, None, True
    return "", None, False


def detect_language(
    path: str, head: str | None = None, *, languages: LanguageRegistry = REGISTRY
) -> str | None:
    """Canonical language of a file, or None for non-code, unknown and unsettled files.

    `head` is the start of the decoded text (a few KB is plenty). Without it, a shared extension
    (`.h`, `.m`) and an extension-less script stay None: only the content can tell.
    """
    lower_name = os.path.basename(path).lower()
    by_name = _language_from_name(lower_name, languages)
    if by_name is not None:
        return by_name
    extension, by_extension, shared = _extension_claim(lower_name, languages)
    if by_extension is not None:
        return by_extension
    if head is None:
        return None
    for markers, language in languages.marked.get(extension, ()):
        if markers.search(head):
            return language
    by_interpreter = _language_from_interpreter(head, languages)
    if by_interpreter is not None or not shared:
        return by_interpreter
    return language_heuristics.resolve(extension, head, languages.ambiguous[extension])


def may_be_code(path: str, *, languages: LanguageRegistry = REGISTRY) -> bool:
    """Whether a path can still turn out to be code once its content is read.

    True when the path alone names an indexed language, when its extension is shared by an
    indexed language (`.h`, `.m`: content decides), or when the file has no extension (scripts
    named by their shebang). Lets the cheap path check reject `.json`, `.png`, ... before the
    blob is read.
    """
    language = detect_language(path, languages=languages)
    if language is not None:
        return language in languages.indexed
    lower_name = os.path.basename(path).lower()
    extension, _, shared = _extension_claim(lower_name, languages)
    if shared:
        # Skipping the read is safe where the common reading is prose (`README.md`: GCC machine
        # descriptions are rare); the label itself still comes from the content.
        common = _COMMON_READINGS.get(extension)
        if common is not None:
            return common in languages.indexed
        return any(claimant in languages.indexed for claimant in languages.ambiguous[extension])
    return "." not in lower_name.lstrip(".")


def thresholds_for(language: str | None, *, languages: LanguageRegistry = REGISTRY) -> FilterThresholds:
    """The content filters' limits for a language (the defaults for None and unknown languages)."""
    return languages.thresholds_for(language)
