"""`codelupe dropped`: which files scoring dropped, per reason (a bounded sample), and how many.

Without `--reason` it lists every reason with the files dropped for it (summed over scored batches,
`backends.corpus_stats`) and the samples held (`backends.dropped_samples`); with `--reason R` it prints
R's latest samples: repository, path, size, blob id and a short excerpt, all redacted when they were kept.
Reads Redis only, opened through `cli.stores`: no Dagster import, so it answers in a fraction of a second.
"""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from codelupe_dagster.backends.corpus_stats import CorpusStats
from codelupe_dagster.backends.dropped_samples import KNOWN_REASONS, DroppedSample, DroppedSamples
from codelupe_dagster.cli import errors, stores

EXCERPT_SHOWN = 60  # characters of the excerpt in the table (--json has all of it)


def _one_line(text: str | None, limit: int) -> str:
    if not text:
        return ""
    flat = text.replace("\r", "").replace("\n", "⏎").replace("\t", " ")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in [header, *rows]
    ]
    return "\n".join(line.rstrip() for line in lines)


def reason_counts(dropped: dict[str, int], sampled: dict[str, int]) -> dict[str, dict[str, int]]:
    """Per reason seen in either: files dropped (all batches) and samples held; most dropped first."""
    reasons = set(dropped) | set(sampled)
    ranked = sorted(reasons, key=lambda reason: (-dropped.get(reason, 0), reason))
    return {
        reason: {"dropped": dropped.get(reason, 0), "sampled": sampled.get(reason, 0)} for reason in ranked
    }


def sample_rows(samples: list[DroppedSample]) -> list[list[str]]:
    return [
        [
            sample.repo,
            _one_line(sample.path, 60),
            "" if sample.size is None else str(sample.size),
            (sample.blob or "")[:12],
            _one_line(sample.detail or sample.excerpt, EXCERPT_SHOWN),
        ]
        for sample in samples
    ]


@click.command()
@click.option("--reason", "-r", default=None, help="Show the sampled files of this drop reason.")
@click.option("--limit", "-n", type=click.IntRange(min=1), default=20, show_default=True, help="Files shown.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def dropped(reason: str | None, limit: int, as_json: bool) -> None:
    """Files dropped per reason, and a sample of those dropped for one reason (`--reason minified`)."""
    client = stores.read_redis(attempts=3)
    keys = stores.redis_keys()
    samples = DroppedSamples(client, keys)
    counts = reason_counts(dict(CorpusStats(client, keys).totals()["dropped"]), samples.reasons())
    if reason is None:
        if as_json:
            click.echo(json.dumps(counts, indent=2))
            return
        rows = [[name, str(n["dropped"]), str(n["sampled"])] for name, n in counts.items()]
        click.echo(_table(rows, ["reason", "dropped", "sampled"]) if rows else "no files dropped yet")
        return
    valid = sorted(set(KNOWN_REASONS) | set(counts))
    if reason not in valid:
        raise errors.CommandError(
            f"unknown reason {reason!r}; valid reasons: {', '.join(valid)}", errors.USAGE
        )
    shown = samples.samples(reason, limit)
    if as_json:
        click.echo(json.dumps([asdict(sample) for sample in shown], indent=2, ensure_ascii=False))
        return
    if not shown:
        dropped_n = counts.get(reason, {}).get("dropped", 0)
        note = " (files of forgotten repositories are never sampled)" if reason == "forgotten" else ""
        click.echo(f"no sampled files for {reason}: {dropped_n} dropped{note}")
        return
    click.echo(_table(sample_rows(shown), ["repo", "path", "bytes", "blob", "excerpt"]))
    total = counts.get(reason, {})
    held, dropped_n = total.get("sampled", len(shown)), total.get("dropped", 0)
    click.echo(f"{len(shown)} of {held} sampled files shown; {dropped_n} dropped as {reason} in all")
