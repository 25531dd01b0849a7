"""Overlap of a document with evaluation sets (HumanEval, a user's JSONL), by long token n-grams.

A document that holds a long run of an evaluation problem's text — its prompt, its solution, its tests —
would leak the answer into a model trained on it, so it is marked ``contaminated`` with the set's name and
left out of training and export (`core.corpus_policy`). The test is the one that BigCode (StarCoder) and
datatrove use, written here from their published descriptions: shared long n-grams after normalisation.

How a text is read:

- lower-cased, ASCII punctuation turned into spaces, then split into words (``a.b(c)`` is ``a b c``;
  ``_`` stays part of a word). Whitespace and punctuation are ignored, so re-indenting, re-wrapping,
  changing quotes or line endings does not hide an overlap; renaming, reordering or rewriting does, and
  is out of scope (an n-gram test finds copies, not paraphrases);
- every run of ``ngram`` consecutive words is hashed to 64 bits: each word has a fixed value (xxh3 of
  the word) and a window's hash is a polynomial of its words' values (numpy, when the index is built).
  Words that occur nowhere in the evaluation sets get one shared value, so the windows that hold them
  match nothing (up to a 2^-64 collision). A text without ``ngram`` consecutive known words has no hit.
  The search of a text is compiled (`native/src/decontamination.rs`, `_native.DecontaminationSearch`:
  the words, their values, that prefilter, the window hashes and their exact lookup in one call, with
  the same words, hashes and answers as the numpy code it replaced, tested against a frozen copy).

What counts as an overlap: a set flags a document when the two share at least ``min_matches`` distinct
n-grams. One contiguous shared run of L tokens gives L - ngram + 1 of them, so the two parameters
together say how long a copied run must be. Two kinds of n-gram are left out of the index, because they
are not a problem's own text: those that occur in more than ``max_records`` records of the evaluation
sets (``def check(candidate):``, a ``METADATA`` block), and those in which fewer than half of the words
hold a letter (``1, 2, 3, 4, ...``, ``1.0, 2.0, 3.9``, ``'one': 1, 'two': 2``), which the CPython
test suite and any data file share with an evaluation set's test cases. The defaults
are measured in `bench/decontamination.py` (false positives on the CPython standard library, recall on
planted copies; docs/decontamination.md).
"""

from __future__ import annotations

import functools
import re
import string
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Final

import numpy as np
import numpy.typing as npt
import xxhash

from codelupe_dagster._native import DecontaminationSearch, WordSplitter

# Tokens per n-gram, distinct shared n-grams per set that flag a document, and the most records of the
# evaluation sets an indexed n-gram may occur in (more is boilerplate). See the module docstring.
DEFAULT_NGRAM: Final = 13
DEFAULT_MIN_MATCHES: Final = 3
DEFAULT_MAX_RECORDS: Final = 3

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


# The same words as bytes, for matching: `bytes.translate` and `bytes.split` run in C at a few times the
# speed of `str.translate` with a dict (most of the matching cost before). Per byte: ASCII upper case to
# lower case; ASCII punctuation but `_`, and ASCII whitespace as `str.split` sees it (\t \n \v \f \r,
# \x1c-\x1f, space), to a space; every other byte (control characters, UTF-8 of other characters) stays
# part of a word.
_WORD_BYTES: Final = bytes(
    0x20 if c < 0x80 and ((chr(c) in string.punctuation and c != ord("_")) or chr(c).isspace()) else c
    for c in b"".join(bytes([c]).lower() for c in range(256))
)
# The UTF-8 of the characters beyond ASCII that `str.split` separates words at (str.isspace; the tests
# enumerate every code point). All but three start with E2 80.
_UNICODE_SPACES: Final = tuple(
    chr(c).encode()
    for c in (0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000)
)


# The compiled word splitter (`native/src/decontamination.rs`) reads a text with these two tables: an
# all-ASCII text as its bytes, any other as the UTF-8 (surrogatepass) of Python's `text.lower()` (Unicode
# lower-casing is not per byte: the Kelvin sign becomes "k", a final sigma depends on its neighbours;
# lowering never turns a word character into a separator or the other way round, tested).
_SPLITTER: Final = WordSplitter(_WORD_BYTES, list(_UNICODE_SPACES))


def token_bytes(text: str) -> list[bytes]:
    """`tokens(text)`, each word UTF-8 encoded (lone surrogates passed through), compiled."""
    return _SPLITTER.words(text)


@functools.cache
def _lowerings() -> dict[str, frozenset[str]] | None:
    """Every character beyond ASCII that `lower()` changes, with its lowerings (in a block of code points,
    alone, and at the end of a word after a cased letter: the final sigma is the one lowering that
    depends on its context), read from the running Python; None if `lower()` turns some character
    between word and separator (it does not: tested). Once per process, a few tens of ms: the code points
    are lowered in blocks, one character by one only in a block whose length changes."""
    separators = {chr(c) for c in range(0x80) if _WORD_BYTES[c] == 0x20}
    separators |= {space.decode() for space in _UNICODE_SPACES}
    found = re.compile("[" + re.escape("".join(sorted(separators))) + "]")

    def kept(char: str, lowered: str) -> bool:
        return set(lowered) <= separators if char in separators else not set(lowered) & separators

    def contexts(char: str, *more: str) -> frozenset[str]:
        return frozenset((*more, char.lower(), ("A" + char).lower()[1:]))

    if not all(kept(chr(c), chr(c).lower()) and chr(c).lower().isascii() for c in range(0x80)):
        return None
    changed: dict[str, frozenset[str]] = {}
    for first, last in ((0x80, 0xD800), (0xE000, sys.maxunicode + 1)):
        for start in range(first, last, 4096):
            codes = np.arange(start, min(start + 4096, last), dtype="<u4")
            block = codes.tobytes().decode("utf-32-le")
            lowered = block.lower()
            if len(lowered) == len(block):  # one character each: the block's classes and lowerings align
                if [m.start() for m in found.finditer(block)] != [m.start() for m in found.finditer(lowered)]:
                    return None
                differ = np.flatnonzero(codes != np.frombuffer(lowered.encode("utf-32-le"), dtype="<u4"))
                changed |= {block[i]: contexts(block[i], lowered[i]) for i in differ.tolist()}
            else:
                changed |= {char: contexts(char) for char in block if char.lower() != char}
    surrogates = "".join(map(chr, range(0xD800, 0xE000)))  # lone surrogates lower to themselves
    if surrogates.lower() != surrogates:
        return None
    if not all(kept(char, low) for char, lows in changed.items() for low in lows):
        return None
    return changed


def _lower_first(words: Iterable[str]) -> list[bytes] | None:
    """The characters beyond ASCII some lowering of which is made only of ASCII and of characters of
    the vocabulary `words`: a text's word made only of ASCII and of these may lower to a vocabulary
    word, any other word holding a character beyond ASCII cannot (`values_unlowered` in
    `native/src/decontamination.rs`); None when `_lowerings` is."""
    lowerings = _lowerings()
    if lowerings is None:
        return None
    held = {char for word in words if not word.isascii() for char in word if not char.isascii()}
    chars = {char for char in held if char not in lowerings}  # they lower to themselves
    chars |= {
        char
        for char, lows in lowerings.items()
        if any(all(c.isascii() or c in held for c in low) for low in lows)
    }
    return sorted(char.encode("utf-8", "surrogatepass") for char in chars)


def _token_value(token: str) -> int:
    # 63 bits: numpy converts a list of ints below 2^63 to int64 without a slow path.
    return int(xxhash.xxh3_64_intdigest(token.encode("utf-8", "surrogatepass"))) & _LOW_63


def _has_letter(token: str) -> bool:
    return not token.isdigit() and any(char.isalpha() for char in token)


def _run_starts(ordered: U64) -> npt.NDArray[np.intp]:
    """Where each run of equal values of the sorted `ordered` starts: `np.unique`'s `return_index` for a
    sorted array, without `np.unique`, whose first call imports `numpy.ma` (0.04 s in every scoring
    forkserver that builds the index)."""
    if not len(ordered):
        return np.empty(0, dtype=np.intp)
    return np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))


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


@dataclass(frozen=True)
class EvalSet:
    """An evaluation set: a name and its records, each record the texts that must not leak (a prompt,
    its solution, its tests, and any concatenation of them the caller wants matched across a boundary)."""

    name: str
    records: tuple[tuple[str, ...], ...]

    def __post_init__(self) -> None:
        if not self.name or "," in self.name or self.name != self.name.strip():
            raise ValueError(f"an evaluation set name must be non-empty, without commas: {self.name!r}")


@dataclass(frozen=True)
class Overlap:
    """What one set shares with a document: distinct n-grams, and the records that hold them."""

    name: str
    ngrams: int
    records: tuple[int, ...]  # indexes into the set's records that hold any of them, sorted


class DecontaminationIndex:
    """The n-grams of some evaluation sets, built once; `matches(text)` names the sets a text overlaps.

    Memory: 16 bytes per indexed n-gram plus one dict entry per distinct token (HumanEval: about 60k
    n-grams, under 2 MB), and the compiled search's copy of both. Matching costs one pass over the text's
    bytes, one hash lookup per word and, in a text with ``ngram`` consecutive known words, a rolling hash
    and a bit test per window; see `bench/decontamination.py` for files per second.
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
        # `_has_letter` of each distinct word, learned with the vocabulary: a set's ~55k words are a few
        # thousand distinct ones, and the index is built on the scoring workers' start-up path.
        self._lettered: dict[str, bool] = {}
        self._record_offsets: list[int] = []  # global record number of each set's first record
        self._record_set: list[int] = []  # the set of each global record number
        # Every (n-gram, record) pair, sorted by n-gram: only `overlaps` reads them, to name records.
        self._pair_keys: U64 = np.empty(0, np.uint64)
        self._pair_records: npt.NDArray[np.int64] = np.empty(0, np.int64)
        self._keys, self._owners = self._build(sets)
        # The per-text search is compiled: it holds the vocabulary by each word's bytes (words are read
        # as `token_bytes`) and the keys, and returns `_hits` in one call.
        self._search = DecontaminationSearch(
            _SPLITTER,
            vocabulary={word.encode("utf-8", "surrogatepass"): value for word, value in self._vocab.items()},
            keys=self._keys.astype("<u8").tobytes(),
            ngram=ngram,
            lower_first=_lower_first(self._vocab),
        )

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
            known = self._lettered
            for token in toks:
                if token not in known:
                    known[token] = _has_letter(token)
            lettered = np.fromiter(map(known.__getitem__, toks), dtype=np.int64, count=len(toks))
            in_window = np.convolve(lettered, np.ones(self.ngram, dtype=np.int64), mode="valid")
            parts.append(hashes[2 * in_window >= self.ngram])
        if not parts:
            return np.empty(0, dtype=np.uint64)
        ordered = np.sort(np.concatenate(parts))
        return ordered[_run_starts(ordered)]

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
        starts = _run_starts(all_keys)
        unique = all_keys[starts]
        counts = np.diff(starts, append=len(all_keys))
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

    def _hits(self, text: str) -> list[int]:
        """Positions in the index of the distinct n-grams the text shares with it, sorted: the words
        (`token_bytes`), their values, the known-run prefilter, every window's hash and its exact lookup
        in one compiled call (`native/src/decontamination.rs` states the semantics)."""
        return self._search.hits(text)

    def overlaps(self, text: str) -> list[Overlap]:
        """Per set that shares any n-gram with the text: how many, and which of its records hold them
        (whether or not that reaches `min_matches`); for reports and for inspecting a flag."""
        found_at = self._hits(text)
        if not found_at:
            return []
        hits = np.array(found_at, dtype=np.intp)
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
        owners = self._owners[np.array(hits, dtype=np.intp)]
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
