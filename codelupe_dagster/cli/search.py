"""`codelupe search QUERY`: full-text search over the code index, with the matching lines shown."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import click

from codelupe_dagster.backends.search import CODE_SCHEMA, BackendUnavailable, Filters, Hit, SearchIndex
from codelupe_dagster.resources.search import open_configured_index

MAX_LINES_PER_HIT = 3
_WORD = re.compile(r"\w+")


def open_code_index() -> SearchIndex:
    """The code index this environment points at (ELASTICSEARCH_URL, else DATA_DIR's SQLite file)."""
    return open_configured_index(CODE_SCHEMA)


def matching_lines(content: str, query: str, limit: int = MAX_LINES_PER_HIT) -> list[dict[str, Any]]:
    """Numbered lines of the file containing a query word (case-insensitive), for reading hits in context.

    The backend's highlight fragments say *that* it matched; line numbers say *where* in the file.
    """
    words = [w.lower() for w in _WORD.findall(query)]
    if not words:
        return []
    found = []
    for number, line in enumerate(content.splitlines(), start=1):
        lowered = line.lower()
        if any(word in lowered for word in words):
            found.append({"line": number, "text": line.strip()[:200]})
            if len(found) >= limit:
                break
    return found


def hit_summary(hit: Hit, query: str) -> dict[str, Any]:
    doc = hit.doc
    return {
        "id": hit.id,
        "repo": doc.get("repo"),
        "path": doc.get("path"),
        "language": doc.get("language"),
        "quality_score": doc.get("quality_score"),
        "score": round(hit.score, 4),
        "highlights": hit.highlights,
        "lines": matching_lines(doc.get("content") or "", query),
    }


def run_search(
    index: SearchIndex, query: str, language: str | None, min_quality: float | None, limit: int
) -> list[dict[str, Any]]:
    filters = Filters(min_quality=min_quality, languages=(language,) if language else ())
    return [hit_summary(hit, query) for hit in index.search(query, filters=filters, size=limit)]


def _print_hits(hits: list[dict[str, Any]]) -> None:
    if not hits:
        click.echo("no matches")
        return
    for hit in hits:
        click.secho(f"{hit['repo']}:{hit['path']}", bold=True, nl=False)
        click.echo(f"  score={hit['score']}  quality={hit['quality_score']}  {hit['language']}")
        for line in hit["lines"]:
            click.echo(f"  {line['line']:>6}: {line['text']}")
        if not hit["lines"]:
            for fragment in hit["highlights"][:MAX_LINES_PER_HIT]:
                click.echo(f"        {fragment.strip()}")


@click.command()
@click.argument("query")
@click.option("--language", default=None, help="Only files of this language (e.g. python).")
@click.option("--min-quality", type=float, default=None, help="Only files with quality_score >= Q.")
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def search(query: str, language: str | None, min_quality: float | None, limit: int, as_json: bool) -> None:
    """Search the code index: hits with repo, path, score and the matching lines."""
    try:
        hits = run_search(open_code_index(), query, language, min_quality, limit)
    except BackendUnavailable as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps(hits, indent=2))
    else:
        _print_hits(hits)
