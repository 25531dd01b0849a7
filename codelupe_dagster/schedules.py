"""Continuous mode: crawl and queue every SYNC_INTERVAL seconds so `dagster dev` keeps the pipeline fed.

With CRAWLER_MODE=once (the default) the schedule exists but starts stopped, and crawling is left to
explicit materializations; with CRAWLER_MODE=continuous it starts running. The pipeline resource's mode is
checked again at every tick, so switching it back to `once` stops crawling even if the schedule was left on.
"""

import dagster as dg

from codelupe_dagster.resources import pipeline_from_env
from codelupe_dagster.resources.pipeline import PipelineResource

crawl_and_queue_job = dg.define_asset_job("crawl_and_queue_job", selection=["crawled_repos", "queued_repos"])


def cron_for_interval(seconds: int) -> str:
    """The cron expression closest to "every ``seconds``" (cron cannot go below a minute)."""
    if seconds <= 0:
        raise ValueError(f"SYNC_INTERVAL must be positive, got {seconds}")
    minutes = max(1, round(seconds / 60))
    if minutes < 60:
        return "* * * * *" if minutes == 1 else f"*/{minutes} * * * *"
    hours = max(1, round(minutes / 60))
    if hours < 24:
        return "0 * * * *" if hours == 1 else f"0 */{hours} * * *"
    days = max(1, round(hours / 24))
    return "0 0 * * *" if days == 1 else f"0 0 */{days} * *"


def build_crawl_schedule(settings: PipelineResource | None = None) -> dg.ScheduleDefinition:
    """Built when the code location loads: the interval and the default status follow ``settings`` (by
    default the pipeline settings of that process's environment, as `default_resources()` reads them)."""
    loaded = settings or pipeline_from_env()

    @dg.schedule(
        job=crawl_and_queue_job,
        cron_schedule=cron_for_interval(loaded.sync_interval),
        default_status=dg.DefaultScheduleStatus.RUNNING
        if loaded.is_continuous()
        else dg.DefaultScheduleStatus.STOPPED,
        description="Crawls and queues repositories every SYNC_INTERVAL seconds in continuous mode.",
    )
    def crawl_schedule(
        context: dg.ScheduleEvaluationContext, pipeline: PipelineResource
    ) -> dg.RunRequest | dg.SkipReason:
        if not pipeline.is_continuous():
            return dg.SkipReason("CRAWLER_MODE is not 'continuous'")
        return dg.RunRequest(run_key=None, tags={"codelupe/trigger": "crawl_schedule"})

    return crawl_schedule


def build_defs() -> dg.Definitions:
    return dg.Definitions(jobs=[crawl_and_queue_job], schedules=[build_crawl_schedule()])


defs = build_defs()
