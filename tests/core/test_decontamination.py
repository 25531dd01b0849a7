"""Decontamination index: long shared n-grams flag a document, boilerplate and short overlaps do not."""

from __future__ import annotations

import string
import sys

import numpy as np
import pytest

from codelupe_dagster.core.decontamination import (
    _UNICODE_SPACES,
    _WORD_BYTES,
    DEFAULT_MIN_MATCHES,
    DEFAULT_NGRAM,
    DecontaminationIndex,
    EvalSet,
    _run_starts,
    token_bytes,
    tokens,
)

# A small evaluation set made for these tests (written here, not taken from any benchmark).
PROMPT = '''def braid_lengths(ropes: list[str], twist: int) -> list[int]:
    """Given a list of rope names and a twist count, return for every rope the length it would have
    after being braided with its left neighbour, counting the twist once for each crossing.
    >>> braid_lengths(['ab', 'cde'], 2)
    [4, 7]
    """
'''
SOLUTION = """    lengths = []
    previous = ""
    for rope in ropes:
        lengths.append(len(rope) + len(previous) + twist)
        previous = rope
    return lengths
"""
OTHER_PROMPT = '''def lantern_count(streets: dict[str, int]) -> int:
    """Count the lanterns a night watchman lights when he walks every street of the town exactly once,
    given how many lanterns hang in each street and skipping the streets whose names start with a vowel.
    """
'''
BOILERPLATE = "def check(candidate):\n    metadata = {'author': 'someone', 'dataset': 'test', 'kind': 'u'}\n"

REAL_FILE_HEAD = '''"""Utilities for the rope shop inventory."""

import os


def inventory_path(root):
    return os.path.join(root, "inventory.csv")

'''
REAL_FILE_TAIL = """

def main():
    print(inventory_path("."))


if __name__ == "__main__":
    main()
"""


def _sets() -> list[EvalSet]:
    puzzles = EvalSet(
        "puzzles",
        (
            (PROMPT, SOLUTION, PROMPT + SOLUTION),
            (OTHER_PROMPT,),
            *(((BOILERPLATE + f"    assert candidate({i}) == {i + 1}\n"),) for i in range(5)),
        ),
    )
    riddles = EvalSet("riddles", ((OTHER_PROMPT,),))
    return [puzzles, riddles]


@pytest.fixture(scope="module")
def index() -> DecontaminationIndex:
    return DecontaminationIndex(_sets())


def test_a_pasted_problem_is_flagged_with_its_set(index: DecontaminationIndex) -> None:
    document = REAL_FILE_HEAD + PROMPT + SOLUTION + REAL_FILE_TAIL
    assert index.matches(document) == ("puzzles",)
    assert index.contaminated(document) == "puzzles"


def test_a_clean_file_is_not_flagged(index: DecontaminationIndex) -> None:
    document = REAL_FILE_HEAD + REAL_FILE_TAIL
    assert index.matches(document) == ()
    assert index.contaminated(document) is None
    assert index.overlaps(document) == []


def test_reformatting_does_not_hide_a_copy(index: DecontaminationIndex) -> None:
    """Whitespace, indentation, quotes, line endings and case are not part of the match."""
    reformatted = (PROMPT + SOLUTION).replace("    ", "\t").replace("'", '"').replace("\n", "\r\n  ")
    assert reformatted != PROMPT + SOLUTION
    assert index.matches(REAL_FILE_HEAD + reformatted.upper()) == ("puzzles",)


def test_renamed_identifiers_are_out_of_scope(index: DecontaminationIndex) -> None:
    """An n-gram test finds copies, not paraphrases: renaming every identifier hides the overlap."""
    renamed = SOLUTION
    for old, new in (("lengths", "out"), ("previous", "prev"), ("rope", "r"), ("twist", "k")):
        renamed = renamed.replace(old, new)
    assert index.matches(REAL_FILE_HEAD + renamed) == ()


def test_the_prompt_alone_is_enough(index: DecontaminationIndex) -> None:
    assert index.matches(REAL_FILE_HEAD + PROMPT) == ("puzzles",)


def test_a_text_in_two_sets_names_both_sorted(index: DecontaminationIndex) -> None:
    assert index.matches(OTHER_PROMPT) == ("puzzles", "riddles")
    assert index.contaminated(OTHER_PROMPT) == "puzzles,riddles"


def test_overlap_length_threshold(index: DecontaminationIndex) -> None:
    """A shared run of ngram + min_matches - 2 words is below the threshold; one word more flags."""
    words = tokens(PROMPT)
    run = DEFAULT_NGRAM + DEFAULT_MIN_MATCHES - 1
    # The docstring's words: all of them hold letters, so every window is indexable.
    start = words.index("given")
    assert index.matches(" ".join(words[start : start + run])) == ("puzzles",)
    assert index.matches(" ".join(words[start : start + run - 1])) == ()
    overlap = index.overlaps(" ".join(words[start : start + run - 1]))
    assert [(item.name, item.ngrams, item.records) for item in overlap] == [
        ("puzzles", DEFAULT_MIN_MATCHES - 1, (0,))
    ]


def test_boilerplate_shared_by_many_records_is_not_indexed(index: DecontaminationIndex) -> None:
    """The check() header occurs in five records, more than max_records: copying it flags nothing."""
    assert index.max_records < 5
    assert index.matches(BOILERPLATE * 3) == ()


def test_number_runs_are_not_indexed() -> None:
    numbers = "assert candidate([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]) == 171\n"
    index = DecontaminationIndex([EvalSet("digits", ((numbers,),))])
    assert len(index) == 0
    assert index.matches(numbers * 2) == ()


def test_overlaps_report_the_records(index: DecontaminationIndex) -> None:
    found = {item.name: item for item in index.overlaps(PROMPT + OTHER_PROMPT)}
    assert found["puzzles"].records == (0, 1)
    assert found["riddles"].records == (0,)
    assert found["puzzles"].ngrams > found["riddles"].ngrams


def test_an_empty_index_matches_nothing() -> None:
    index = DecontaminationIndex([])
    assert len(index) == 0
    assert index.matches(PROMPT) == ()


@pytest.mark.parametrize("name", ["", "a,b", " padded"])
def test_set_names_are_checked(name: str) -> None:
    with pytest.raises(ValueError, match="evaluation set name"):
        EvalSet(name, ())


def test_set_names_must_be_unique() -> None:
    with pytest.raises(ValueError, match="unique"):
        DecontaminationIndex([EvalSet("a", ()), EvalSet("a", ())])


def test_tokens_ignore_whitespace_punctuation_and_case() -> None:
    assert tokens("Foo.bar(x_1,\n\t'Y')  # done") == ["foo", "bar", "x_1", "y", "done"]


@pytest.mark.parametrize(
    "text",
    [
        "Foo.bar(x_1,\n\t'Y')  # done",
        "price = $total; a\x00b\x1fc\x1cd\x7fe",  # `$` separates; control characters: \x1c-\x1f separate
        "KELVIN \u212a and \u0130stanbul, \u03a3\u039f\u03a3 \u03c3",  # Kelvin sign, dotted I, sigma
        "nbsp\xa0and\u2028line\u3000ideographic\x85next\u200bzero-width",  # str.split spaces (not U+200B)
        "caf\xe9 na\xefve \u65e5\u672c\u8a9e \U0001f600 emoji",
        "lone \udcff surrogate \ud800x",
        "",
        "   \n\t ",
    ],
)
def test_token_bytes_are_the_tokens_encoded(text: str) -> None:
    assert token_bytes(text) == [word.encode("utf-8", "surrogatepass") for word in tokens(text)]


def test_word_bytes_separate_exactly_what_tokens_separates() -> None:
    """The byte table and the Unicode space list cover exactly str.isspace and ASCII punctuation but `_`;
    lowering a character never turns a word character into a separator."""
    separators = {c for c in range(0x80) if chr(c).isspace() or (chr(c) in string.punctuation and c != 0x5F)}
    assert {c for c in range(0x80) if _WORD_BYTES[c] == 0x20} == separators
    assert all(_WORD_BYTES[c] == c for c in range(0x80, 0x100))
    beyond_ascii = {c for c in range(0x80, sys.maxunicode + 1) if chr(c).isspace()}
    assert {ord(space.decode()) for space in _UNICODE_SPACES} == beyond_ascii
    separator_chars = set(map(chr, separators))
    assert [c for c in range(0x80, sys.maxunicode + 1) if set(chr(c).lower()) & separator_chars] == []


@pytest.mark.parametrize("size", [0, 1, 2, 1000])
def test_run_starts_are_numpys_unique_of_a_sorted_array(size: int) -> None:
    """The index's distinct keys, where each starts and how many records hold it: as `np.unique` gives
    them (which the index no longer calls: its first call imports numpy.ma in every scoring forkserver)."""
    rng = np.random.default_rng(size)
    ordered = np.sort(rng.integers(0, max(1, size // 3), size=size, dtype=np.uint64) * np.uint64(2**61))
    starts = _run_starts(ordered)
    unique, first, counts = np.unique(ordered, return_index=True, return_counts=True)
    assert np.array_equal(ordered[starts], unique) and np.array_equal(starts, first)
    assert np.array_equal(np.diff(starts, append=len(ordered)), counts)
