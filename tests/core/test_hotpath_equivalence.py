"""The fast per-file hot path gives exactly the answers of the code it replaced (commit 4d5b659, frozen in
`tests/support/hotpath_reference.py`), on real files found on this machine and on files made
contaminated on purpose: the same `contaminated` field, the same MinHash shingle hashes, signatures and
LSH band keys bit for bit (the band keys live in Redis), the same licence header."""

from __future__ import annotations

import random

import numpy as np
import pytest

from codelupe_dagster.backends.eval_sets import load_sets
from codelupe_dagster.core import license_detection, minhash
from codelupe_dagster.core.decontamination import DecontaminationIndex, token_bytes, tokens
from codelupe_dagster.core.dedup import normalize_content
from tests.support import hotpath_reference as ref


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    texts = [text for _, text in ref.real_corpus(python_files=800, go_files=400)]
    assert len(texts) > 800
    return texts


@pytest.fixture(scope="module")
def normalised(corpus: list[str]) -> list[str]:
    return [normalize_content(text) for text in corpus]


@pytest.fixture(scope="module")
def humaneval() -> list:
    return load_sets("humaneval")


def _planted(normalised: list[str], humaneval: list) -> list[str]:
    """HumanEval problems pasted into real files after a random line: prompt + solution, the prompt
    alone, the solution alone, and reformatted (tabs, other quotes, CRLF, upper case)."""
    rng = random.Random(12)
    records = humaneval[0].records
    planted = []
    for number, (prompt, solution, _test, _joined) in enumerate(records):
        host = normalised[rng.randrange(len(normalised))].split("\n")
        at = rng.randrange(len(host) + 1)
        paste = [prompt + solution, prompt, solution][number % 3]
        if number % 4 == 0:
            paste = paste.replace("    ", "\t").replace('"', "'").replace("\n", "\r\n").upper()
        planted.append("\n".join(host[:at]) + "\n" + paste + "\n".join(host[at:]))
    return planted


def test_decontamination_answers_are_unchanged(normalised: list[str], humaneval: list) -> None:
    new, old = DecontaminationIndex(humaneval), ref.ReferenceDecontaminationIndex(humaneval)
    planted = _planted(normalised, humaneval)
    answers = [(old.contaminated(text), new.contaminated(text)) for text in normalised + planted]
    assert [pair for pair in answers if pair[0] != pair[1]] == []
    # The check has teeth: the planted copies are flagged, and the corpus holds clean files.
    flagged = sum(answer == "humaneval" for answer, _ in answers[len(normalised) :])
    assert flagged > 0.8 * len(planted)  # a short solution alone may be below the threshold
    assert sum(answer is None for answer, _ in answers) > len(normalised) // 2


def test_overlaps_are_unchanged(normalised: list[str], humaneval: list) -> None:
    new, old = DecontaminationIndex(humaneval), ref.ReferenceDecontaminationIndex(humaneval)
    texts = normalised[:300] + _planted(normalised, humaneval)[:40]
    assert [new.overlaps(text) for text in texts] == [old.overlaps(text) for text in texts]


def test_words_as_bytes_are_the_words(corpus: list[str], normalised: list[str]) -> None:
    """Every file (non-ASCII ones too: lone surrogates from undecodable bytes, Unicode case and spaces)."""
    different = [
        text
        for text in corpus + normalised
        if token_bytes(text) != [word.encode("utf-8", "surrogatepass") for word in tokens(text)]
    ]
    assert different == []
    assert sum(not text.isascii() for text in corpus) > 20


def test_minhash_is_unchanged_bit_for_bit(normalised: list[str]) -> None:
    for text in normalised:
        assert np.array_equal(minhash.shingle_hashes(text), ref.shingle_hashes(text))
    for text in normalised[::4]:
        signature = minhash.signature(text)
        assert signature == ref.signature(text)
        assert minhash.band_keys(signature) == ref.band_keys(signature)
    assert sum(bool(minhash.signature(text)) for text in normalised[::4]) > 100


def test_normalised_content_is_unchanged(corpus: list[str], normalised: list[str]) -> None:
    assert normalised == [ref.normalize_content(text) for text in corpus]


def test_licence_headers_are_unchanged(corpus: list[str]) -> None:
    tagged = "// SPDX-License-Identifier: MIT OR Apache-2.0\n"
    texts = [*corpus, *(("\n" * at) + tagged + text for at, text in enumerate(corpus[:60]))]
    answers = [(ref.license_header(text), license_detection.license_header(text)) for text in texts]
    assert [pair for pair in answers if pair[0] != pair[1]] == []
    assert sum(answer is not None for answer, _ in answers) >= 30


def test_licence_header_lines_cut_anywhere() -> None:
    """Long lines, CRLF and other line breaks around the 4096-character prefix the header is read from,
    and the tag on the last line of the header or the first line past it (the one-scan prefilter of the
    head must never hide a tag the line-by-line search finds), in any case the tag's pattern accepts."""
    texts = []
    for tag in (
        "# SPDX-License-Identifier: MIT",
        "# spdx-license-identifier: MIT",
        "# Spdx-LICENSE-identifier: MIT",  # mixed case: the ASCII prefilter lowers the whole prefix
        "# \u017fPDX-License-Identifier: MIT",  # the long s, which IGNORECASE matches to s
    ):
        for width in (1, 60, 135, 136, 137, 4094, 4095, 5000):
            for brk in ("\n", "\r\n", "\r", "\x0c", "\u2028"):
                for at in (0, 29, 30):
                    lines = ["x" * width] * 40
                    lines[at] = tag
                    texts.append(brk.join(lines))
                    texts.append(brk.join(lines[: at + 1]))  # the tag on the text's last line
    answers = [(ref.license_header(text), license_detection.license_header(text)) for text in texts]
    assert [pair for pair in answers if pair[0] != pair[1]] == []
    assert {answer for answer, _ in answers} == {"MIT", None}
