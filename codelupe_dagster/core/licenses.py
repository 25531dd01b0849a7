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
from collections.abc import Callable, Iterable
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
_KEYWORDS: Final = frozenset({"AND", "OR", "WITH"})


@dataclass(frozen=True)
class SpdxLicense:
    """One licence of an expression: its id (``+`` kept) and the exception ``WITH`` names, if any."""

    id: str
    exception: str | None = None


@dataclass(frozen=True)
class SpdxCompound:
    """``left AND right`` or ``left OR right``."""

    operator: str
    left: SpdxNode
    right: SpdxNode


SpdxNode = SpdxLicense | SpdxCompound


def _same(token: str) -> str:
    return token


def parse_spdx(
    text: str,
    canonical_id: Callable[[str], str] = _same,
    canonical_exception: Callable[[str], str] = _same,
) -> SpdxNode:
    """An SPDX expression as a tree; ``AND`` binds tighter than ``OR`` (the SPDX spec), keywords in any case.

    ``canonical_id``/``canonical_exception`` spell each id as the caller's reference does and raise
    ValueError for one it does not know. A malformed expression raises ValueError.
    """
    tokens = _TOKEN.findall(text)
    position = 0

    def peek() -> str | None:
        return tokens[position].upper() if position < len(tokens) else None

    def parse_binary(operator: str, operand: Callable[[], SpdxNode]) -> SpdxNode:
        nonlocal position
        node = operand()
        while peek() == operator:
            position += 1
            node = SpdxCompound(operator, node, operand())
        return node

    def parse_or() -> SpdxNode:
        return parse_binary("OR", parse_and)

    def parse_and() -> SpdxNode:
        return parse_binary("AND", parse_atom)

    def parse_atom() -> SpdxNode:
        nonlocal position
        if position >= len(tokens):
            raise ValueError("expression ends early")
        token = tokens[position]
        position += 1
        if token == "(":
            node = parse_or()
            if peek() != ")":
                raise ValueError("unbalanced parenthesis")
            position += 1
            return node
        if token == ")" or token.upper() in _KEYWORDS:
            raise ValueError(f"unexpected {token!r}")
        exception = None
        if peek() == "WITH":
            if position + 1 >= len(tokens) or tokens[position + 1] in "()":
                raise ValueError("WITH names no exception")
            exception = canonical_exception(tokens[position + 1])
            position += 2
        return SpdxLicense(canonical_id(token), exception)

    node = parse_or()
    if position != len(tokens):
        raise ValueError(f"unexpected {tokens[position]!r}")
    return node


def render_spdx(node: SpdxNode) -> str:
    """The expression's text; an operand of the other operator is parenthesised, so grouping is explicit."""
    if isinstance(node, SpdxLicense):
        return node.id if node.exception is None else f"{node.id} WITH {node.exception}"

    def operand(child: SpdxNode) -> str:
        text = render_spdx(child)
        return f"({text})" if isinstance(child, SpdxCompound) and child.operator != node.operator else text

    return f"{operand(node.left)} {node.operator} {operand(node.right)}"


def spdx_licenses(node: SpdxNode) -> list[SpdxLicense]:
    """Every licence the expression names, left to right."""
    if isinstance(node, SpdxLicense):
        return [node]
    return spdx_licenses(node.left) + spdx_licenses(node.right)


def _satisfied(node: SpdxNode, allowed: frozenset[str]) -> bool:
    """True when some choice of ``OR`` branches uses only ``allowed`` ids (``WITH`` keeps the licence it
    qualifies: an exception only ever grants more; ``GPL-2.0+`` is read as ``GPL-2.0``)."""
    if isinstance(node, SpdxLicense):
        key = node.id.lower()
        return key in allowed or key.rstrip("+") in allowed
    left, right = _satisfied(node.left, allowed), _satisfied(node.right, allowed)
    return (left or right) if node.operator == "OR" else (left and right)


def _satisfiable(expression: str, allowed: frozenset[str]) -> bool:
    """Whether the expression can be met with ``allowed`` ids; a malformed expression cannot."""
    try:
        return _satisfied(parse_spdx(expression), allowed)
    except ValueError:
        return False


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
