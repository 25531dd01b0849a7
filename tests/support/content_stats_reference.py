"""The content filters' statistics and `dedup.normalize_content` as they were before they were compiled
(`native/src/content_stats.rs`), at the branch point of that work (commit 0df5ff2).

That code was line for line the code already frozen at 4d5b659: the content rules in
`tests/support/quality_reference.py` and `normalize_content` in `tests/support/hotpath_reference.py`. This
module names the pieces the compiled code is checked against (`tests/core/test_native_content_stats.py`,
`bench/hotpath_speed.py`) instead of holding a third copy of them. Do not "fix" or speed up anything in
those modules: they define the results the compiled code must keep (drop reasons, `TextStats` floats bit for
bit, and the normalised text whose digest is every document's id).
"""

from __future__ import annotations

from tests.support.hotpath_reference import normalize_content
from tests.support.quality_reference import TextStats, check_content_stats, encoded_runs

__all__ = ["TextStats", "check_content_stats", "encoded_runs", "normalize_content"]
