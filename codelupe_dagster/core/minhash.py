"""MinHash signatures and LSH band keys for near-duplicate detection of source files.

A document is the set of 5-grams ("shingles") of its code tokens; two documents' MinHash
signatures agree in each position with probability equal to the Jaccard similarity of their
shingle sets. LSH splits the signature into `bands` bands of `rows` values; two documents land in
the same bucket of a band when all `rows` values agree, so a pair is a candidate with probability
1 - (1 - J**rows)**bands. The dedup ledger (`backends/dedup_ledger.py`) stores one bucket key per
band in Redis (`pipeline:lsh:<band>`), first writer wins.

Files with fewer than `shingle_size` tokens are skipped (no signature, no band keys): exact
dedup already handles identical tiny files, and a file of four tokens has no meaningful near copy.

Tokenising, token hashing, shingle hashing, the signature and the band keys are compiled
(`native/src/minhash.rs`: `_native.minhash_shingle_hashes`, `minhash_signature`, `minhash_band_keys`),
one call from text to shingle hashes or to the signature. They reproduce, bit for bit, what this module
did in Python with rensa 0.5.0 (`RMinHash.hash_token_sets` for token hashes,
`RMinHash.digest_matrix_from_flat_token_hashes` for the signature) and xxhash (band keys): the same
shingle hashes, signatures and band keys (`tests/core/test_native_minhash.py`,
`tests/core/test_hotpath_equivalence.py`). rensa stays installed only as the tests' oracle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from codelupe_dagster._native import minhash_band_keys, minhash_shingle_hashes, minhash_signature

# Tokens are runs of identifier characters (ASCII letters, digits, `_`, `$`, and any non-ASCII
# byte of the UTF-8 encoding), lowercased; operators and whitespace separate tokens. BigCode's
# near-dedup tokenizes the same way (split on non-alphanumerics). `code_tokens` does it with one
# bytes.translate + split; the compiled `shingle_hashes` and `signature` do the same per byte.
_IDENTIFIER_BYTES = set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$") | set(
    range(128, 256)
)
_TO_SPACES = bytes(c if c in _IDENTIFIER_BYTES else 0x20 for c in range(256))
# The same in one pass: ASCII upper case to lower case, then `_TO_SPACES` (what `.lower().translate`
# does in two).
_LOWER_TO_SPACES = bytes(_TO_SPACES[bytes([c]).lower()[0]] for c in range(256))


@dataclass(frozen=True)
class LSHParams:
    """MinHash/LSH parameters: 128 permutations, 18 bands of 7 rows, Jaccard threshold 0.5.

    Why these (measured by `bench/near_dup_recall.py` on real CPython and Go files, two seeds):
    near copies with 5-10% of their lines edited (renames, inserted and deleted lines, changed
    comments) have a 5-shingle Jaccard of 0.53-0.98 (median ~0.81), because one edited token
    changes five shingles; unrelated files of one language stay below ~0.35, with a thin tail of
    genuinely similar files at 0.4-0.5. The candidate probability 1-(1-J**7)**18 is 0.13 at
    J=0.5, 0.79 at 0.7 and 0.98 at 0.8; measured recall 0.96-0.97 and precision 0.995 (pairs
    below J=0.5 counted as false). Wider curves buy recall with precision: 20x6 gave recall
    0.98-1.0, precision 0.98; 32x4 recall 1.0, precision 0.85. Narrower ones lose recall: 16x8
    0.90-0.93, datatrove's 14x8 0.87-0.91, BigCode's 0.85-threshold shape 9x13 0.49. Fewer
    bands also mean fewer Redis entries per document (18 keys of 8 bytes).
    `threshold` is the Jaccard above which a pair counts as a true near duplicate when
    measuring precision; the LSH curve itself is set by bands and rows.
    Band keys depend on every field: changing one orphans the LSH buckets already in Redis.
    """

    num_perm: int = 128
    bands: int = 18
    rows: int = 7
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


def _token_bytes(text: str) -> list[bytes]:
    return text.encode("utf-8", "surrogatepass").translate(_LOWER_TO_SPACES).split()


def code_tokens(text: str) -> list[str]:
    """Lowercased identifier and number tokens, in order."""
    return [token.decode("utf-8", "surrogatepass") for token in _token_bytes(text)]


def shingles(tokens: Sequence[str], n: int = 5) -> list[str]:
    """Every run of `n` consecutive tokens, joined by a space; empty when there are fewer.

    The readable form of what `signature` hashes (it combines token hashes instead of building
    these strings).
    """
    if len(tokens) < n:
        return []
    return [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def shingle_hashes(text: str, n: int = 5) -> np.ndarray:
    """64-bit hashes of the `n`-token shingles of a text (empty array when it is too short).

    Each token is hashed once (rensa's token hash); a shingle's hash is a polynomial of its tokens'
    hashes in uint64 arithmetic (`h0 * 0x9E3779B97F4A7C15 ^ h1`, and so on, wrapping), so no
    shingle string is ever built. `n <= 0` gives the token hashes, as `n = 1` does.
    """
    return np.frombuffer(minhash_shingle_hashes(text, max(n, 1)), dtype=np.uint64)


def signature(text: str, params: LSHParams = DEFAULT_LSH) -> list[int]:
    """MinHash signature (`num_perm` unsigned 32-bit ints), or [] when the file is too short.

    rensa 0.5.0's R-MinHash of the shingle hashes with `params.seed`, computed in one native call.
    """
    return minhash_signature(text, params.shingle_size, params.num_perm, params.seed)


def band_keys(sig: Sequence[int], params: LSHParams = DEFAULT_LSH) -> list[bytes]:
    """One 8-byte bucket key per band; [] for an empty signature.

    The band index seeds the hash, so keys of different bands never collide even if a store
    keeps all bands in one table.
    """
    if not sig:
        return []
    # Compiled: xxh3_64_digest(array("I", sig)[band], seed=band) for each band, as xxhash gives it.
    return minhash_band_keys(sig, params.bands, params.rows)


def estimate_jaccard(sig_a: Sequence[int], sig_b: Sequence[int]) -> float:
    """Fraction of agreeing signature positions: an unbiased estimate of the Jaccard similarity."""
    if not sig_a or not sig_b:
        return 0.0
    if len(sig_a) != len(sig_b):
        raise ValueError(f"signatures differ in length: {len(sig_a)} != {len(sig_b)}")
    return sum(1 for a, b in zip(sig_a, sig_b, strict=True) if a == b) / len(sig_a)


def shingle_jaccard(text_a: str, text_b: str, n: int = 5) -> float:
    """Exact Jaccard similarity of two texts' shingle sets (for measurement, not the hot path)."""
    set_a = set(shingle_hashes(text_a, n).tolist())
    set_b = set(shingle_hashes(text_b, n).tolist())
    if not set_a and not set_b:
        return 1.0
    return len(set_a & set_b) / len(set_a | set_b)
