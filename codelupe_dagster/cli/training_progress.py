"""The progress bar `codelupe run` shows while `qwen_checkpoint` trains in its process."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


@contextlib.contextmanager
def training_progress(console: Console | None) -> Iterator[None]:
    """A bar of the optimizer steps done out of those planned, with tokens/s and the latest loss, fed by
    the trainer's step reports (the asset runs in this process); nothing without a console."""
    if console is None:
        yield
        return
    from codelupe_dagster.training.progress import StepReport, listening

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[speed]}"),
        TextColumn("{task.fields[loss]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("training (preparing)", total=None, speed="", loss="")

        def show(report: StepReport) -> None:
            bar.update(
                task,
                description="training steps",
                total=report.planned,
                completed=report.step,
                speed=f"{report.tokens_per_second:,.0f} tokens/s",
                loss=f"loss {report.loss:.4f}",
            )

        with listening(show):
            yield
