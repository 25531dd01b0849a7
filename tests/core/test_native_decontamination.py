"""The compiled decontamination search (`codelupe_dagster._native`, `native/src/decontamination.rs`) is the
one in use, and it gives exactly the answers of the Python it replaced: the same words on every code point
(Python's lower-casing and whitespace, lone surrogates), the same hits, overlaps and `contaminated` field
on planted evaluation problems (start and end of a text, across CRLF, next to non-ASCII words, a text that
is exactly one window) and on seeded random texts, and the same false-positive behaviour on tables made
for it (a word whose value is `_UNKNOWN`, keys that are windows holding unknown words).

The oracles: `tests/support/hotpath_reference.py` (the index at commit 4d5b659) and
`tests/support/decontamination_reference.py` (the Python search at the branch point).
"""

from __future__ import annotations

import importlib
import random
import sys

import numpy as np
import pytest

from codelupe_dagster.backends.eval_sets import load_sets
from codelupe_dagster.core import decontamination
from codelupe_dagster.core.decontamination import (
    _UNICODE_SPACES,
    _UNKNOWN,
    _WORD_BYTES,
    DecontaminationIndex,
    EvalSet,
    token_bytes,
    tokens,
)
from tests.support import decontamination_reference as frozen
from tests.support import hotpath_reference as ref

_native = importlib.import_module("codelupe_dagster._native")

# Characters on which Python's and a naive reading differ: non-ASCII letters and digits, case that is not
# per byte (Kelvin sign, dotted I, final sigma), combining marks, every kind of whitespace and line break,
# NUL and other control characters, lone surrogates, emoji, punctuation, `_` and `$`.
_FRAGMENTS = (
    "x", "é", "É", "变量", "\u0130", "\u0131", "\u017f", "\u212a", "\u03a3", "\u03c2", "\u0663", "\u00b2",
    "\u0301", "\u0345", "\u093e", "2020", " ", "\t", "\n", "\r\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d",
    "\x1e", "\x1f", "\x85", "\xa0", "\u1680", "\u2000", "\u200a", "\u200b", "\u2028", "\u2029", "\u202f",
    "\u205f", "\u3000", "\x00", "\x7f", "\ud800", "\udfff", "\udc80", "\U0001f600", "_", "$", ".", "(",
    ")", "'", '"', "#", "def", "return", "self", "DEF", "Return",
)  # fmt: skip


def _encoded(text: str) -> list[bytes]:
    return [word.encode("utf-8", "surrogatepass") for word in ref.tokens(text)]


@pytest.fixture(scope="module")
def humaneval() -> list[EvalSet]:
    return load_sets("humaneval")


@pytest.fixture(scope="module")
def indexes(humaneval: list[EvalSet]) -> tuple[DecontaminationIndex, ref.ReferenceDecontaminationIndex]:
    return DecontaminationIndex(humaneval), ref.ReferenceDecontaminationIndex(humaneval)


def _same(new: DecontaminationIndex, old: ref.ReferenceDecontaminationIndex, text: str) -> None:
    assert new._hits(text) == old._hits(text).tolist(), text
    assert new.overlaps(text) == old.overlaps(text), text
    assert new.matches(text) == old.matches(text), text
    assert new.contaminated(text) == old.contaminated(text), text


# ----------------------------------------------------------------------------- the compiled path


def test_the_compiled_search_is_the_one_in_use(monkeypatch: pytest.MonkeyPatch) -> None:
    """No fallback: `core/decontamination.py` imports the extension, and both the words and the hits come
    from it (a stand-in for the compiled object changes the answers)."""
    index = DecontaminationIndex([EvalSet("s", (("alpha beta gamma delta",),))], ngram=2, min_matches=1)
    assert isinstance(decontamination._SPLITTER, _native.WordSplitter)
    assert isinstance(index._search, _native.DecontaminationSearch)
    assert len(index._search) == len(index) == 3
    assert index.contaminated("x beta gamma y") == "s"

    class Stub:
        def hits(self, text: str) -> list[int]:
            return []

        def words(self, text: str) -> list[bytes]:
            return [b"stub"]

    monkeypatch.setattr(index, "_search", Stub())
    assert index.contaminated("x beta gamma y") is None
    monkeypatch.setattr(decontamination, "_SPLITTER", Stub())
    assert token_bytes("anything") == [b"stub"]


def test_the_tables_are_checked() -> None:
    splitter = _native.WordSplitter(_WORD_BYTES, list(_UNICODE_SPACES))
    with pytest.raises(ValueError, match="256"):
        _native.WordSplitter(_WORD_BYTES[:-1], [])
    with pytest.raises(ValueError, match="wide space"):
        _native.WordSplitter(_WORD_BYTES, [b" "])
    with pytest.raises(ValueError, match="sorted"):
        _native.DecontaminationSearch(
            splitter, vocabulary={}, keys=np.array([2, 1], "<u8").tobytes(), ngram=2
        )
    with pytest.raises(ValueError, match="lower_first"):
        _native.DecontaminationSearch(splitter, vocabulary={}, keys=b"", ngram=2, lower_first=[b"k"])
    with pytest.raises(ValueError, match="8 bytes"):
        _native.DecontaminationSearch(splitter, vocabulary={}, keys=b"123", ngram=2)


# ----------------------------------------------------------------------------- words


def test_words_on_every_code_point() -> None:
    """Each code point between letters, doubled, next to a digit and upper case, in chunks: the words are
    `tokens` encoded, and the branch point's `token_bytes`; ASCII texts take the byte path."""
    texts = ["".join(f"a{chr(c)}B{chr(c)}{chr(c)}9 {chr(c)}" for c in range(0x80))]
    for start in range(0, sys.maxunicode + 1, 2048):
        chars = map(chr, range(start, min(start + 2048, sys.maxunicode + 1)))
        texts.append("".join(f"a{c}B{c}{c}9 {c}" for c in chars))
    assert texts[0].isascii()
    wrong = [text[:40] for text in texts if token_bytes(text) != _encoded(text)]
    assert wrong == []
    assert all(token_bytes(text) == frozen.token_bytes(text) for text in texts)


def test_words_on_random_adversarial_texts() -> None:
    rng = random.Random(13)
    texts = ["", " ", "\x00", "\ud800", "x" * 100_000, ("word " * 20_000).strip(), "a\r\nb" * 1000]
    for _ in range(3000):
        texts.append("".join(rng.choice(_FRAGMENTS) for _ in range(rng.randint(0, 30))))
    for text in texts:
        assert token_bytes(text) == _encoded(text) == frozen.token_bytes(text), text
        assert [word.encode("utf-8", "surrogatepass") for word in tokens(text)] == _encoded(text)


# ----------------------------------------------------------------------------- hits on planted problems


def _planted_cases(humaneval: list[EvalSet]) -> list[str]:
    records = humaneval[0].records
    cases: list[str] = []
    for number, (prompt, solution, _test, _joined) in enumerate(records[:60]):
        paste = [prompt + solution, prompt, solution][number % 3]
        words = ref.tokens(paste)
        cases += [
            paste,  # the whole text is the copy
            paste + "\n# trailing comment\nx = 1\n",  # at the start
            "import os\n\n" + paste.rstrip("\n"),  # at the end, no final newline
            paste.replace("\n", "\r\n"),  # across CRLF
            paste.replace("\n", "\r").replace("    ", "\x0b"),
            paste.replace(" ", "\u2028").replace("\n", "\x85"),  # Unicode separators
            paste.replace(" ", "\x1c", 5).replace("(", "\x1f"),
            "\u00e9" + paste + "日本語",  # non-ASCII words glued to the first and last words
            "\u00e9 " + paste + " 日本語 caf\u00e9",
            paste.upper(),
            paste.replace("e", "\u0435", 1),  # one Cyrillic e: a word becomes unknown
            paste.replace("k", "\u212a"),  # the Kelvin sign lowers to k
            "\ud800 " + paste + " \udcff",  # lone surrogates around the copy
            paste.replace("\n", "\x00\n", 1),  # a NUL glued to a word
            " ".join(words[:13]),  # exactly one window
            "\r\n".join(words[:13]),
            " ".join(words[:12]),  # one word short of a window
            " ".join(words[:15]),  # three windows: the threshold
            " ".join(words[:14]),
            " ".join(words[1:14]) + " " + " ".join(words[:13]),  # two windows, repeated
        ]
    return cases


def test_planted_problems_match_the_reference(
    indexes: tuple[DecontaminationIndex, ref.ReferenceDecontaminationIndex], humaneval: list[EvalSet]
) -> None:
    new, old = indexes
    cases = _planted_cases(humaneval)
    for text in cases:
        _same(new, old, text)
    # The cases have teeth: most are flagged, single windows hit without flagging.
    assert sum(new.contaminated(text) == "humaneval" for text in cases) > len(cases) // 2
    assert sum(len(new._hits(text)) == 1 for text in cases) >= 20


def test_single_windows_flag_with_min_matches_one(humaneval: list[EvalSet]) -> None:
    small = [EvalSet("humaneval", humaneval[0].records[:60])]
    new = DecontaminationIndex(small, min_matches=1)
    old = ref.ReferenceDecontaminationIndex(small, min_matches=1)
    cases = _planted_cases(small)
    for text in cases:
        _same(new, old, text)
    exact = [text for text in cases if len(text.split()) == 13 and text.isascii()]
    assert sum(new.contaminated(text) == "humaneval" for text in exact) > len(exact) // 2


@pytest.mark.parametrize("ngram", [2, 3, 7, 13, 40])
def test_random_texts_match_the_reference(humaneval: list[EvalSet], ngram: int) -> None:
    """Seeded texts mixing runs of evaluation words with adversarial fragments; short n-grams hit often."""
    sets = [
        EvalSet("a", humaneval[0].records[:30]),
        EvalSet("b", humaneval[0].records[20:50]),
        EvalSet("c", (("Kelvin \u212a \u00e9 caf\u00e9 日本語 \u03a3\u03bf\u03c3 alpha beta gamma delta",),)),
    ]
    new = DecontaminationIndex(sets, ngram=ngram, min_matches=1, max_records=2)
    old = ref.ReferenceDecontaminationIndex(sets, ngram=ngram, min_matches=1, max_records=2)
    rng = random.Random(ngram)
    words = [word for record in sets[0].records + sets[2].records for word in ref.tokens(record[0])]
    hits = 0
    for _ in range(600):
        parts: list[str] = []
        for _ in range(rng.randint(0, 6)):
            if rng.random() < 0.6:
                start = rng.randrange(len(words))
                run = words[start : start + rng.randint(1, 3 * ngram)]
                parts.append(rng.choice([" ", "\r\n", "\t", "(", "\u2028", ", "]).join(run))
            else:
                parts.append("".join(rng.choice(_FRAGMENTS) for _ in range(rng.randint(1, 8))))
        text = rng.choice(["", " ", "\n", "\u00e9"]).join(parts)
        _same(new, old, text)
        hits += bool(new._hits(text))
    assert hits > 100


def _long_words(rng: random.Random) -> list[str]:
    """Words of 1 to 24 characters, in pairs that share their first 8 or 16 characters."""
    letters = "abcdefghijklmnopqrstuvwxyz0123456789_"
    words = ["".join(rng.choice(letters) for _ in range(length)) for length in range(1, 25)]
    for stem in (words[7], words[15], words[23][:16]):
        words += [stem + "q", stem + "qq", stem[:-1]]
    return words


@pytest.mark.parametrize("ngram", [2, 3])
def test_words_of_every_length_in_every_case_and_position(ngram: int) -> None:
    """The search hashes an ASCII word eight bytes at a time, lowered together, from a bitmap of word
    bytes: words of every length around 8 and 16 bytes, in any case, at every distance from the text's
    end, between every kind of separator, also in texts beyond ASCII (read without `lower()`)."""
    rng = random.Random(ngram)
    words = _long_words(rng)
    sets = [EvalSet("long", tuple((" ".join(rng.sample(words, 12)),) for _ in range(20)))]
    new = DecontaminationIndex(sets, ngram=ngram, min_matches=1, max_records=2)
    old = ref.ReferenceDecontaminationIndex(sets, ngram=ngram, min_matches=1, max_records=2)
    assert new._search.unlowered
    separators = [" ", "\t", "\r\n", ".", "(", ", ", "\x1c", "\u2028", "\u3000", "\xa0", "\x85"]
    hits = 0
    for case in range(300):
        record = rng.choice(sets[0].records)[0].split()
        start = rng.randrange(len(record))
        run = record[start : start + rng.randint(1, 8)] if case % 4 else rng.sample(words, 5)
        run = ["".join(c.upper() if rng.random() < 0.3 else c for c in word) for word in run]
        text = "".join(word + rng.choice(separators) for word in run)
        if case % 3 == 0:
            text = rng.choice(["é ", "\x00", "变量 "]) + text
        for cut in range(len(text), max(-1, len(text) - 20), -1):
            _same(new, old, text[:cut])
        hits += bool(new._hits(text))
    assert hits > 100


# ----------------------------------------------------------------------------- tables made for the test


def _windows(values: list[int], ngram: int) -> list[int]:
    hashes = frozen._window_hashes(np.array(values, dtype=np.int64).view(np.uint64), ngram)
    return [int(h) for h in hashes]


def test_false_positive_behaviour_is_unchanged() -> None:
    """Every window of a text with a known run is looked up, unknown words included, and a word whose
    value is `_UNKNOWN` breaks a known run: keys made to be such windows hit exactly as before."""
    rng = random.Random(5)
    alphabet = [f"w{i}" for i in range(12)]
    vocab = {word.encode(): rng.getrandbits(63) for word in alphabet}
    vocab[b"w0"] = _UNKNOWN  # known to the vocabulary, valued as unknown
    for ngram in (2, 3, 5):
        unknown_window = _windows(
            [_UNKNOWN, vocab[b"w1"], vocab[b"w2"], vocab[b"w3"], vocab[b"w4"]][:ngram], ngram
        )
        texts = []
        keys = set(unknown_window) | {0, (1 << 64) - 1}
        for _ in range(400):
            text = [rng.choice([*alphabet, "zz", "W3", "w1\u00e9"]) for _ in range(rng.randint(0, 12))]
            texts.append(rng.choice([" ", ".", "\r\n", "\u3000"]).join(text))
            values = [vocab.get(word.lower().encode(), _UNKNOWN) for word in text]
            window = _windows(values, ngram)
            keys.update(rng.sample(window, min(len(window), 2)))
        sorted_keys = np.array(sorted(keys), dtype=np.uint64)
        old = frozen.Tables(vocab, sorted_keys, ngram)
        new = _native.DecontaminationSearch(
            decontamination._SPLITTER, vocabulary=vocab, keys=sorted_keys.astype("<u8").tobytes(), ngram=ngram
        )
        texts += [
            "zz " + " ".join(["w1", "w2", "w3", "w4"][: ngram - 1]) + " w5 " + " w6" * ngram,
            "zz " + " ".join(["w1", "w2", "w3", "w4"][: ngram - 1]),  # the unknown window, no known run
            " ".join(["w0", "w1", "w2", "w3", "w4"][:ngram]) + " " + " ".join(["w5"] * ngram),
        ]
        answers = [(old._hits(text).tolist(), new.hits(text)) for text in texts]
        assert [pair for pair in answers if pair[0] != pair[1]] == []
        assert sum(bool(found) for found, _ in answers) > 100
        # The window holding the unknown first word is a key; it hits only beside a known run.
        position = int(np.searchsorted(sorted_keys, unknown_window[0]))
        assert position in new.hits(texts[-3]) and new.hits(texts[-2]) == []


def test_long_words_with_the_same_hash_are_told_apart() -> None:
    """A word of more than eight bytes is compared byte by byte after its hash matches: two nine-byte
    words made to have the same hash (the search folds a word's eight-byte chunks with a rotation by 23
    bits) are different words, in any case."""
    vocab = {b"abcdefghi": 11, b"x": 12, b"abcdebghk2": 13}
    # "abcdebghk" flips bit 2 of byte 5 and bit 1 of byte 8 of "abcdefghi": after the rotation both
    # flips land on bit 1, so the two hashes are equal.
    ngram = 2
    keys = np.array(sorted(_windows([11, 12], ngram) + _windows([13, 12], ngram)), dtype=np.uint64)
    old = frozen.Tables(vocab, keys, ngram)
    new = _native.DecontaminationSearch(
        decontamination._SPLITTER, vocabulary=vocab, keys=keys.astype("<u8").tobytes(), ngram=ngram
    )
    for text in ("abcdefghi x", "ABCDEFGHI X", "abcdebghk x", "ABCDEBGHK x", "abcdebghk2 x", "é abcdebghk x"):
        assert new.hits(text) == old._hits(text).tolist(), text
    assert new.hits("AbcDefghi x") and new.hits("abcdebghk2 x")
    assert new.hits("abcdebghk x") == [] and new.hits("é abcdebghk x") == []


# ----------------------------------------------------------------------------- texts read without lower()


def test_lowerings_are_every_changed_code_point() -> None:
    """`_lowerings` (blocks of code points) names exactly the characters that `lower()` changes, with
    their lowering alone and after a cased letter (the final sigma), and finds lowering keeps classes."""
    lowerings = decontamination._lowerings()
    assert lowerings is not None
    wrong = []
    for code in range(0x80, sys.maxunicode + 1):
        char = chr(code)
        alone, final = char.lower(), ("A" + char).lower()[1:]
        if (char in lowerings) != (alone != char or final != char) or (
            char in lowerings and not {alone, final} <= lowerings[char]
        ):
            wrong.append(hex(code))
    assert wrong == []
    assert lowerings["\u03a3"] == {"\u03c3", "\u03c2"} and lowerings["\u212a"] == {"k"}


def test_the_humaneval_index_reads_texts_without_lower(
    indexes: tuple[DecontaminationIndex, ref.ReferenceDecontaminationIndex],
) -> None:
    new, old = indexes
    assert new._search.unlowered
    # HumanEval's vocabulary holds two words beyond ASCII; the Kelvin sign lowers to "k".
    assert set(decontamination._lower_first(new._vocab) or ()) == {
        "\u212a".encode(),
        "\u2264".encode(),
        "\u279e".encode(),
    }
    texts = [
        "if a \u2264 b then x \u279e y, otherwise z is returned by the function for the list here " * 3,
        "\u212aEEP THE LIST sorted and return the \u212aey of every element in the given list of words",
        "caf\u00e9 \u2264 \u03a3\u039f\u03a3 "
        + "return the sum of the squares of all the odd numbers in the list " * 2,
    ]
    for text in texts:
        _same(new, old, text)


_CASED = (
    "\u03a3", "\u03c3", "\u03c2", "\u0130", "i\u0307", "\u212a", "K", "k", "\u00c9", "\u00e9", "E\u0301",
    "\u0391", "\u1e9e", "\u00df", "\u01c5", "\u01c6", "\u2c62", "\u026b", "\u2126", "\u03c9", "\u2264",
    "\u279e", "\u0345", "\ud800", "'", ".", " ", "\u2028", "a", "B", "\u00b7",
)  # fmt: skip


@pytest.mark.parametrize("seed", range(4))
def test_unlowered_reading_equals_lowered_on_cased_words(seed: int) -> None:
    """Vocabularies holding characters beyond ASCII (final and non-final sigma, the dotted i, sharp s,
    titlecase digraphs, the Kelvin and Ohm signs ...), texts built from their upper and lower cases: the
    search that reads texts without `lower()` where it can gives the frozen search's hits, and so does
    the one that always lowers."""
    rng = random.Random(seed)
    word_texts = ["".join(rng.choice(_CASED) for _ in range(rng.randint(1, 4))) for _ in range(12)]
    words = sorted({w for text in word_texts for w in ref.tokens(text)} | {"k", "a", "b", "ok"})
    vocab = {word.encode("utf-8", "surrogatepass"): rng.getrandbits(63) for word in words}
    ngram = 2
    texts, keys = [], set()
    for _ in range(500):
        text = rng.choice([" ", "", "'", "\u00b7"]).join(
            rng.choice([*word_texts, *(w.upper() for w in word_texts), *_CASED])
            for _ in range(rng.randint(0, 8))
        )
        texts.append(text)
        values = [vocab.get(word, _UNKNOWN) for word in frozen.token_bytes(text)]
        window = _windows(values, ngram)
        keys.update(rng.sample(window, min(len(window), 2)))
    sorted_keys = np.array(sorted(keys), dtype=np.uint64)
    old = frozen.Tables(vocab, sorted_keys, ngram)
    lower_first = decontamination._lower_first(words)
    assert lower_first is not None
    for option in (lower_first, None):
        new = _native.DecontaminationSearch(
            decontamination._SPLITTER,
            vocabulary=vocab,
            keys=sorted_keys.astype("<u8").tobytes(),
            ngram=ngram,
            lower_first=option,
        )
        assert new.unlowered == (option is not None)
        answers = [(old._hits(text).tolist(), new.hits(text)) for text in texts]
        assert [(text, pair) for text, pair in zip(texts, answers, strict=True) if pair[0] != pair[1]] == []
    assert sum(bool(found) for found, _ in answers) > 100
