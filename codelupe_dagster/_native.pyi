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

from collections.abc import Sequence  # noqa: E402  (this section's import, kept in it)

def minhash_shingle_hashes(text: str, n: int) -> bytearray:
    """The `n`-token shingle hashes of `text`, native-endian uint64s (`minhash.shingle_hashes`)."""

def minhash_signature(text: str, n: int, num_perm: int, seed: int) -> list[int]:
    """rensa 0.5.0's R-MinHash signature of `text`'s `n`-token shingles; [] when too short."""

def minhash_band_keys(sig: Sequence[int], bands: int, rows: int) -> list[bytes]:
    """`minhash.band_keys`: per band, xxh3-64 (seed = band) of its values as uint32s, big-endian."""

def minhash_token_hashes(tokens: list[bytes]) -> list[int]:
    """rensa's token hash of each token (`RMinHash.hash_token_sets` on bytes tokens)."""

def minhash_digest(hashes: list[int], num_perm: int, seed: int) -> list[int]:
    """rensa's R-MinHash digest of uint64 hashes (a row of `digest_matrix_from_flat_token_hashes`)."""

# --- decontamination (native/src/decontamination.rs)

class WordSplitter:
    """`decontamination.token_bytes`: a translate table of 256 bytes and the UTF-8 of the wide spaces."""

    def __init__(self, table: bytes, wide_spaces: list[bytes]) -> None: ...
    def words(self, text: str) -> list[bytes]: ...

class DecontaminationSearch:
    """`DecontaminationIndex._hits`: vocabulary word bytes -> value, sorted keys as little-endian u64."""

    def __init__(
        self,
        splitter: WordSplitter,
        *,
        vocabulary: dict[bytes, int],
        keys: bytes,
        ngram: int,
        lower_first: list[bytes] | None = None,
    ) -> None: ...
    @property
    def unlowered(self) -> bool: ...
    def hits(self, text: str) -> list[int]: ...
    def __len__(self) -> int: ...

# --- subwords (native/src/subwords.rs)

def camel_subwords(text: str) -> str:
    """`code_tokens.camel_subwords`: sub-words of each distinct case-changing identifier, one per line."""

# --- index_words (native/src/index_words.rs)

def index_word_runs(text: str) -> tuple[str, list[bytes]]:
    """`elastic_mapping.index_words`' ASCII words (sorted, space-joined) and its non-ASCII runs."""

def ordered_word_runs(text: str) -> tuple[list[str], list[bytes]] | None:
    """`elastic_mapping.ordered_words`' lowercased ASCII parts around the runs holding non-ASCII
    characters (an ASCII text: one part, no run); None for a text with lone surrogates or a capital
    sigma."""

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

# --- redaction (native/src/redaction.rs)

def pii_anchors(text: str) -> tuple[list[int], list[int], list[int], bool]:
    """`(email, ipv4, ipv6, may_hold_ipv6)`: the positions, increasing, where `pii._EMAIL_ANCHOR`,
    `_IPV4_ANCHOR` and `_IPV6_ANCHOR` may match (a superset, confirmed in Python), and
    `pii._may_hold_ipv6(text)`."""
