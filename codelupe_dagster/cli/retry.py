"""`codelupe retry [REPO ...]`: give parked repositories another chance.

A repository that failed MAX_REPO_ATTEMPTS times (or whose runs died MAX_REPO_CRASHES times) is parked in
the dead-letter hash, so a poison repository never loops; once its cause is fixed (a host allowed, a
repository repaired upstream), this puts it back on the queue at its priority with a clean history.
"""

from __future__ import annotations

import sys

import click

from codelupe_dagster.cli import stores


@click.command()
@click.argument("repos", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Re-queue every parked repository.")
def retry(repos: tuple[str, ...], everything: bool) -> None:
    """Re-queue parked (dead-letter) repositories: the named ones, or all with --all."""
    if not repos and not everything:
        raise click.UsageError("name the repositories to retry, or pass --all (see `codelupe status`)")
    queue = stores.repo_queue(stores.redis_client(attempts=3))
    unknown = sorted(set(repos) - set(queue.dead_letters()))
    done = queue.retry_dead(() if everything else repos)
    for repo in done:
        click.echo(f"re-queued {repo}")
    if unknown:
        click.echo(f"not parked: {', '.join(unknown)}", err=True)
    click.echo(f"{len(done)} repositories re-queued; `codelupe run` or the batch sensor will pick them up")
    if unknown and not done:
        sys.exit(1)
