"""Frozen copies of the per-file hot path as it was at commit 4d5b659, before issue 12's speed work.

`tests/core/test_hotpath_equivalence.py` checks that today's `core/decontamination.py`, `core/minhash.py`,
`core/dedup.py` and `license_detection.license_header` give exactly these answers on real files. Do not
"fix" or speed up anything here: this module is the definition of the results the fast code must keep
(MinHash band keys live in Redis; a changed bit would orphan every bucket stored before).
"""

from __future__ import annotations

import re
import shutil
import string
import subprocess
import sysconfig
from array import array
from collections.abc import Iterable, Sequence
from itertools import repeat
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import rensa
import xxhash

from codelupe_dagster.core.decontamination import (
    DEFAULT_MAX_RECORDS,
    DEFAULT_MIN_MATCHES,
    DEFAULT_NGRAM,
    EvalSet,
    Overlap,
)
from codelupe_dagster.core.license_detection import HEADER_LINES, LicenseData, parse_expression
from codelupe_dagster.core.minhash import DEFAULT_LSH, LSHParams

# ----------------------------------------------------------------------------- decontamination

_PUNCTUATION_TO_SPACE: Final = str.maketrans({char: " " for char in string.punctuation if char != "_"})
# The value of every token that no evaluation set holds: windows holding it match nothing.
_UNKNOWN: Final = 0x1E3779B97F4A7C15
_LOW_63: Final = (1 << 63) - 1
# The odd multiplier of the polynomial window hash (arithmetic wraps modulo 2^64).
_BASE: Final = np.uint64(0xFF51AFD7ED558CCD)
_MAX_SETS: Final = 64  # owners are a bit mask per n-gram

U64 = npt.NDArray[np.uint64]


def tokens(text: str) -> list[str]:
    """The text's words: lower-cased, split at whitespace and ASCII punctuation (``_`` excepted)."""
    return text.lower().translate(_PUNCTUATION_TO_SPACE).split()


def _token_value(token: str) -> int:
    # 63 bits: numpy converts a list of ints below 2^63 to int64 without a slow path.
    return int(xxhash.xxh3_64_intdigest(token.encode("utf-8", "surrogatepass"))) & _LOW_63


def _has_letter(token: str) -> bool:
    return not token.isdigit() and any(char.isalpha() for char in token)


def _window_hashes(values: U64, ngram: int) -> U64:
    """The hash of every run of `ngram` consecutive values (empty when there are fewer)."""
    windows = len(values) - ngram + 1
    if windows <= 0:
        return np.empty(0, dtype=np.uint64)
    acc = values[:windows].copy()
    for offset in range(1, ngram):
        acc *= _BASE
        acc += values[offset : offset + windows]
    return acc


class ReferenceDecontaminationIndex:
    """The n-grams of some evaluation sets, built once; `matches(text)` names the sets a text overlaps.

    Memory: 16 bytes per indexed n-gram plus one dict entry per distinct token (HumanEval: about 60k
    n-grams, under 2 MB). Matching costs one regex pass, one dict lookup per token, `ngram` vector
    operations and one binary search per window; see `bench/decontamination.py` for files per second.
    """

    def __init__(
        self,
        sets: Sequence[EvalSet],
        ngram: int = DEFAULT_NGRAM,
        min_matches: int = DEFAULT_MIN_MATCHES,
        max_records: int = DEFAULT_MAX_RECORDS,
    ):
        if ngram < 2 or min_matches < 1 or max_records < 1:
            raise ValueError("ngram must be >= 2, min_matches and max_records >= 1")
        if len(sets) > _MAX_SETS:
            raise ValueError(f"at most {_MAX_SETS} evaluation sets at once, got {len(sets)}")
        names = [item.name for item in sets]
        if len(set(names)) != len(names):
            raise ValueError(f"evaluation set names must be unique: {names}")
        self.names: tuple[str, ...] = tuple(names)
        self.ngram = ngram
        self.min_matches = min_matches
        self.max_records = max_records
        self._vocab: dict[str, int] = {}
        self._record_offsets: list[int] = []  # global record number of each set's first record
        self._record_set: list[int] = []  # the set of each global record number
        # Every (n-gram, record) pair, sorted by n-gram: only `overlaps` reads them, to name records.
        self._pair_keys: U64 = np.empty(0, np.uint64)
        self._pair_records: npt.NDArray[np.int64] = np.empty(0, np.int64)
        self._keys, self._owners = self._build(sets)
        # A byte per slot, about 16 slots per key: one gather rejects ~94% of the windows that are not
        # indexed before the binary search, which costs a cache miss per step.
        slots = 1 << max(10, (16 * len(self._keys)).bit_length())
        self._slot_mask = np.uint64(slots - 1)
        self._bitmap = np.zeros(slots, dtype=np.bool_)
        self._bitmap[self._keys & self._slot_mask] = True

    # ----------------------------------------------------------------- building

    def _values(self, toks: Sequence[str], learn: bool) -> U64:
        vocab = self._vocab
        if learn:
            for token in toks:
                if token not in vocab:
                    vocab[token] = _token_value(token)
        values = np.fromiter(map(vocab.get, toks, repeat(_UNKNOWN)), dtype=np.int64, count=len(toks))
        return values.view(np.uint64)

    def _record_hashes(self, texts: Iterable[str]) -> U64:
        """The distinct indexable n-grams of one record: windows where at least half the words hold a
        letter (see the module docstring)."""
        parts: list[U64] = []
        for text in texts:
            toks = tokens(text)
            hashes = _window_hashes(self._values(toks, learn=True), self.ngram)
            if not len(hashes):
                continue
            lettered = np.fromiter(map(_has_letter, toks), dtype=np.int64, count=len(toks))
            in_window = np.convolve(lettered, np.ones(self.ngram, dtype=np.int64), mode="valid")
            parts.append(hashes[2 * in_window >= self.ngram])
        return np.unique(np.concatenate(parts)) if parts else np.empty(0, dtype=np.uint64)

    def _build(self, sets: Sequence[EvalSet]) -> tuple[U64, U64]:
        keys: list[U64] = []
        owners: list[U64] = []
        records: list[npt.NDArray[np.int64]] = []
        for bit, item in enumerate(sets):
            self._record_offsets.append(len(self._record_set))
            for record in item.records:
                hashes = self._record_hashes(record)
                keys.append(hashes)
                owners.append(np.full(len(hashes), np.uint64(1 << bit), dtype=np.uint64))
                records.append(np.full(len(hashes), len(self._record_set), dtype=np.int64))
                self._record_set.append(bit)
        if not keys:
            return np.empty(0, np.uint64), np.empty(0, np.uint64)
        all_keys = np.concatenate(keys)
        order = np.argsort(all_keys, kind="stable")
        all_keys = all_keys[order]
        unique, starts, counts = np.unique(all_keys, return_index=True, return_counts=True)
        if not len(unique):
            return unique, np.empty(0, np.uint64)
        merged = np.bitwise_or.reduceat(np.concatenate(owners)[order], starts)
        # Each record contributes a key once, so a key's count is the number of records holding it.
        keep = counts <= self.max_records
        kept_rows = np.repeat(keep, counts)
        self._pair_keys = all_keys[kept_rows]
        self._pair_records = np.concatenate(records)[order][kept_rows]
        return unique[keep], merged[keep]

    # ----------------------------------------------------------------- matching

    def __len__(self) -> int:
        """Indexed n-grams."""
        return len(self._keys)

    def _hits(self, text: str) -> npt.NDArray[np.intp]:
        """Positions in the index of the distinct n-grams the text shares with it."""
        if not len(self._keys):
            return np.empty(0, dtype=np.intp)
        hashes = _window_hashes(self._values(tokens(text), learn=False), self.ngram)
        if not len(hashes):
            return np.empty(0, dtype=np.intp)
        hashes = hashes[self._bitmap[hashes & self._slot_mask]]
        if not len(hashes):
            return np.empty(0, dtype=np.intp)
        positions = np.searchsorted(self._keys, hashes)
        positions[positions == len(self._keys)] = 0
        found = positions[self._keys[positions] == hashes]
        return np.unique(found)

    def overlaps(self, text: str) -> list[Overlap]:
        """Per set that shares any n-gram with the text: how many, and which of its records hold them
        (whether or not that reaches `min_matches`); for reports and for inspecting a flag."""
        hits = self._hits(text)
        if not len(hits):
            return []
        owners = self._owners[hits]
        shared_keys = self._keys[hits]
        low = np.searchsorted(self._pair_keys, shared_keys, side="left")
        high = np.searchsorted(self._pair_keys, shared_keys, side="right")
        rows = np.concatenate([np.arange(start, end) for start, end in zip(low, high, strict=True)])
        records = np.unique(self._pair_records[rows])
        found: list[Overlap] = []
        for bit, name in enumerate(self.names):
            shared = int(np.count_nonzero(owners & np.uint64(1 << bit)))
            if shared:
                offset = self._record_offsets[bit]
                mine = tuple(int(r) - offset for r in records if self._record_set[int(r)] == bit)
                found.append(Overlap(name, shared, mine))
        return found

    def matches(self, text: str) -> tuple[str, ...]:
        """The sets the text overlaps (at least `min_matches` shared n-grams each), sorted by name."""
        hits = self._hits(text)
        if len(hits) < self.min_matches:
            return ()
        owners = self._owners[hits]
        flagged = [
            name
            for bit, name in enumerate(self.names)
            if np.count_nonzero(owners & np.uint64(1 << bit)) >= self.min_matches
        ]
        return tuple(sorted(flagged))

    def contaminated(self, text: str) -> str | None:
        """The document field: the sets' names comma-separated, or None for a clean text."""
        names = self.matches(text)
        return ",".join(names) if names else None


# ----------------------------------------------------------------------------- minhash

_IDENTIFIER_BYTES = set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$") | set(
    range(128, 256)
)
_TO_SPACES = bytes(c if c in _IDENTIFIER_BYTES else 0x20 for c in range(256))
_SHINGLE_MIX = np.uint64(0x9E3779B97F4A7C15)


def _token_bytes(text: str) -> list[bytes]:
    return text.encode("utf-8", "surrogatepass").lower().translate(_TO_SPACES).split()


def code_tokens(text: str) -> list[str]:
    return [token.decode("utf-8", "surrogatepass") for token in _token_bytes(text)]


def shingle_hashes(text: str, n: int = 5) -> np.ndarray:
    tokens = _token_bytes(text)
    if len(tokens) < n:
        return np.empty(0, dtype=np.uint64)
    hashes = np.array(rensa.RMinHash.hash_token_sets([tokens])[0], dtype=np.uint64)
    count = len(tokens) - n + 1
    combined = hashes[:count].copy()
    for offset in range(1, n):
        combined *= _SHINGLE_MIX
        combined ^= hashes[offset : offset + count]
    return combined


def signature(text: str, params: LSHParams = DEFAULT_LSH) -> list[int]:
    hashes = shingle_hashes(text, params.shingle_size)
    if len(hashes) == 0:
        return []
    matrix = rensa.RMinHash.digest_matrix_from_flat_token_hashes(
        hashes, [0, len(hashes)], params.num_perm, params.seed
    )
    return list(matrix.to_rows()[0])


def band_keys(sig: Sequence[int], params: LSHParams = DEFAULT_LSH) -> list[bytes]:
    if not sig:
        return []
    if len(sig) < params.bands * params.rows:
        raise ValueError(f"signature has {len(sig)} values, params need {params.bands * params.rows}")
    packed = array("I", sig).tobytes()
    width = 4 * params.rows
    return [xxhash.xxh3_64_digest(packed[b * width : (b + 1) * width], seed=b) for b in range(params.bands)]


# ----------------------------------------------------------------------------- dedup


def normalize_content(text: str) -> str:
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    body = "\n".join(map(str.rstrip, text.split("\n"))).rstrip("\n")
    return body + "\n" if body else ""


def content_digest(text: str) -> bytes:
    return xxhash.xxh3_128_digest(normalize_content(text).encode("utf-8", "surrogatepass"))


# ----------------------------------------------------------------------------- license_header

_SPDX_TAG = re.compile(r"SPDX-License-Identifier:\s*(.+)", re.IGNORECASE)
_TAG_END = re.compile(r"\s*(?:\*/|-->|--\}|#\}|\*\)|\"\"\"|'''|-%\}|%>|\*/\s*\)?)\s*$")


def license_header(text: str, data: LicenseData | None = None) -> str | None:
    for line in text.splitlines()[:HEADER_LINES]:
        found = _SPDX_TAG.search(line)
        if found:
            value = _TAG_END.sub("", found.group(1)).strip().rstrip(";,.")
            return parse_expression(value, data)
    return None


# ----------------------------------------------------------------------------- corpus


def real_corpus(python_files: int = 2000, go_files: int = 1000) -> list[tuple[str, str]]:
    """(path, text) of real source files found on this machine at run time: CPython's standard library
    (`sysconfig`) and Go's tree (`go env GOROOT`, skipped when Go is not installed), every n-th file so
    that the sample spans the whole tree; decoded as the file stage does (UTF-8, surrogateescape)."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    python = [p for p in sorted(stdlib.rglob("*.py")) if "-packages" not in str(p.relative_to(stdlib))]
    go: list[Path] = []
    goroot = (
        shutil.which("go")
        and subprocess.run(
            ["go", "env", "GOROOT"], capture_output=True, text=True, check=False
        ).stdout.strip()
    )
    if goroot:
        go = sorted(Path(goroot, "src").rglob("*.go"))
    picked = _spread(python, python_files) + _spread(go, go_files)
    return [
        (str(path), path.read_bytes().decode("utf-8", "surrogateescape")) for path in picked if path.is_file()
    ]


def _spread(paths: list[Path], count: int) -> list[Path]:
    if len(paths) <= count:
        return paths
    step = len(paths) / count
    return [paths[int(i * step)] for i in range(count)]
