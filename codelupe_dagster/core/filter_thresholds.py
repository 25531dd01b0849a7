"""Per-language thresholds for the content filters, kept as a table rather than in code.

Each value says where it comes from. `None` disables that rule for the language.

Sources:
- The Stack v1 / bigcode-dataset `preprocessing/filtering.py` "basic" filter: drop a file whose
  max line length > 1000, mean line length > 100 or alphanumeric fraction < 0.25.
- StarCoder (Li et al., 2023, §3 "encoded data"): base64, hex and `\\uXXXX` runs of 64+ characters;
  drop the file if one run is longer than 1024 characters or runs cover more than 50% of it.
- "local": our own choice, with the reason in the comment.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class FilterThresholds:
    """Content-filter thresholds for one language."""

    max_line_length: int | None = 1000  # The Stack v1 basic filter
    mean_line_length: float | None = 100.0  # The Stack v1 basic filter
    min_alnum_fraction: float | None = 0.25  # The Stack v1 basic filter
    # local: minified code is one huge line or a few; mean line length above this (and at
    # least one line > 500 chars) names the reason "minified" rather than the line-length rules.
    minified_mean_line_length: float | None = 250.0
    minified_long_line: int = 500  # local: a minified file always has lines this long
    encoded_run_max_chars: int | None = 1024  # StarCoder encoded-data filter
    encoded_fraction: float | None = 0.5  # StarCoder encoded-data filter
    generated_header_lines: int = 10  # local: generator banners sit in the first lines (Go: before `package`)


DEFAULT_THRESHOLDS = FilterThresholds()

THRESHOLDS: dict[str, FilterThresholds] = {
    # local: HTML and Vue/Svelte templates legitimately carry long attribute lines and inline
    # SVG paths; the mean rule stays, the max rule is relaxed (StarCoder treated HTML separately).
    "html": replace(DEFAULT_THRESHOLDS, max_line_length=3000),
    "vue": replace(DEFAULT_THRESHOLDS, max_line_length=3000),
    "svelte": replace(DEFAULT_THRESHOLDS, max_line_length=3000),
    # local: CSS is punctuation-heavy ({ } ; : #), real stylesheets measure 0.35-0.5 alnum; keep
    # 0.25 but let the minified rule catch one-line bundles.
    "css": DEFAULT_THRESHOLDS,
    # local: SQL dumps are data, not code; INSERT lines are long, so cap max line length lower.
    "sql": replace(DEFAULT_THRESHOLDS, max_line_length=500),
    # local: assembly listings are mostly mnemonics and hex operands; alnum fraction is low by
    # nature and hex is the language, so the encoded-data rule would misfire.
    "assembly": replace(DEFAULT_THRESHOLDS, min_alnum_fraction=None, encoded_fraction=None),
    # local: Haskell/OCaml/F# operator-heavy style measures 0.2-0.3 alnum in some libraries.
    "haskell": replace(DEFAULT_THRESHOLDS, min_alnum_fraction=0.2),
}


def thresholds_for(language: str | None) -> FilterThresholds:
    return THRESHOLDS.get(language or "", DEFAULT_THRESHOLDS)
