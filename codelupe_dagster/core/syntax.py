"""What the quality scanner knows about a language's surface syntax, and the pieces languages share.

A `Syntax` is part of each language's entry in `core.languages`; the scanner in `core.quality` reads
nothing else about a language. Lexical on purpose: a real parser costs ~1 ms per file (DESIGN §5).
"""

from __future__ import annotations

from dataclasses import dataclass


def keywords(*words: str) -> frozenset[bytes]:
    """Branch and loop keywords as the bytes the scanner compares whole words against."""
    return frozenset(word.encode() for word in words)


C_KEYWORDS = keywords("if", "for", "while", "switch", "case", "catch")


@dataclass(frozen=True)
class Syntax:
    """What the lexical scanner needs to know about a language."""

    line_comments: tuple[str, ...] = ()
    block_comments: tuple[tuple[str, str], ...] = ()
    doc_block_starts: tuple[str, ...] = ()  # a block comment opened with one of these is documentation
    doc_line_prefixes: tuple[str, ...] = ()  # a line comment with one of these prefixes is documentation
    python_docstrings: bool = False
    # Branch and loop keywords, matched as whole words (see `quality._word_lines`).
    keywords: frozenset[bytes] = C_KEYWORDS
    keywords_ignore_case: bool = False
    # A comment run directly above a line starting with one of these is a doc comment (Go, Ruby,
    # Lua, ...). Prefixes, not a regex: str.startswith is ~5x cheaper per code line.
    definition: tuple[str, ...] = ()


HASH = ("#",)
SLASH = ("//",)
C_BLOCK = (("/*", "*/"),)
JAVADOC = ("/**", "/*!")
C_FAMILY = Syntax(SLASH, C_BLOCK, JAVADOC, ("///", "//!"), keywords=C_KEYWORDS)

# Unknown or unlisted languages: accept the common comment markers of both families.
GENERIC_SYNTAX = Syntax(("#", "//", "--"), C_BLOCK, JAVADOC, ("///",))


@dataclass(frozen=True)
class SeedSyntax:
    """What seed_v1 knows about a language: kept as the old pipeline had it, for comparability."""

    comment_prefixes: tuple[str, ...] = ("//", "/*", "*")  # a line starting with one is a comment
    docstring_markers: tuple[str, ...] = ("/**", "///", '"""')  # any of them in the file: docstrings


C_SEED = SeedSyntax()
HASH_SEED = SeedSyntax(("#",))
# seed_v1 on a file of unknown language (None): any family's comment marker.
ANY_SEED = SeedSyntax(("#", "//", "/*", "*", "--"))
