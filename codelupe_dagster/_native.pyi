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

def camel_subwords(text: str) -> str:
    """`code_tokens.camel_subwords`: sub-words of each distinct case-changing identifier, one per line."""

# --- content_stats (native/src/content_stats.rs)
