"""The content filters' thresholds, with the source of each default.

Each value says where it comes from. `None` disables that rule. A language overrides some of them
in its entry of the language table (`core.languages`); `language.thresholds_for` looks them up.

Sources:
- The Stack v1 / bigcode-dataset `preprocessing/filtering.py` "basic" filter: drop a file whose
  max line length > 1000, mean line length > 100 or alphanumeric fraction < 0.25.
- StarCoder (Li et al., 2023, §3 "encoded data"): base64, hex and `\\uXXXX` runs of 64+ characters;
  drop the file if one run is longer than 1024 characters or runs cover more than 50% of it.
- "local": our own choice, with the reason in the comment.
"""

from __future__ import annotations

from dataclasses import dataclass


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
