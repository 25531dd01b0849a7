import itertools
import random
import subprocess
import sys
from pathlib import Path

import pytest

from codelupe_dagster.core.minhash import (
    _LOWER_TO_SPACES,
    _TO_SPACES,
    LSHParams,
    band_keys,
    code_tokens,
    estimate_jaccard,
    shingle_jaccard,
    shingles,
    signature,
)

STDLIB = Path("/root/.pyenv/versions/3.11.7/lib/python3.11")


def _real_files(count: int) -> list[str]:
    names = ["json/decoder.py", "json/encoder.py", "csv.py", "shlex.py", "textwrap.py", "fractions.py",
             "heapq.py", "bisect.py", "pprint.py", "string.py", "difflib.py", "calendar.py"]  # fmt: skip
    return [(STDLIB / name).read_text() for name in names[:count]]


def _near_copy(text: str, fraction: float, rng: random.Random) -> str:
    lines = text.split("\n")
    for index in rng.sample(range(len(lines)), int(len(lines) * fraction)):
        lines[index] = lines[index].replace("self", "this").replace("return", "return  0 +") + "  # tweak"
    return "\n".join(lines)


def test_code_tokens():
    assert code_tokens("Foo.barBaz = 0x1F + $x; // Café") == ["foo", "barbaz", "0x1f", "$x", "café"]


def test_shingles():
    assert shingles(["a", "b", "c"], n=2) == ["a b", "b c"]
    assert shingles(["a", "b"], n=5) == []


def test_short_files_are_skipped():
    assert signature("x = 1") == []
    assert band_keys([], LSHParams()) == []


def test_signature_and_band_keys_shape():
    params = LSHParams()
    sig = signature(_real_files(1)[0], params)
    assert len(sig) == params.num_perm
    keys = band_keys(sig, params)
    assert len(keys) == params.bands
    assert all(isinstance(k, bytes) and len(k) == 8 for k in keys)
    assert signature(_real_files(1)[0], params) == sig  # deterministic across calls


def test_band_keys_are_stable_across_interpreters():
    # Redis buckets outlive processes: a fresh interpreter must compute the same keys.
    text_path = STDLIB / "json/decoder.py"
    script = (
        "import sys; from codelupe_dagster.core.minhash import band_keys, signature; "
        "print(b''.join(band_keys(signature(open(sys.argv[1]).read()))).hex())"
    )
    fresh = subprocess.run(
        [sys.executable, "-c", script, str(text_path)], capture_output=True, text=True, check=True
    )
    assert fresh.stdout.strip() == b"".join(band_keys(signature(text_path.read_text()))).hex()


def test_near_copies_share_a_band_and_unrelated_files_do_not():
    rng = random.Random(3)
    files = _real_files(12)
    params = LSHParams()
    shared_near = shared_unrelated = 0
    for text in files:
        copy = _near_copy(text, 0.08, rng)
        assert len(copy.split("\n")) == len(text.split("\n"))
        if set(band_keys(signature(text), params)) & set(band_keys(signature(copy), params)):
            shared_near += 1
    for a, b in itertools.pairwise(files):
        if set(band_keys(signature(a), params)) & set(band_keys(signature(b), params)):
            shared_unrelated += 1
    assert shared_near >= 11
    assert shared_unrelated == 0


def test_estimate_jaccard_tracks_exact_jaccard():
    text = _real_files(1)[0]
    copy = _near_copy(text, 0.1, random.Random(5))
    exact = shingle_jaccard(text, copy)
    assert 0.3 < exact < 0.95
    assert estimate_jaccard(signature(text), signature(copy)) == pytest.approx(exact, abs=0.12)
    assert estimate_jaccard(signature(text), signature(text)) == 1.0
    assert estimate_jaccard([], signature(text)) == 0.0


def test_params_validation_and_curve():
    with pytest.raises(ValueError):
        LSHParams(num_perm=64, bands=18, rows=7)
    with pytest.raises(ValueError):
        LSHParams(threshold=0)
    params = LSHParams()
    assert params.bands * params.rows <= params.num_perm
    assert params.candidate_probability(0.9) > 0.99
    assert params.candidate_probability(0.2) < 0.01


def test_one_table_lowers_and_separates_like_two_passes():
    every_byte = bytes(range(256))
    assert every_byte.translate(_LOWER_TO_SPACES) == every_byte.lower().translate(_TO_SPACES)
