"""Language detection from a file's path and, when the path is ambiguous, its first lines.

Cheap by design: a dict lookup on the extension or file name covers nearly every file; only
extension-less scripts (shebang) and extensions two languages share (`.h`, `.m`) look at content.
Names are canonical lowercase strings used across the index (`language` field). Every table read
here is derived from the one language table, `core.languages.LANGUAGE_SPECS`; each function takes
`languages=` to read another registry (one with an extra language, in a test or a plug-in).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from codelupe_dagster.core.filter_thresholds import FilterThresholds
from codelupe_dagster.core.language_registry import LanguageRegistry
from codelupe_dagster.core.languages import REGISTRY

# Languages the pipeline indexes. detect_language() also names prose formats (markdown,
# restructuredtext) so callers can tell "known but not code" from "unknown"; they are left out
# here and dropped as unknown_language.
LANGUAGES: frozenset[str] = REGISTRY.indexed
EXTENSIONS: Mapping[str, str] = REGISTRY.extensions

_SHEBANG = re.compile(r"#!\s*(\S+)(?:\s+(\S+))?(?:\s+(\S+))?")
_VERSION_SUFFIX = re.compile(r"[\d.]+$")


def interpreter_name(head: str) -> str | None:
    """The program a shebang runs, lower-case and without version (`/usr/bin/env python3` -> `python`)."""
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
    return _VERSION_SUFFIX.sub("", name.lower()) or name.lower()


def _language_from_name(lower_name: str, languages: LanguageRegistry) -> str | None:
    by_name = languages.filenames.get(lower_name)
    if by_name is not None:
        return by_name
    for prefixes, suffixes, language in languages.name_affixes:
        if lower_name.startswith(prefixes) or lower_name.endswith(suffixes):
            return language
    return None


def detect_language(
    path: str, head: str | None = None, *, languages: LanguageRegistry = REGISTRY
) -> str | None:
    """Canonical language of a file, or None for non-code and unknown files.

    `head` is the start of the decoded text (a few KB is plenty). Without it, shared extensions
    fall back to their common reading (`.h` -> c, `.m` -> objective-c) and extension-less
    scripts stay unknown.
    """
    lower_name = os.path.basename(path).lower()
    by_name = _language_from_name(lower_name, languages)
    if by_name is not None:
        return by_name
    extension = os.path.splitext(lower_name)[1]
    if head is not None:
        for markers, language in languages.marked.get(extension, ()):
            if markers.search(head):
                return language
    by_extension = languages.extensions.get(extension)
    if by_extension is not None or head is None:
        return by_extension
    interpreter = interpreter_name(head)
    return None if interpreter is None else languages.interpreters.get(interpreter)


def may_be_code(path: str, *, languages: LanguageRegistry = REGISTRY) -> bool:
    """Whether a path can still turn out to be code once its content is read.

    True when the path alone names an indexed language, or when the file has no extension
    (scripts named by their shebang). Lets the cheap path check reject `.json`, `.png`, ...
    before the blob is read.
    """
    language = detect_language(path, languages=languages)
    if language is not None:
        return language in languages.indexed
    name = os.path.basename(path)
    return "." not in name.lstrip(".")


def thresholds_for(language: str | None, *, languages: LanguageRegistry = REGISTRY) -> FilterThresholds:
    """The content filters' limits for a language (the defaults for None and unknown languages)."""
    return languages.thresholds_for(language)
