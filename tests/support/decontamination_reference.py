"""Frozen copy of the decontamination search as it was in Python before it was compiled (branch point of
`native/src/decontamination.rs`, commit 0df5ff2): `token_bytes`, `_has_known_run`, `_window_hashes` and
the body of `DecontaminationIndex._hits`, here as a function of the index's tables so that tests can call
it with tables made for them (a word whose value is `_UNKNOWN`, keys that are windows holding unknown
words). `tests/core/test_native_decontamination.py` checks the compiled search against it; the index as a
whole is checked against `hotpath_reference.ReferenceDecontaminationIndex` (commit 4d5b659).
Do not "fix" or speed up anything here.
"""

from __future__ import annotations

import string
from itertools import repeat
from typing import Final

import numpy as np
import numpy.typing as npt

_UNKNOWN: Final = 0x1E3779B97F4A7C15
_BASE: Final = np.uint64(0xFF51AFD7ED558CCD)

U64 = npt.NDArray[np.uint64]

_WORD_BYTES: Final = bytes(
    0x20 if c < 0x80 and ((chr(c) in string.punctuation and c != ord("_")) or chr(c).isspace()) else c
    for c in b"".join(bytes([c]).lower() for c in range(256))
)
_UNICODE_SPACES: Final = tuple(
    chr(c).encode()
    for c in (0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000)
)


def token_bytes(text: str) -> list[bytes]:
    if text.isascii():
        data = text.encode("ascii")
    else:
        data = text.lower().encode("utf-8", "surrogatepass")
        if (
            b"\xc2" in data
            or b"\xe1\x9a" in data
            or b"\xe2\x80" in data
            or b"\xe2\x81" in data
            or b"\xe3\x80" in data
        ):
            for space in _UNICODE_SPACES:
                data = data.replace(space, b" ")
    return data.translate(_WORD_BYTES).split()


def _window_hashes(values: U64, ngram: int) -> U64:
    windows = len(values) - ngram + 1
    if windows <= 0:
        return np.empty(0, dtype=np.uint64)
    acc = values[:windows].copy()
    for offset in range(1, ngram):
        acc *= _BASE
        acc += values[offset : offset + windows]
    return acc


def _has_known_run(values: npt.NDArray[np.int64], ngram: int) -> bool:
    if len(values) < ngram:
        return False
    unknown = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum(values == _UNKNOWN, out=unknown[1:])
    return bool(np.any(unknown[ngram:] == unknown[:-ngram]))


class Tables:
    """What `_hits` read of the index: the vocabulary by word bytes, the sorted keys and the bitmap."""

    def __init__(self, vocab_bytes: dict[bytes, int], keys: U64, ngram: int):
        self._vocab_bytes = vocab_bytes
        self._keys = keys
        self.ngram = ngram
        slots = 1 << max(10, (16 * len(self._keys)).bit_length())
        self._slot_mask = np.uint64(slots - 1)
        self._bitmap = np.zeros(slots, dtype=np.bool_)
        self._bitmap[self._keys & self._slot_mask] = True

    def _hits(self, text: str) -> npt.NDArray[np.intp]:
        if not len(self._keys):
            return np.empty(0, dtype=np.intp)
        words = token_bytes(text)
        values = np.fromiter(
            map(self._vocab_bytes.get, words, repeat(_UNKNOWN)), dtype=np.int64, count=len(words)
        )
        if not _has_known_run(values, self.ngram):
            return np.empty(0, dtype=np.intp)
        hashes = _window_hashes(values.view(np.uint64), self.ngram)
        if not len(hashes):
            return np.empty(0, dtype=np.intp)
        hashes = hashes[self._bitmap[hashes & self._slot_mask]]
        if not len(hashes):
            return np.empty(0, dtype=np.intp)
        positions = np.searchsorted(self._keys, hashes)
        positions[positions == len(self._keys)] = 0
        found = positions[self._keys[positions] == hashes]
        return np.unique(found)
