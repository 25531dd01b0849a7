"""How `codelupe run` runs a job in process and reads its result: the console's log level, whether the
run was interrupted, and its failure in one line."""

from __future__ import annotations

from typing import Any

import dagster as dg

from codelupe_dagster.core.masking import mask_secrets_in_text

# The progress bar and the summary report progress; Dagster's per-step events (and a failed step's
# traceback) would drown them: a failure is reported here in one line. Runs keep their full event logs
# in the instance, visible in the UI; `--verbose` shows warnings and errors on the console too.
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
VERBOSE_CONSOLE = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def console_config() -> dict[str, Any]:
    from codelupe_dagster.cli import is_verbose

    return VERBOSE_CONSOLE if is_verbose() else QUIET_CONSOLE


def interrupted(result: dg.ExecuteInProcessResult) -> bool:
    """Whether a step of the run failed because the process was interrupted (Ctrl-C, SIGINT)."""
    for event in result.all_events:
        if event.is_step_failure:
            source = getattr(event.event_specific_data, "error_source", None)
            if getattr(source, "name", None) == "INTERRUPT":
                return True
    return False


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    event = result.get_run_failure_event() if not result.success else None
    failure = event.event_specific_data if event is not None else None
    message = getattr(failure, "error", None)
    text = getattr(message, "message", None) or str(
        getattr(failure, "failure_reason", "") or "see the run's logs"
    )
    return mask_secrets_in_text(text.strip().splitlines()[0]) if text.strip() else "see the run's logs"
