"""Type stub of the compiled extension built from `native/` (Rust, PyO3): see native/src/lib.rs."""

# --- quality (native/src/quality.rs)

from collections.abc import Callable, Iterable

class Scanner:
    """The quality scanner of one `Syntax`: `scan(text)` gives the nine counts of `quality._Counts`."""

    def __init__(
        self,
        *,
        line_comments: Iterable[str],
        block_comments: Iterable[tuple[str, str]],
        doc_block_starts: Iterable[str],
        doc_line_prefixes: Iterable[str],
        python_docstrings: bool,
        keywords: Iterable[bytes],
        keywords_ignore_case: bool,
        definition: Iterable[str],
        pragma_starts: Iterable[str],
        code_starts: Iterable[str],
        code_endings: Iterable[str],
        def_starts: Iterable[str],
        license_search: Callable[[str], object],
        assignment_match: Callable[[str], object],
    ) -> None: ...
    def scan(self, text: str) -> tuple[int, int, int, int, int, int, int, int, int]: ...

# --- minhash (native/src/minhash.rs)

# --- decontamination (native/src/decontamination.rs)

# --- subwords (native/src/subwords.rs)

# --- content_stats (native/src/content_stats.rs)

def text_stats(text: str) -> tuple[int, int, int, int]:
    """(lines, longest line, total line length, alphanumerics) of `filters.TextStats.of`."""

def encoded_runs(text: str) -> tuple[list[int], list[int] | None, list[int]]:
    """(base64, hex, unicode-escape) runs of `filters.encoded_runs`; hex None: Python's regex decides."""

def content_stats(
    text: str,
) -> tuple[tuple[int, int, int, int], tuple[list[int], list[int] | None, list[int]]]:
    """`text_stats` and `encoded_runs` in one pass."""

class Normalizer:
    """`dedup.normalize_content`; `whitespace`: every code point c with chr(c).isspace()."""

    def __init__(self, whitespace: list[int]) -> None: ...
    def normalize(self, text: str) -> str: ...
