"""MinHash signatures and LSH band keys for near-duplicate detection of source files.

A document is the set of 5-grams ("shingles") of its code tokens; two documents' MinHash
signatures agree in each position with probability equal to the Jaccard similarity of their
shingle sets. LSH splits the signature into `bands` bands of `rows` values; two documents land in
the same bucket of a band when all `rows` values agree, so a pair is a candidate with probability
1 - (1 - J**rows)**bands. The Dagster layer stores one bucket key per band in Redis
(`pipeline:lsh:<band>`), first writer wins.

Files with fewer than `shingle_size` tokens are skipped (no signature, no band keys): exact
dedup already handles identical tiny files, and a file of four tokens has no meaningful near copy.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

import rensa
import xxhash

# Identifiers, numbers, and single punctuation characters (operators, brackets). Whitespace and
# case are dropped: reformatting or renaming case does not make a file new.
_TOKEN = re.compile(r"[a-z_$][a-z0-9_$]*|\d[\w.]*|[^\s\w]")


@dataclass(frozen=True)
class LSHParams:
    """MinHash/LSH parameters: 128 permutations, 32 bands of 4 rows, Jaccard threshold 0.5.

    Why these: planted near-copies (5-10% of lines edited: renames, inserted and deleted lines,
    changed comments) of real files have a 5-gram token Jaccard of about 0.55-0.85, because one
    edited token changes five shingles. A candidate curve centred at (1/32)**(1/4) ~= 0.42 catches
    J=0.55 pairs with probability 1-(1-0.55**4)**32 ~= 0.99, while pairs below J~0.25 (unrelated
    files of one language share boilerplate shingles) collide with probability < 0.12 per pair
    and in practice almost never on real code. `bench/near_dup_recall.py` measures recall and
    precision for these and alternatives (16x8, 20x5, 14x8 datatrove-like, 9x13 BigCode-like).
    `threshold` is the Jaccard above which a pair counts as a true near duplicate when scoring
    precision; the LSH curve itself is set by bands and rows.
    """

    num_perm: int = 128
    bands: int = 32
    rows: int = 4
    threshold: float = 0.5
    shingle_size: int = 5
    seed: int = 42

    def __post_init__(self) -> None:
        if self.num_perm <= 0 or self.bands <= 0 or self.rows <= 0 or self.shingle_size <= 0:
            raise ValueError(f"LSH parameters must be positive: {self}")
        if self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands*rows={self.bands * self.rows} exceeds num_perm={self.num_perm}")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1]: {self.threshold}")

    def candidate_probability(self, jaccard: float) -> float:
        """Probability that two documents of this Jaccard similarity share at least one band."""
        return 1.0 - (1.0 - jaccard**self.rows) ** self.bands


DEFAULT_LSH = LSHParams()


def code_tokens(text: str) -> list[str]:
    """Lowercased identifiers, numbers and operator characters, in order."""
    return _TOKEN.findall(text.lower())


def shingles(tokens: Sequence[str], n: int = 5) -> list[str]:
    """Every run of `n` consecutive tokens, joined by a space; empty when there are fewer."""
    if len(tokens) < n:
        return []
    return [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def signature(text: str, params: LSHParams = DEFAULT_LSH) -> list[int]:
    """MinHash signature (`num_perm` unsigned 32-bit ints), or [] when the file is too short."""
    grams = shingles(code_tokens(text), params.shingle_size)
    if not grams:
        return []
    minhash = rensa.RMinHash(num_perm=params.num_perm, seed=params.seed)
    minhash.update(grams)
    return list(minhash.digest())


def band_keys(sig: Sequence[int], params: LSHParams = DEFAULT_LSH) -> list[bytes]:
    """One 8-byte bucket key per band; [] for an empty signature.

    The band index seeds the hash, so keys of different bands never collide even if a store
    keeps all bands in one table.
    """
    if not sig:
        return []
    if len(sig) < params.bands * params.rows:
        raise ValueError(f"signature has {len(sig)} values, params need {params.bands * params.rows}")
    packed = array("I", sig).tobytes()
    width = 4 * params.rows
    return [xxhash.xxh3_64_digest(packed[b * width : (b + 1) * width], seed=b) for b in range(params.bands)]


def estimate_jaccard(sig_a: Sequence[int], sig_b: Sequence[int]) -> float:
    """Fraction of agreeing signature positions: an unbiased estimate of the Jaccard similarity."""
    if not sig_a or not sig_b:
        return 0.0
    if len(sig_a) != len(sig_b):
        raise ValueError(f"signatures differ in length: {len(sig_a)} != {len(sig_b)}")
    return sum(1 for a, b in zip(sig_a, sig_b, strict=True) if a == b) / len(sig_a)


def shingle_jaccard(text_a: str, text_b: str, n: int = 5) -> float:
    """Exact Jaccard similarity of two texts' shingle sets (for measurement, not the hot path)."""
    set_a = set(shingles(code_tokens(text_a), n))
    set_b = set(shingles(code_tokens(text_b), n))
    if not set_a and not set_b:
        return 1.0
    return len(set_a & set_b) / len(set_a | set_b)
