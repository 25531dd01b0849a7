"""Exact-duplicate identity: a normalized form of the content and its 16-byte digest.

The digest's hex is the document id everywhere (index `_id`, spool rows, Redis ledger), so two
copies that differ only in line endings or trailing whitespace are one document.
"""

from __future__ import annotations

import xxhash

DIGEST_BYTES = 16


def normalize_content(text: str) -> str:
    """CRLF/CR to LF, trailing whitespace stripped per line, trailing blank lines dropped.

    A non-empty result ends with exactly one newline, the way editors save files. Leading
    whitespace and blank lines inside the file are kept: they are part of the code.
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    # map(str.rstrip) strips exactly what a per-line rstrip() does (all Unicode whitespace, form
    # feeds included) without a Python-level loop; a `[ \t]+$` regex would keep "\f" and "\v".
    body = "\n".join(map(str.rstrip, text.split("\n"))).rstrip("\n")
    return body + "\n" if body else ""


def content_digest(text: str) -> bytes:
    """16 raw bytes identifying the normalized content (xxh3-128: fast, well distributed).

    Not a cryptographic hash; an adversary could collide it, which at worst drops one file
    from a public-code corpus.
    """
    return digest_normalized(normalize_content(text))


def digest_normalized(normalized: str) -> bytes:
    """Digest of text already passed through `normalize_content` (skips a second pass)."""
    return xxhash.xxh3_128_digest(normalized.encode("utf-8", "surrogatepass"))
