"""Licences as SPDX expressions, and the policy that decides which licences a consumer may see.

A document's ``license`` is an SPDX expression (``MIT``, ``Apache-2.0 OR MIT``, ``GPL-2.0-only WITH
Classpath-exception-2.0``) or None when nothing was found. A ``LicensePolicy`` is what ``LICENSE_POLICY``
(training and export) and ``SEARCH_LICENSE_POLICY`` (search) say:

- ``permissive``: only expressions that a permissive licence satisfies (``MIT OR GPL-3.0-only`` passes,
  ``MIT AND GPL-3.0-only`` does not); no licence at all means "all rights reserved" and never passes;
- ``any``: everything, unlicensed files included;
- ``list:<spdx>,<spdx>…``: only expressions satisfied by the listed ids.

Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

# SPDX ids (lower-cased) of licences that allow use as training data without copyleft obligations.
PERMISSIVE_LICENSES: Final[frozenset[str]] = frozenset(
    {
        "mit",
        "mit-0",
        "apache-2.0",
        "bsd-2-clause",
        "bsd-3-clause",
        "bsd-3-clause-clear",
        "isc",
        "unlicense",
        "0bsd",
        "zlib",
        "bsl-1.0",
        "cc0-1.0",
        "wtfpl",
        "python-2.0",
        "python-2.0.1",  # CPython's licence stack (PSF-2.0, BeOpen, CNRI, CWI), as its LICENSE file reads
        "psf-2.0",
        "upl-1.0",
        "artistic-2.0",
        "ncsa",
        "x11",
        "blueoak-1.0.0",
    }
)
# What forges report for a licence file they could not classify: not a known licence.
UNKNOWN_LICENSES: Final[frozenset[str]] = frozenset({"", "other", "noassertion", "none"})

_TOKEN = re.compile(r"\(|\)|[^\s()]+")


def _satisfiable(expression: str, allowed: frozenset[str]) -> bool:
    """True when some choice of the expression's ``OR`` branches uses only ``allowed`` ids.

    ``AND`` needs both sides, ``OR`` either; ``WITH <exception>`` keeps the licence it qualifies (an
    exception only ever grants more). A malformed expression is not satisfiable.
    """
    tokens = [t for t in _TOKEN.findall(expression)]
    position = 0

    def parse_or() -> bool:
        nonlocal position
        value = parse_and()
        while position < len(tokens) and tokens[position].upper() == "OR":
            position += 1
            right = parse_and()
            value = value or right
        return value

    def parse_and() -> bool:
        nonlocal position
        value = parse_atom()
        while position < len(tokens) and tokens[position].upper() == "AND":
            position += 1
            right = parse_atom()
            value = value and right
        return value

    def parse_atom() -> bool:
        nonlocal position
        if position >= len(tokens):
            raise ValueError("expression ends early")
        token = tokens[position]
        position += 1
        if token == "(":
            value = parse_or()
            if position >= len(tokens) or tokens[position] != ")":
                raise ValueError("unbalanced parenthesis")
            position += 1
        elif token == ")" or token.upper() in {"AND", "OR", "WITH"}:
            raise ValueError(f"unexpected {token!r}")
        else:
            value = token.lower().rstrip("+") in allowed or token.lower() in allowed
        if position < len(tokens) and tokens[position].upper() == "WITH":
            position += 2  # the exception name
        return value

    try:
        value = parse_or()
    except ValueError:
        return False
    return value and position == len(tokens)


@dataclass(frozen=True)
class LicensePolicy:
    """Which licences a consumer admits; see the module docstring. ``str(policy)`` is its setting."""

    kind: str  # "permissive" | "any" | "list"
    allowed: frozenset[str] = frozenset()  # lower-case SPDX ids; for "list" only

    @classmethod
    def parse(cls, text: str) -> LicensePolicy:
        """``permissive``, ``any`` or ``list:<spdx>,…``; ValueError names what was wrong."""
        value = text.strip()
        if value.lower() in {"permissive", "any"}:
            return cls(value.lower())
        if value.lower().startswith("list:"):
            ids = frozenset(item.strip().lower() for item in value[5:].split(",") if item.strip())
            if not ids:
                raise ValueError("LICENSE_POLICY list: names no licence (write list:MIT,Apache-2.0)")
            return cls("list", ids)
        raise ValueError(f"licence policy must be permissive, any or list:<spdx,...>; got {text!r}")

    @classmethod
    def of(cls, ids: Iterable[str]) -> LicensePolicy:
        return cls("list", frozenset(i.lower() for i in ids))

    def admits(self, license_expression: str | None) -> bool:
        """Whether a document under ``license_expression`` (None: no licence found) may be used."""
        if self.kind == "any":
            return True
        if license_expression is None or license_expression.strip().lower() in UNKNOWN_LICENSES:
            return False
        allowed = PERMISSIVE_LICENSES if self.kind == "permissive" else self.allowed
        return _satisfiable(license_expression, allowed)

    def __str__(self) -> str:
        return "list:" + ",".join(sorted(self.allowed)) if self.kind == "list" else self.kind
