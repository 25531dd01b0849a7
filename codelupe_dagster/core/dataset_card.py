"""The dataset card (README.md) of an export, rendered from the export's stats (`stats.json`).

Every number on the card comes from the stats mapping that `stages.dataset_export` writes beside it, so
the card cannot disagree with the data: the YAML front matter is what the Hugging Face Hub and
`datasets.load_dataset` read (licences as Hub licence ids, configs one per language plus a default
`all`, features and per-config sizes); the prose says how the corpus was built and filtered.

The YAML is written by a small block-style emitter (`to_yaml`): strings that could read as another type
(`yes`, `1.0`, `n<1K` is fine but `1K<n<10K` is not) are double-quoted, so the card parses to exactly the
values given. Pure: no I/O, no clock (dates come in the stats).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

DEFAULT_CONFIG: Final = "all"
SPLIT: Final = "train"
DATA_DIR: Final = "data"

# Hub licence ids that are also SPDX ids (lower-cased): the table of the Hub's "Licenses" page
# (hub-docs, docs/hub/repositories-licenses.md) restricted to the ids SPDX spells the same way. An SPDX
# id outside it (0BSD, MIT-0, EUPL-1.2, ...) is declared as `other` with its name.
HUB_LICENSE_IDS: Final[frozenset[str]] = frozenset(
    {
        "afl-3.0",
        "agpl-3.0",
        "apache-2.0",
        "artistic-2.0",
        "bsd-2-clause",
        "bsd-3-clause",
        "bsd-3-clause-clear",
        "bsl-1.0",
        "cc-by-2.0",
        "cc-by-2.5",
        "cc-by-3.0",
        "cc-by-4.0",
        "cc-by-nc-2.0",
        "cc-by-nc-3.0",
        "cc-by-nc-4.0",
        "cc-by-nc-nd-3.0",
        "cc-by-nc-nd-4.0",
        "cc-by-nc-sa-2.0",
        "cc-by-nc-sa-3.0",
        "cc-by-nc-sa-4.0",
        "cc-by-nd-4.0",
        "cc-by-sa-3.0",
        "cc-by-sa-4.0",
        "cc0-1.0",
        "cdla-permissive-1.0",
        "cdla-permissive-2.0",
        "cdla-sharing-1.0",
        "ecl-2.0",
        "epl-1.0",
        "epl-2.0",
        "etalab-2.0",
        "eupl-1.1",
        "gpl-2.0",
        "gpl-3.0",
        "isc",
        "lgpl-2.1",
        "lgpl-3.0",
        "lppl-1.3c",
        "mit",
        "mpl-2.0",
        "ms-pl",
        "ncsa",
        "ofl-1.1",
        "osl-3.0",
        "postgresql",
        "unlicense",
        "wtfpl",
        "zlib",
    }
)
# SPDX ids the Hub spells differently.
_HUB_ALIASES: Final[dict[str, str]] = {"odbl-1.0": "odbl", "odc-by-1.0": "odc-by", "pddl-1.0": "pddl"}
# The GNU licences' SPDX suffixes; the Hub has one id per version.
_GNU_SUFFIXES: Final[tuple[str, ...]] = ("-only", "-or-later")
UNKNOWN_LICENSE: Final = "unknown"  # the Hub's id for "no licence stated"
OTHER_LICENSE: Final = "other"
NO_LICENSE_KEY: Final = "none"  # how stats.json names documents without a licence

# The Hub's size_categories buckets, by number of examples.
_SIZE_BUCKETS: Final[tuple[tuple[int, str], ...]] = (
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
    (1_000_000_000, "100M<n<1B"),
)

_TOKEN = re.compile(r"\(|\)|[^\s()]+")
_OPERATORS: Final[frozenset[str]] = frozenset({"AND", "OR", "WITH"})


def license_ids(expression: str) -> list[str]:
    """The licence ids an SPDX expression names, in order, without operators and `WITH` exceptions."""
    tokens = [t for t in _TOKEN.findall(expression) if t not in {"(", ")"}]
    ids: list[str] = []
    skip = False
    for token in tokens:
        if skip:
            skip = False
        elif token.upper() == "WITH":
            skip = True
        elif token.upper() not in _OPERATORS and token not in ids:
            ids.append(token)
    return ids


def hub_license_id(spdx_id: str) -> str | None:
    """The Hub's id for one SPDX id, or None when the Hub has none (the card then says `other`)."""
    value = spdx_id.strip().lower().rstrip("+")
    value = _HUB_ALIASES.get(value, value)
    for suffix in _GNU_SUFFIXES:
        if value.endswith(suffix):
            value = value[: -len(suffix)]
    return value if value in HUB_LICENSE_IDS or value in _HUB_ALIASES.values() else None


def card_licenses(per_license: Mapping[str, int]) -> dict[str, Any]:
    """The card's `license` entries for the licences present (`per_license`: expression -> documents).

    Ids the Hub knows go in as they are; documents without a licence add `unknown`; any other id adds
    `other` with `license_name` (its id, or `several` when more than one) and a `license_link`.
    """
    hub: set[str] = set()
    others: list[str] = []
    for expression, documents in per_license.items():
        if documents <= 0:
            continue
        if expression == NO_LICENSE_KEY:
            hub.add(UNKNOWN_LICENSE)
            continue
        for spdx_id in license_ids(expression):
            mapped = hub_license_id(spdx_id)
            if mapped is not None:
                hub.add(mapped)
            elif spdx_id not in others:
                others.append(spdx_id)
    entry: dict[str, Any] = {"license": sorted(hub) + ([OTHER_LICENSE] if others else [])}
    if len(others) == 1:
        entry["license_name"] = re.sub(r"[^a-z0-9.-]+", "-", others[0].lower()).strip("-")
        entry["license_link"] = f"https://spdx.org/licenses/{others[0]}.html"
    elif others:
        entry["license_name"] = "several"
        entry["license_link"] = "stats.json"
    return entry


def size_category(documents: int) -> str:
    for limit, label in _SIZE_BUCKETS:
        if documents < limit:
            return label
    return "n>1B"


def config_paths(language: str | None) -> str:
    """The data_files glob of one config (None: every language)."""
    return f"{DATA_DIR}/{language or '*'}/*.parquet"


def _config_entry(name: str, language: str | None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "config_name": name,
        "data_files": [{"split": SPLIT, "path": config_paths(language)}],
    }
    if language is None:
        entry["default"] = True
    return entry


def _info_entry(name: str, features: Sequence[dict[str, str]], sizes: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "config_name": name,
        "features": list(features),
        "splits": [
            {"name": SPLIT, "num_bytes": int(sizes["num_bytes"]), "num_examples": int(sizes["documents"])}
        ],
        "download_size": int(sizes["download_size"]),
        "dataset_size": int(sizes["num_bytes"]),
    }


def front_matter(stats: Mapping[str, Any]) -> dict[str, Any]:
    """The card's YAML metadata from the export's stats (see the module docstring)."""
    languages: Mapping[str, Mapping[str, Any]] = stats["languages"]
    features = [{"name": name, "dtype": dtype} for name, dtype in stats["features"].items()]
    meta: dict[str, Any] = {"pretty_name": stats["name"]}
    meta.update(card_licenses(stats["licenses"]))
    meta["language"] = ["code"]
    meta["tags"] = ["code", *sorted(languages)]
    meta["size_categories"] = [size_category(int(stats["documents"]))]
    meta["task_categories"] = ["text-generation"]
    if languages:
        total = {
            "documents": stats["documents"],
            "num_bytes": sum(int(lang["num_bytes"]) for lang in languages.values()),
            "download_size": sum(int(lang["download_size"]) for lang in languages.values()),
        }
        meta["configs"] = [_config_entry(DEFAULT_CONFIG, None)] + [
            _config_entry(language, language) for language in sorted(languages)
        ]
        meta["dataset_info"] = [_info_entry(DEFAULT_CONFIG, features, total)] + [
            _info_entry(language, features, languages[language]) for language in sorted(languages)
        ]
    return meta


# ---- YAML ----------------------------------------------------------------------------------------

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_./*<>+-]*")
_AMBIGUOUS: Final[frozenset[str]] = frozenset(
    {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf"}
)


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in _AMBIGUOUS:
        return text
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar


def _lines(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(value, Mapping):
        out: list[str] = []
        for key, item in value.items():
            if isinstance(item, (Mapping, list, tuple)) and item:
                out.append(f"{pad}{_scalar(key)}:")
                out.extend(_lines(item, indent + 2))
            elif isinstance(item, (Mapping, list, tuple)):
                out.append(f"{pad}{_scalar(key)}: {'{}' if isinstance(item, Mapping) else '[]'}")
            else:
                out.append(f"{pad}{_scalar(key)}: {_scalar(item)}")
        return out
    out = []
    for item in value:
        if isinstance(item, (Mapping, list, tuple)) and item:
            nested = _lines(item, indent + 2)
            out.append(f"{pad}- {nested[0][indent + 2 :]}")
            out.extend(nested[1:])
        else:
            out.append(f"{pad}- {_scalar(item) if not isinstance(item, (Mapping, list, tuple)) else '[]'}")
    return out


def to_yaml(value: Mapping[str, Any]) -> str:
    """Block-style YAML of a mapping of mappings, lists and scalars; parses back to equal values."""
    return "\n".join(_lines(value, 0)) + "\n"


# ---- prose ---------------------------------------------------------------------------------------


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _counts(counts: Mapping[str, int] | None) -> str:
    items = [(kind, n) for kind, n in sorted((counts or {}).items()) if n]
    return ", ".join(f"{kind} {n:,}" for kind, n in items) if items else "none"


def _or_none(value: Any) -> str:
    return "none" if value is None else str(value)


def _size(size: int) -> str:
    """Bytes in the largest binary unit that keeps the number at least 1 (`512 B`, `3.4 MiB`)."""
    value, unit = float(size), "B"
    for bigger in ("KiB", "MiB", "GiB", "TiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{size:,} B" if unit == "B" else f"{value:,.1f} {unit}"


def _overview(stats: Mapping[str, Any]) -> str:
    languages = stats["languages"]
    rows = [
        (lang, f"{v['documents']:,}", _size(int(v["bytes"])), v["shards"], f"`{config_paths(lang)}`")
        for lang, v in sorted(languages.items())
    ]
    return (
        f"# {stats['name']}\n\n"
        f"Source code files collected from public repositories by CodeLupe: {stats['documents']:,} files "
        f"({_size(int(stats['bytes']))} of UTF-8 text) in {len(languages)} languages, one file per row, "
        "each unique by content.\n\n"
        "Load it with `datasets.load_dataset(path)` (config `all`, every language) or "
        '`datasets.load_dataset(path, "<language>")`; the only split is `train`.\n\n'
        + _table(("config", "files", "text", "shards", "files on disk"), rows)
        + "\n"
    )


def _building(stats: Mapping[str, Any]) -> str:
    filters = stats["filters"]
    policy = stats["policy"]
    corpus = stats.get("corpus")
    span = stats.get("indexed_range") or {}
    lines = [
        "## How it was built\n",
        f"- Exported {stats['created_at']} by codelupe {stats['pipeline_version']}; the files were indexed "
        f"between {span.get('first') or 'n/a'} and {span.get('last') or 'n/a'}.",
        f"- Filters: minimum quality score {_or_none(filters.get('min_quality'))}, language "
        f"{filters.get('language') or 'any'}.",
        f"- Policy: licences `{policy['license_policy']}`; documents overlapping an evaluation set "
        f"{'left out' if policy['exclude_contaminated'] else 'kept'}.",
        f"- Left out by the policy: {_counts(stats.get('excluded'))}.",
    ]
    if corpus:
        lines += [
            f"- Scoring ({corpus['batches']:,} batches): {corpus['seen']:,} files seen, {corpus['kept']:,} "
            f"kept; {corpus['exact_duplicates']:,} exact and {corpus['near_duplicates']:,} near duplicates "
            "removed.",
            f"- Dropped while scoring, by reason: {_counts(corpus.get('dropped'))}.",
        ]
    else:
        lines.append("- Scoring counts were not available to this export (no corpus statistics recorded).")
    if stats.get("forgotten"):
        lines.append(f"- Removed after export on request (`codelupe forget`): {stats['forgotten']:,} files.")
    return "\n".join(lines) + "\n"


def _licences(stats: Mapping[str, Any]) -> str:
    rows = [(f"`{lic}`", f"{n:,}") for lic, n in sorted(stats["licenses"].items(), key=lambda kv: -kv[1])]
    sources = _counts(stats.get("license_sources"))
    return (
        "## Licences\n\n"
        "Each file carries the SPDX expression of its licence in `license` (its own header, else its "
        "repository's licence) and where that came from in `license_source`. Honour the licence of each "
        "file you use.\n\n" + _table(("license", "files"), rows) + f"\n\nLicence sources: {sources}.\n"
    )


def _redaction(stats: Mapping[str, Any]) -> str:
    redaction = stats["redaction"]
    on_export = redaction["on_export"]
    at_scoring = redaction.get("at_scoring")
    lines = [
        "## Personal data and secrets\n",
        "Credentials (API keys, tokens, private keys, passwords in URLs) are replaced by typed placeholders "
        "such as `<SECRET:github_pat>`, and personal data of the kinds "
        f"{', '.join(redaction['pii_kinds']) or 'none'} by `<EMAIL>`, `<IP_ADDRESS>`, in contents, paths "
        "and file names. Redaction ran when the files were scored and again on export.",
        "",
        f"- Replacements the exported files record (`secrets_redacted`): {redaction['in_documents']:,}.",
        f"- Found again on export: secrets {_counts(on_export['secrets'])}; personal data "
        f"{_counts(on_export['pii'])}; files changed: {on_export['documents']:,}.",
    ]
    if at_scoring:
        lines.append(
            f"- Replaced while scoring the corpus: secrets {_counts(at_scoring['secrets'])}; personal "
            f"data {_counts(at_scoring['pii'])}."
        )
    lines.append("\nDetection is pattern-based: some secrets and personal data may remain.")
    return "\n".join(lines) + "\n"


def _decontamination(stats: Mapping[str, Any]) -> str:
    sets = stats["decontamination"]["sets"]
    if not sets:
        return "## Decontamination\n\nNo exported or left-out file overlaps a known evaluation set.\n"
    rows = [(name, f"{v['left_out']:,}", f"{v['exported']:,}") for name, v in sorted(sets.items())]
    return (
        "## Decontamination\n\n"
        "Files overlapping a known evaluation set are marked in `contaminated` (the sets, comma-separated)"
        + (" and left out of this export" if stats["policy"]["exclude_contaminated"] else "")
        + ".\n\n"
        + _table(("evaluation set", "files left out", "files exported"), rows)
        + "\n"
    )


_REMOVAL = """## Removal requests

Owners who want their code left out can ask whoever publishes this dataset. `codelupe forget` removes the
files from the corpus and rewrites every registered export without them (this card and its numbers
included).
"""

_LIMITATIONS = """## Limitations

- Licences come from forge metadata, licence files and file headers; they can be wrong or missing.
- Quality scores are heuristics, and near-duplicate removal is approximate (MinHash).
- The corpus reflects the repositories crawled, not all public code; popular languages dominate.
"""


def render_card(stats: Mapping[str, Any]) -> str:
    """README.md of an export: YAML front matter, then the prose sections, all from `stats`."""
    body = "\n".join(
        (
            _overview(stats),
            _building(stats),
            _licences(stats),
            _redaction(stats),
            _decontamination(stats),
            _REMOVAL,
            _LIMITATIONS,
        )
    )
    return f"---\n{to_yaml(front_matter(stats))}---\n\n{body}"
