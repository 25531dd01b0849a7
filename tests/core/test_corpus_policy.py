"""Licence policies and consumer policies: what training, export and search admit, and why not."""

from __future__ import annotations

import pytest

from codelupe_dagster.core.corpus_policy import CONTAMINATED_REASON, LICENSE_REASON, ConsumerPolicy
from codelupe_dagster.core.licenses import LicensePolicy


@pytest.mark.parametrize(
    ("expression", "admitted"),
    [
        ("MIT", True),
        ("Apache-2.0", True),
        ("mit", True),
        ("GPL-3.0-only", False),
        ("MIT OR GPL-3.0-only", True),  # one may choose the permissive branch
        ("GPL-3.0-only OR MIT", True),
        ("MIT AND GPL-3.0-only", False),  # both apply
        ("(MIT OR Apache-2.0) AND BSD-3-Clause", True),
        ("(MIT OR GPL-2.0-only) AND LGPL-2.1-only", False),
        ("Apache-2.0 WITH LLVM-exception", True),
        ("GPL-2.0-only WITH Classpath-exception-2.0", False),
        ("NOASSERTION", False),
        ("other", False),
        ("", False),
        (None, False),  # no licence: all rights reserved
        ("MIT AND", False),  # malformed: never admitted
        ("(MIT", False),
    ],
)
def test_permissive_policy_evaluates_spdx_expressions(expression: str | None, admitted: bool) -> None:
    assert LicensePolicy.parse("permissive").admits(expression) is admitted


def test_any_admits_everything_including_unlicensed() -> None:
    policy = LicensePolicy.parse("any")
    assert policy.admits(None) and policy.admits("GPL-3.0-only") and policy.admits("LicenseRef-custom")


def test_list_policy_admits_only_the_listed_ids() -> None:
    policy = LicensePolicy.parse("list: MIT, GPL-3.0-only")
    assert policy.admits("MIT") and policy.admits("gpl-3.0-only")
    assert not policy.admits("Apache-2.0")
    assert policy.admits("Apache-2.0 OR GPL-3.0-only")
    assert not policy.admits(None)
    assert str(policy) == "list:gpl-3.0-only,mit"
    assert LicensePolicy.parse(str(policy)) == policy


@pytest.mark.parametrize("bad", ["permissiv", "list:", "list: , ", "gpl"])
def test_a_bad_policy_is_a_clear_error(bad: str) -> None:
    with pytest.raises(ValueError, match=r"permissive, any or list|names no licence"):
        LicensePolicy.parse(bad)


def test_consumer_defaults_training_and_export_are_strict_search_shows_all() -> None:
    doc_gpl = {"license": "GPL-3.0-only"}
    doc_dirty = {"license": "MIT", "contaminated": "humaneval"}
    for consumer in ("training", "export"):
        policy = ConsumerPolicy.default(consumer)
        assert policy.exclusion(doc_gpl) == LICENSE_REASON
        assert policy.exclusion(doc_dirty) == CONTAMINATED_REASON
        assert policy.exclusion({"license": "MIT"}) is None
    search = ConsumerPolicy.default("search")
    assert search.exclusion(doc_gpl) is None and search.exclusion(doc_dirty) is None
    assert search.exclusion({}) is None


def test_settings_override_the_defaults() -> None:
    policy = ConsumerPolicy.from_settings("training", "any", include_contaminated=True)
    assert policy.exclusion({"license": None, "contaminated": "mbpp"}) is None
    assert policy.describe() == {"license_policy": "any", "exclude_contaminated": False}
    assert ConsumerPolicy.from_settings("export", None, None) == ConsumerPolicy.default("export")
