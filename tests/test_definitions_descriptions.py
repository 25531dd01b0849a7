"""Every sensor, schedule and asset check of the code location says what it does and when: the UI shows
the description on its page, and an empty one leaves a user guessing why a tick requested nothing."""

from __future__ import annotations

import dagster as dg


def _undescribed(defs: dg.Definitions) -> list[str]:
    repository = defs.get_repository_def()
    missing = [f"sensor {s.name}" for s in repository.sensor_defs if not (s.description or "").strip()]
    missing += [f"schedule {s.name}" for s in repository.schedule_defs if not (s.description or "").strip()]
    graph = repository.asset_graph
    missing += [
        f"asset check {key.asset_key.to_user_string()}:{key.name}"
        for key in graph.asset_check_keys
        if not (graph.get_check_spec(key).description or "").strip()
    ]
    return sorted(missing)


def test_every_sensor_schedule_and_asset_check_has_a_description(data_dir):
    from codelupe_dagster.definitions import defs

    repository = defs.get_repository_def()
    assert repository.sensor_defs and repository.schedule_defs and repository.asset_graph.asset_check_keys
    assert _undescribed(defs) == []


def test_the_walk_finds_an_undescribed_sensor_and_check():
    """The walk above is not vacuous: one sensor and one check without a description are reported."""

    @dg.asset(check_specs=[dg.AssetCheckSpec("plain", asset="thing")])
    def thing() -> dg.MaterializeResult:
        return dg.MaterializeResult(check_results=[dg.AssetCheckResult(passed=True)])

    @dg.sensor(target=[thing])
    def quiet_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        return dg.SkipReason("nothing")

    assert _undescribed(dg.Definitions(assets=[thing], sensors=[quiet_sensor])) == [
        "asset check thing:plain",
        "sensor quiet_sensor",
    ]
