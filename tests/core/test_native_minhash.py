"""The compiled MinHash (`codelupe_dagster._native`, `native/src/minhash.rs`) is the one in use, and it gives
the shingle hashes, signatures and band keys of the Python + rensa 0.5.0 code it replaced, bit for bit.

Oracles: the frozen Python of commit 4d5b659 (`tests/support/hotpath_reference.py`, which calls the
installed rensa) for whole texts, and rensa itself for the two pieces reproduced from it: the token hash
(`RMinHash.hash_token_sets` on bytes tokens) and the digest (`RMinHash.digest_matrix_from_flat_token_hashes`).
Texts: CPython's and Go's sources found at run time, raw (CRLF, undecodable bytes as lone surrogates) and
adversarial ones (non-ASCII letters, digits and spaces, combining marks, surrogates, control characters,
NUL, empty, very long lines, random mixtures).
"""

from __future__ import annotations

import importlib
import random

import numpy as np
import pytest
import rensa

from codelupe_dagster._native import minhash_digest, minhash_token_hashes
from codelupe_dagster.core import minhash
from codelupe_dagster.core.minhash import LSHParams
from tests.support import hotpath_reference as ref


def _rensa_digest(hashes: list[int], num_perm: int, seed: int) -> list[int]:
    flat = np.array(hashes, dtype=np.uint64)
    matrix = rensa.RMinHash.digest_matrix_from_flat_token_hashes(flat, [0, len(flat)], num_perm, seed)
    return list(matrix.to_rows()[0])


def test_native_module_is_built_and_used() -> None:
    # No fallback: without the extension (`pip install -e .` builds it from native/) minhash does not import.
    native = importlib.import_module("codelupe_dagster._native")
    assert vars(minhash)["minhash_shingle_hashes"] is native.minhash_shingle_hashes
    assert vars(minhash)["minhash_signature"] is native.minhash_signature
    assert "rensa" not in vars(minhash)


def test_rensa_is_the_version_reproduced() -> None:
    # rensa's R-MinHash changed between releases (0.5.0 is ALGORITHM_VERSION 2, a bucket sketch); the
    # compiled digest reproduces that one, and the equivalence tests below need that oracle.
    assert rensa.RMinHash.ALGORITHM_VERSION == 2


def test_token_hash_is_rensas_for_every_length_branch() -> None:
    rng = random.Random(5)
    tokens = [bytes([b]) for b in range(256)] + [b""]
    for length in range(0, 80):  # 0, 1-3, 4-7, 8-16 and the 16-byte block loop, each with tails
        tokens += [bytes(rng.randrange(256) for _ in range(length)) for _ in range(20)]
    tokens += [bytes(rng.randrange(256) for _ in range(rng.randrange(100, 5000))) for _ in range(50)]
    assert minhash_token_hashes(tokens) == rensa.RMinHash.hash_token_sets([tokens])[0]


@pytest.mark.parametrize("num_perm", [1, 2, 3, 7, 16, 100, 128, 256])
def test_digest_is_rensas(num_perm: int) -> None:
    rng = random.Random(num_perm)
    # Few hashes leave coordinates that no bucket round reaches (rensa's fallback); many fill them all.
    for size in (1, 2, 5, 8, 31, 32, 33, 64, 100, 129, 400, 1000, 5000):
        for seed in (0, 42, 2**64 - 1):
            hashes = [rng.getrandbits(64) for _ in range(size)]
            if size > 4:
                hashes += [*hashes[:3], 0, 2**64 - 1]  # repeats and the extremes
            expected = _rensa_digest(hashes, num_perm, seed)
            assert minhash_digest(hashes, num_perm, seed) == expected, (size, seed)
    assert minhash_digest([], num_perm, 42) == [2**32 - 1] * num_perm


def test_digest_of_very_many_hashes_is_rensas() -> None:
    # rensa switches to filtered paths from 65,536 and from 2**20 hashes; the minimum is the same.
    rng = np.random.default_rng(3)
    for size in (70_000, (1 << 20) + 5):
        hashes = rng.integers(0, 2**64, size=size, dtype=np.uint64)
        flat = hashes.tolist()
        assert minhash_digest(flat, 128, 42) == _rensa_digest(flat, 128, 42), size


def test_digest_rejects_zero_permutations() -> None:
    with pytest.raises(ValueError, match="num_perm"):
        minhash_digest([1, 2, 3], 0, 42)


def test_band_keys_are_xxhashs() -> None:
    rng = random.Random(17)
    shapes = [(18, 7, 128), (32, 4, 128), (1, 1, 1), (8, 16, 128), (10, 10, 100), (3, 5, 16)]
    for bands, rows, num_perm in shapes:
        params = LSHParams(num_perm=num_perm, bands=bands, rows=rows)
        for _ in range(200):
            sig = [rng.choice([0, 1, 2**31, 2**32 - 1, rng.getrandbits(32)]) for _ in range(num_perm)]
            assert minhash.band_keys(sig, params) == ref.band_keys(sig, params)
            assert minhash.band_keys(tuple(sig), params) == ref.band_keys(sig, params)
    assert minhash.band_keys([]) == ref.band_keys([]) == []
    for bad, error in (([1] * 10, ValueError), ([-1] * 126, OverflowError), ([2**32] * 126, OverflowError)):
        with pytest.raises(error) as new:
            minhash.band_keys(bad)
        with pytest.raises(error) as old:
            ref.band_keys(bad)
        if error is ValueError:
            assert str(new.value) == str(old.value)


def _assert_same(text: str, params: LSHParams = minhash.DEFAULT_LSH) -> None:
    for n in (0, 1, 2, 5, 7):
        new, old = minhash.shingle_hashes(text, n), ref.shingle_hashes(text, n)
        assert new.dtype == old.dtype == np.uint64
        assert np.array_equal(new, old), (n, text[:80])
    assert minhash.code_tokens(text) == ref.code_tokens(text)
    signature = minhash.signature(text, params)
    assert signature == ref.signature(text, params), text[:80]
    assert minhash.band_keys(signature, params) == ref.band_keys(signature, params)


def test_real_files_raw_are_unchanged() -> None:
    texts = [text for _, text in ref.real_corpus(python_files=1500, go_files=700)]
    assert len(texts) > 1400
    for text in texts:
        assert np.array_equal(minhash.shingle_hashes(text), ref.shingle_hashes(text))
        assert minhash.signature(text) == ref.signature(text)
    assert sum("\r\n" in text for text in texts) + sum(not text.isascii() for text in texts) > 20


_FRAGMENTS = (
    "x", "X", "Foo", "é", "É", "变量", "ß", "\u0130", "\u0131", "\u017f", "\u212a", "\u0663", "\u00b2",
    "\u0345", "\u0301", "e\u0301", "\u093e", "2020", "_", "$", "a$b", "__init__", "0x1F", " ", "\t", "\n",
    "\r\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\x85", "\xa0", "\u2028", "\u2029",
    "\u3000", "\x00", "\ud800", "\udfff", "\udc80", "\U0001f600", "(", ")", ".", "=", "+", "-", "#", "//",
    "'", '"', "\\", "`", "@", "~", "{", "}", "[0]", ";", ",", ":", "\x7f", "\x80",
)  # fmt: skip


def test_adversarial_texts_are_unchanged() -> None:
    rng = random.Random(11)
    texts = ["", " ", "\x00", "\ud800", "a b c d", "a b c d e", "A B C D E F", "é" * 10_000]
    texts += ["x" * 200_000, " ".join(["tok"] * 50_000), "\n".join(f"line{i} = {i}" for i in range(20_000))]
    texts += [" ".join(rng.choice(_FRAGMENTS) for _ in range(rng.randrange(0, 40))) for _ in range(1500)]
    texts += ["".join(rng.choice(_FRAGMENTS) for _ in range(rng.randrange(0, 400))) for _ in range(500)]
    texts += ["".join(chr(rng.randrange(0x110000)) for _ in range(rng.randrange(1, 300))) for _ in range(200)]
    for text in texts:
        _assert_same(text)


def test_every_ascii_character_at_every_position_of_a_64_byte_block() -> None:
    # Bytes are classified 64 at a time (8-byte words); tokens are read off the mask's edges.
    for code in range(128):
        c = chr(code)
        for offset in range(0, 72):
            text = "a" * offset + c + "Zq" + c * 3 + "AbC_$9" + c + " tail END" + c
            expected = ref.shingle_hashes(text, 1)
            assert np.array_equal(minhash.shingle_hashes(text, 1), expected), (code, offset)


def test_mixed_case_tokens_of_every_length_are_unchanged() -> None:
    # Upper case is lowered as each word of a token is read (no copy): every length branch of the hash.
    rng = random.Random(13)
    alphabet = "abcXYZ019_$AZaz@[`{\xe9\u0130"
    for _ in range(300):
        words = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 120))) for _ in range(20)]
        text = rng.choice([" ", "\n", "-", "\t"]).join(words)
        assert np.array_equal(minhash.shingle_hashes(text, 1), ref.shingle_hashes(text, 1))
        assert minhash.signature(text) == ref.signature(text)


@pytest.mark.parametrize(
    "params",
    [
        LSHParams(num_perm=64, bands=8, rows=8, seed=0),
        LSHParams(num_perm=100, bands=10, rows=10, seed=7, shingle_size=3),
        LSHParams(num_perm=256, bands=32, rows=8, seed=2**64 - 1, shingle_size=1),
        LSHParams(num_perm=7, bands=1, rows=7, seed=1, shingle_size=9),
    ],
)
def test_other_parameters_are_unchanged(params: LSHParams) -> None:
    rng = random.Random(params.num_perm)
    texts = [text for _, text in ref.real_corpus(python_files=150, go_files=60)]
    texts += [" ".join(rng.choice(_FRAGMENTS) for _ in range(rng.randrange(0, 60))) for _ in range(300)]
    for text in texts:
        assert minhash.signature(text, params) == ref.signature(text, params)
