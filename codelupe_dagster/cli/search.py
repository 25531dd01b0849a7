"""`codelupe search QUERY`: full-text search over the code index, with the matching lines shown.

What it prints leaves the pipeline like an export does, so each hit is redacted again on the way out
(secrets, and the PII of PII_REDACT): an index written before a detector existed holds raw tokens and
addresses in content and paths. The lines shown are chosen in the redacted file (``matching.best_lines``:
the lines holding the most query terms), never taken from the backend, whose text is the raw one.
Matched terms are marked bold on a terminal and as ``[[term]]`` elsewhere; ``--json`` gives their spans.

Which licences a search shows is SEARCH_LICENSE_POLICY (default ``any``; ``--license-policy`` overrides
it): the same `ConsumerPolicy` as training and export, applied to each hit, with every hit's licence
shown and the hits left out counted. The backends do not filter on licence expressions, so a
restrictive policy reads more hits than it shows (up to ``OVERFETCH`` times the limit).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import click

from codelupe_dagster import settings
from codelupe_dagster.backends.search import (
    CODE_SCHEMA,
    BackendUnavailable,
    Filters,
    Hit,
    QuerySyntaxError,
    SearchIndex,
)
from codelupe_dagster.backends.search.matching import LineMatch, best_lines
from codelupe_dagster.backends.search.query_syntax import Term, parse_query
from codelupe_dagster.cli.redaction_output import configured_pii_kinds, redaction_lines
from codelupe_dagster.cli.stores import open_index
from codelupe_dagster.core.corpus_policy import ConsumerPolicy
from codelupe_dagster.core.pii import DEFAULT_KINDS, PiiKind
from codelupe_dagster.core.redaction import RedactionTally, redact_document

MAX_LINES_PER_HIT = 3
OVERFETCH = 5  # hits read per hit shown when the licence policy may leave some out
# How a matched term is marked in a line: bold on a terminal, brackets anywhere else (pipes, files).
PLAIN_MARKS = ("[[", "]]")
TERMINAL_MARKS = ("\x1b[1m", "\x1b[22m")


def open_code_index() -> SearchIndex:
    """The code index this environment points at (ELASTICSEARCH_URL, else DATA_DIR's SQLite file)."""
    return open_index(CODE_SCHEMA)


def matching_lines(
    content: str, terms: Sequence[Term], limit: int = MAX_LINES_PER_HIT
) -> list[dict[str, Any]]:
    """The numbered lines that hold the most query terms (whole words or camelCase parts, never a
    substring), with the ``[start, end)`` spans of the terms in each line."""
    return [
        {"line": found.number, "text": found.text, "marks": [list(span) for span in found.marks]}
        for found in best_lines(content, terms, limit)
    ]


def hit_summary(
    hit: Hit,
    terms: Sequence[Term],
    pii_kinds: frozenset[PiiKind] = DEFAULT_KINDS,
    tally: RedactionTally | None = None,
) -> dict[str, Any]:
    """What is shown of a hit, redacted (content, path, file name); what was replaced goes to `tally`.
    The lines are chosen in the redacted text, so nothing of a secret or an address can show."""
    doc = redact_document(hit.doc, pii_kinds, tally)
    return {
        "id": hit.id,
        "repo": doc.get("repo"),
        "path": doc.get("path"),
        "language": doc.get("language"),
        "quality_score": doc.get("quality_score"),
        "license": doc.get("license"),
        "license_source": doc.get("license_source"),
        "score": round(hit.score, 4),
        "lines": matching_lines(doc.get("content") or "", terms),
    }


def run_search(
    index: SearchIndex,
    query: str,
    language: str | None,
    min_quality: float | None,
    limit: int,
    pii_kinds: frozenset[PiiKind] = DEFAULT_KINDS,
    tally: RedactionTally | None = None,
    policy: ConsumerPolicy | None = None,
    excluded: dict[str, int] | None = None,
    match_all: bool = False,
) -> list[dict[str, Any]]:
    """The hits' summaries that ``policy`` admits (default: search's, which shows every licence),
    redacted with `pii_kinds` (see the module docstring); hits left out are counted per reason in
    ``excluded``. ``QuerySyntaxError`` for a query the language does not support."""
    policy = policy or ConsumerPolicy.default("search")
    filters = Filters(min_quality=min_quality, languages=(language,) if language else ())
    admits_all = policy.license.kind == "any" and not policy.exclude_contaminated
    size = limit if admits_all else limit * OVERFETCH
    hits = index.search(query, filters=filters, size=size, match_all=match_all)
    terms = parse_query(query).terms
    shown = []
    for hit in hits:
        reason = policy.exclusion(hit.doc)
        if reason is not None:
            if excluded is not None:
                excluded[reason] = excluded.get(reason, 0) + 1
        elif len(shown) < limit:
            shown.append(hit)
    return [hit_summary(hit, terms, pii_kinds, tally) for hit in shown]


def _print_hits(hits: list[dict[str, Any]], marks: tuple[str, str]) -> None:
    if not hits:
        click.echo("no matches")
        return
    for hit in hits:
        click.secho(f"{hit['repo']}:{hit['path']}", bold=True, nl=False)
        licence = hit["license"] or "no licence found"
        click.echo(f"  score={hit['score']}  quality={hit['quality_score']}  {hit['language']}  [{licence}]")
        for line in hit["lines"]:
            found = LineMatch(line["line"], line["text"], tuple((a, b) for a, b in line["marks"]))
            click.echo(f"  {line['line']:>6}: {found.marked(*marks)}", color=marks == TERMINAL_MARKS)


@click.command()
@click.argument("query", default="", required=False)
@click.option("--language", default=None, help="Only files of this language, any case (e.g. python).")
@click.option("--all", "match_all", is_flag=True, help="Only files holding every word (strict AND).")
@click.option("--min-quality", type=float, default=None, help="Only files with quality_score >= Q.")
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option(
    "--license-policy",
    default=None,
    help="permissive | any | list:<spdx>,... (default: SEARCH_LICENSE_POLICY, else any).",
)
def search(
    query: str,
    language: str | None,
    match_all: bool,
    min_quality: float | None,
    limit: int,
    as_json: bool,
    license_policy: str | None,
) -> None:
    """Search the code index, best matches first: files holding any word (those holding more of them
    first, then by BM25), with repo, path, licence, score and the best matching lines, redacted again
    (secrets, and the personal data of PII_REDACT); SEARCH_LICENSE_POLICY says which licences show.

    \b
    QUERY: words, "exact phrase", -word (exclude), path:TEXT, lang:NAME, repo:OWNER/NAME (docs/search.md).
    With no words, --language or lang:/repo:/path: lists files, best quality first."""
    pii_kinds = configured_pii_kinds()
    tally = RedactionTally()
    setting = (
        license_policy
        or settings.env_str("SEARCH_LICENSE_POLICY")
        or settings.DEFAULTS["SEARCH_LICENSE_POLICY"]
    )
    try:
        policy = ConsumerPolicy.from_settings("search", setting)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--license-policy / SEARCH_LICENSE_POLICY") from exc
    if not query.strip() and not language:
        _fail("nothing to search for: give words, or --language / lang: / repo: / path: to list files")
    excluded: dict[str, int] = {}
    try:
        hits = run_search(
            open_code_index(),
            query,
            language,
            min_quality,
            limit,
            pii_kinds,
            tally,
            policy,
            excluded,
            match_all,
        )
    except QuerySyntaxError as exc:
        _fail(str(exc))
    except BackendUnavailable as exc:
        _fail(str(exc))
    if as_json:
        click.echo(json.dumps(hits, indent=2))
    else:
        _print_hits(hits, TERMINAL_MARKS if sys.stdout.isatty() else PLAIN_MARKS)
    # On stderr with --json, so that stdout stays one JSON document.
    for line in redaction_lines(tally.secrets, tally.pii):
        click.echo(line, err=as_json)
    if excluded:
        left_out = ", ".join(f"{count} by {reason}" for reason, count in sorted(excluded.items()))
        click.echo(f"hits left out by the licence policy {policy.license}: {left_out}", err=as_json)


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)
