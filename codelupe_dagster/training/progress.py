"""How a training run reports its optimizer steps while it runs, and the loss curve it leaves behind.

The trainer calls `report_step` once per optimizer step; whoever wants the numbers listens for the
length of a run (`listening`): the asset logs every `log_every` steps to Dagster, `codelupe run`
drives a progress bar. A registry rather than a parameter because the asset runs inside Dagster's
execution, between the CLI that shows the bar and the trainer that measures. Pure Python: no torch.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

MAX_CURVE_POINTS = 200  # a loss curve in the UI: enough to read, small enough for event metadata


@dataclass(frozen=True)
class StepReport:
    """One finished optimizer step: `step` of `planned` done, counted from the run's start (a resumed
    run's tokens and seconds include those before the resume)."""

    step: int
    planned: int
    loss: float
    tokens: int
    seconds: float

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / max(self.seconds, 1e-9)

    def line(self) -> str:
        return (
            f"step {self.step}/{self.planned}: loss {self.loss:.4f}, "
            f"{self.tokens_per_second:,.0f} tokens/s, {self.tokens:,} tokens"
        )


StepListener = Callable[[StepReport], None]
_listeners: list[StepListener] = []


@contextlib.contextmanager
def listening(listener: StepListener) -> Iterator[None]:
    """`listener` receives every step reported while the block runs."""
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


def report_step(step: int, planned: int, loss: float, tokens: int, seconds: float) -> None:
    """Called by the trainer after each optimizer step; a no-op when nobody listens."""
    if not _listeners:
        return
    report = StepReport(step, planned, loss, tokens, seconds)
    for listener in list(_listeners):
        listener(report)


def every(n: int, listener: StepListener) -> StepListener:
    """`listener` on every `n`-th step and on the last planned one."""
    n = max(1, n)

    def filtered(report: StepReport) -> None:
        if report.step % n == 0 or report.step == report.planned:
            listener(report)

    return filtered


def loss_curve(step_losses: Sequence[float], max_points: int = MAX_CURVE_POINTS) -> list[dict[str, float]]:
    """The per-step losses as at most `max_points` points {step, loss}: every step when they fit,
    otherwise the mean of consecutive, near-equal spans of steps at the span's last step (means
    rather than samples, so a noisy curve is not aliased). Non-finite losses are left out of a mean;
    a span with no finite loss is left out."""
    count = len(step_losses)
    spans = min(count, max(1, max_points))
    points: list[dict[str, float]] = []
    for span in range(spans):
        start, end = span * count // spans, (span + 1) * count // spans
        finite = [float(x) for x in step_losses[start:end] if math.isfinite(x)]
        if finite:
            points.append({"step": end, "loss": sum(finite) / len(finite)})
    return points
