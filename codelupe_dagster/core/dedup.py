"""Exact-duplicate identity: a normalized form of the content and its 16-byte digest.

The digest's hex is the document id everywhere (index `_id`, spool rows, Redis ledger), so two
copies that differ only in line endings or trailing whitespace are one document.
"""

from __future__ import annotations

import numpy as np
import xxhash

from codelupe_dagster._native import Normalizer

DIGEST_BYTES = 16


def _whitespace() -> list[int]:
    """Every code point for which `str.isspace()` (and so `str.rstrip()`) holds in this Python.

    The BMP is tested character by character (~7 ms); the astral planes hold no whitespace in any
    Unicode version so far, which one `str.split()` over all of them confirms (~10 ms; should a future
    Unicode add some, they are tested one by one too).
    """
    spaces = [code for code in range(0x10000) if chr(code).isspace()]
    astral = np.arange(0x10000, 0x110000, dtype="<u4").tobytes().decode("utf-32-le")
    if astral.split() != [astral]:
        spaces += [code for code in range(0x10000, 0x110000) if chr(code).isspace()]
    return spaces


_NORMALIZER = Normalizer(_whitespace())


def normalize_content(text: str) -> str:
    """CRLF/CR to LF, trailing whitespace stripped per line, trailing blank lines dropped.

    A non-empty result ends with exactly one newline, the way editors save files. Leading
    whitespace and blank lines inside the file are kept: they are part of the code. Trailing
    whitespace is what `str.rstrip()` strips (all Unicode whitespace, form feeds included).

    Compiled (`native/src/content_stats.rs`): the result is
    `"\\n".join(map(str.rstrip, text.split("\\n"))).rstrip("\\n") + "\\n"` (empty when that is empty)
    after CRLF/CR to LF, with this Python's whitespace table; an already normalised text is returned
    as is.
    """
    return _NORMALIZER.normalize(text)


def content_digest(text: str) -> bytes:
    """16 raw bytes identifying the normalized content (xxh3-128: fast, well distributed).

    Not a cryptographic hash; an adversary could collide it, which at worst drops one file
    from a public-code corpus.
    """
    return digest_normalized(normalize_content(text))


def digest_normalized(normalized: str) -> bytes:
    """Digest of text already passed through `normalize_content` (skips a second pass)."""
    return xxhash.xxh3_128_digest(normalized.encode("utf-8", "surrogatepass"))
