"""`codelupe search QUERY`: full-text search over the code index, with the matching lines shown.

What it prints leaves the pipeline like an export does, so each hit is redacted again on the way out
(secrets, and the PII of PII_REDACT): an index written before a detector existed holds raw tokens and
addresses in content and paths. The backend's highlight fragments are cut from the raw text, and a
cut can leave the part of a token that no longer matches a rule (SQLite's snippets start at any FTS
token, and `unicode61` splits `ghp_…` at the underscore); so they are not printed as the backend
made them but rebuilt from the redacted file: the line of each word the backend marked.

Which licences a search shows is SEARCH_LICENSE_POLICY (default ``any``; ``--license-policy`` overrides
it): the same `ConsumerPolicy` as training and export, applied to each hit, with every hit's licence
shown and the hits left out counted. The backends do not filter on licence expressions, so a
restrictive policy reads more hits than it shows (up to ``OVERFETCH`` times the limit).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from typing import Any

import click

from codelupe_dagster import settings
from codelupe_dagster.backends.search import CODE_SCHEMA, BackendUnavailable, Filters, Hit, SearchIndex
from codelupe_dagster.cli.redaction_output import configured_pii_kinds, redaction_lines
from codelupe_dagster.core.corpus_policy import ConsumerPolicy
from codelupe_dagster.core.pii import DEFAULT_KINDS, PiiKind
from codelupe_dagster.core.redaction import RedactionTally, redact_document
from codelupe_dagster.resources.search import open_configured_index

MAX_LINES_PER_HIT = 3
OVERFETCH = 5  # hits read per hit shown when the licence policy may leave some out
MAX_FRAGMENT_CHARS = 400
_WORD = re.compile(r"\w+")
# Both backends mark a match as <em>word</em> (Elasticsearch's default tags, SQLite's snippet()).
_MARK_OPEN, _MARK_CLOSE = "<em>", "</em>"
_MARKED = re.compile(re.escape(_MARK_OPEN) + r"(.+?)" + re.escape(_MARK_CLOSE), re.DOTALL)


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


def marked_terms(fragments: Sequence[str]) -> list[str]:
    """The words the backend marked in its fragments, lowercased, each once, in order."""
    terms: dict[str, None] = {}
    for fragment in fragments:
        for match in _MARKED.finditer(fragment):
            terms.setdefault(match.group(1).strip().lower(), None)
    return [term for term in terms if term]


def marked_lines(texts: Sequence[str], terms: Sequence[str], limit: int = MAX_LINES_PER_HIT) -> list[str]:
    """For each term, the first line of `texts` holding it, the term marked as the backends mark it.

    `texts` are the redacted content and path: a term found only inside a secret or an address (the
    query matched what was redacted) has no line to show."""
    fragments: list[str] = []
    for term in terms:
        for text in texts:
            at = text.lower().find(term)
            if at < 0:
                continue
            start = text.rfind("\n", 0, at) + 1
            end = text.find("\n", at)
            line = text[start : len(text) if end < 0 else end]
            offset, stop = at - start, at - start + len(term)
            marked = f"{line[:offset]}{_MARK_OPEN}{line[offset:stop]}{_MARK_CLOSE}{line[stop:]}"
            fragments.append(marked.strip()[:MAX_FRAGMENT_CHARS])
            break
        if len(fragments) >= limit:
            break
    return fragments


def hit_summary(
    hit: Hit, query: str, pii_kinds: frozenset[PiiKind] = DEFAULT_KINDS, tally: RedactionTally | None = None
) -> dict[str, Any]:
    """What is shown of a hit, redacted (content, path, file name); what was replaced goes to `tally`."""
    doc = redact_document(hit.doc, pii_kinds, tally)
    content, path = doc.get("content") or "", doc.get("path")
    return {
        "id": hit.id,
        "repo": doc.get("repo"),
        "path": path,
        "language": doc.get("language"),
        "quality_score": doc.get("quality_score"),
        "license": doc.get("license"),
        "license_source": doc.get("license_source"),
        "score": round(hit.score, 4),
        "highlights": marked_lines([content, path or ""], marked_terms(hit.highlights)),
        "lines": matching_lines(content, query),
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
) -> list[dict[str, Any]]:
    """The hits' summaries that ``policy`` admits (default: search's, which shows every licence),
    redacted with `pii_kinds` (see the module docstring); hits left out are counted per reason in
    ``excluded``."""
    policy = policy or ConsumerPolicy.default("search")
    filters = Filters(min_quality=min_quality, languages=(language,) if language else ())
    admits_all = policy.license.kind == "any" and not policy.exclude_contaminated
    hits = index.search(query, filters=filters, size=limit if admits_all else limit * OVERFETCH)
    shown = []
    for hit in hits:
        reason = policy.exclusion(hit.doc)
        if reason is not None:
            if excluded is not None:
                excluded[reason] = excluded.get(reason, 0) + 1
        elif len(shown) < limit:
            shown.append(hit)
    return [hit_summary(hit, query, pii_kinds, tally) for hit in shown]


def _print_hits(hits: list[dict[str, Any]]) -> None:
    if not hits:
        click.echo("no matches")
        return
    for hit in hits:
        click.secho(f"{hit['repo']}:{hit['path']}", bold=True, nl=False)
        licence = hit["license"] or "no licence found"
        click.echo(f"  score={hit['score']}  quality={hit['quality_score']}  {hit['language']}  [{licence}]")
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
@click.option(
    "--license-policy",
    default=None,
    help="permissive | any | list:<spdx>,... (default: SEARCH_LICENSE_POLICY, else any).",
)
def search(
    query: str,
    language: str | None,
    min_quality: float | None,
    limit: int,
    as_json: bool,
    license_policy: str | None,
) -> None:
    """Search the code index: hits with repo, path, licence, score and the matching lines, redacted
    again (secrets, and the personal data of PII_REDACT); SEARCH_LICENSE_POLICY says which licences show."""
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
    excluded: dict[str, int] = {}
    try:
        hits = run_search(
            open_code_index(), query, language, min_quality, limit, pii_kinds, tally, policy, excluded
        )
    except BackendUnavailable as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps(hits, indent=2))
    else:
        _print_hits(hits)
    # On stderr with --json, so that stdout stays one JSON document.
    for line in redaction_lines(tally.secrets, tally.pii):
        click.echo(line, err=as_json)
    if excluded:
        left_out = ", ".join(f"{count} by {reason}" for reason, count in sorted(excluded.items()))
        click.echo(f"hits left out by the licence policy {policy.license}: {left_out}", err=as_json)
