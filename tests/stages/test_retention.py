from __future__ import annotations

import pytest

from codelupe_dagster.stages.retention import ABANDONED_AFTER_S, abandoned, candidates, judge, select


def test_candidates_are_the_oldest_beyond_keep():
    keys = [f"b{i}" for i in range(5)]
    assert candidates(keys, 2) == ["b0", "b1", "b2"]
    assert candidates(keys, 5) == [] and candidates(keys, 9) == []


@pytest.mark.parametrize(
    ("record", "indexed", "active", "retire"),
    [
        ({"status": "succeeded"}, True, False, True),
        ({"status": "succeeded"}, False, False, False),  # not indexed yet
        ({"status": "requeued"}, False, False, True),  # failed or canceled: nothing to index
        ({"status": "succeeded"}, True, True, False),  # a run of it is queued or running
        ({"repos": ["o/r"]}, True, False, False),  # not settled
        (None, True, False, False),  # no record: nothing says it is settled
    ],
)
def test_judge(record, indexed, active, retire):
    verdict = judge("b", record, indexed=indexed, active=active)
    assert verdict.retire is retire and (verdict.kept_because is None) is retire


def test_select_stops_at_the_limit_and_says_why_others_stay():
    records = {f"b{i}": {"status": "requeued"} for i in range(5)}
    records["b1"] = {"repos": []}
    retire, kept = select([f"b{i}" for i in range(5)], records, set(), {"b0"}, limit=2)
    assert retire == ["b2", "b3"]
    assert [(v.batch_id, v.kept_because) for v in kept] == [
        ("b0", "a run of it is queued or in flight"),
        ("b1", "not settled"),
    ]


def test_abandoned_only_when_unsettled_and_old():
    now = 10 * ABANDONED_AFTER_S
    assert abandoned({"created": now - ABANDONED_AFTER_S - 1}, now)
    assert not abandoned({"created": now - 60}, now)
    assert not abandoned({"created": 0.0, "status": "succeeded"}, now)
    assert not abandoned({}, now)
