"""`core.dataset_card`: SPDX expressions to the Hub's licence ids, size buckets, the YAML emitter (what it
writes parses back to the same values), and a card rendered from a stats mapping."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from codelupe_dagster.core.dataset_card import (
    card_licenses,
    front_matter,
    hub_license_id,
    license_ids,
    render_card,
    size_category,
    to_yaml,
)


@pytest.mark.parametrize(
    ("expression", "ids"),
    [
        ("MIT", ["MIT"]),
        ("Apache-2.0 OR MIT", ["Apache-2.0", "MIT"]),
        ("(MIT AND BSD-2-Clause) OR GPL-2.0-or-later", ["MIT", "BSD-2-Clause", "GPL-2.0-or-later"]),
        ("GPL-2.0-only WITH Classpath-exception-2.0", ["GPL-2.0-only"]),
        ("MIT OR MIT", ["MIT"]),
    ],
)
def test_license_ids(expression: str, ids: list[str]) -> None:
    assert license_ids(expression) == ids


@pytest.mark.parametrize(
    ("spdx", "hub"),
    [
        ("MIT", "mit"),
        ("Apache-2.0", "apache-2.0"),
        ("GPL-3.0-only", "gpl-3.0"),
        ("GPL-2.0-or-later", "gpl-2.0"),
        ("LGPL-2.1+", "lgpl-2.1"),
        ("AGPL-3.0-only", "agpl-3.0"),
        ("BSD-3-Clause-Clear", "bsd-3-clause-clear"),
        ("ODbL-1.0", "odbl"),
        ("CC0-1.0", "cc0-1.0"),
        ("EUPL-1.1", "eupl-1.1"),
        ("EUPL-1.2", None),
        ("0BSD", None),
        ("MIT-0", None),
        ("LicenseRef-acme", None),
    ],
)
def test_hub_license_id(spdx: str, hub: str | None) -> None:
    assert hub_license_id(spdx) == hub


def test_card_licenses_other_and_unknown() -> None:
    assert card_licenses({"MIT": 3, "Apache-2.0 OR MIT": 1}) == {"license": ["apache-2.0", "mit"]}
    assert card_licenses({"MIT": 1, "none": 2}) == {"license": ["mit", "unknown"]}
    one = card_licenses({"0BSD": 1, "MIT": 1})
    assert one == {
        "license": ["mit", "other"],
        "license_name": "0bsd",
        "license_link": "https://spdx.org/licenses/0BSD.html",
    }
    several = card_licenses({"0BSD": 1, "MIT-0 OR Python-2.0": 2})
    assert several["license"] == ["other"] and several["license_name"] == "several"
    assert card_licenses({"MIT": 0}) == {"license": []}


@pytest.mark.parametrize(
    ("n", "label"),
    [(0, "n<1K"), (999, "n<1K"), (1000, "1K<n<10K"), (123_456, "100K<n<1M"), (2 * 10**9, "n>1B")],
)
def test_size_category(n: int, label: str) -> None:
    assert size_category(n) == label


def test_yaml_parses_back_to_the_same_values() -> None:
    value = {
        "license": ["mit", "other"],
        "size_categories": ["1K<n<10K"],
        "pretty_name": "CodeLupe: code, 2026",
        "tricky": ["yes", "no", "on", "null", "1.0", "007", "-x", "*star"],
        "more": ["a: b", "# c", "é ü", "", "x'y\"z"],
        "numbers": [0, 12, 1.5, True, False, None],
        "empty": {},
        "none": [],
        "configs": [
            {
                "config_name": "all",
                "data_files": [{"split": "train", "path": "data/*/*.parquet"}],
                "default": True,
            }
        ],
        "nested": [[1, 2], {"a": {"b": [{"c": 1}]}}],
    }
    text = to_yaml(value)
    assert yaml.safe_load(text) == value
    assert "path: data/*/*.parquet" in text  # plain where it is safe: the card stays readable


def stats(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "Test corpus",
        "created_at": "2026-12-01T12:00:00+00:00",
        "pipeline_version": "0.1.0",
        "filters": {"min_quality": 0.5, "language": None},
        "policy": {"license_policy": "permissive", "exclude_contaminated": True},
        "documents": 3,
        "bytes": 3000,
        "languages": {
            "python": {"documents": 2, "bytes": 2000, "shards": 1, "num_bytes": 2500, "download_size": 900},
            "go": {"documents": 1, "bytes": 1000, "shards": 1, "num_bytes": 1200, "download_size": 500},
        },
        "licenses": {"MIT": 2, "BSD-3-Clause": 1},
        "license_sources": {"api": 2, "file-header": 1},
        "indexed_range": {"first": "2026-01-01T00:00:00+00:00", "last": "2026-02-01T00:00:00+00:00"},
        "excluded": {"license": 4},
        "decontamination": {
            "exclude_contaminated": True,
            "sets": {"humaneval": {"left_out": 2, "exported": 0}},
        },
        "redaction": {
            "pii_kinds": ["email", "ip"],
            "on_export": {"secrets": {"github_pat": 1}, "pii": {}, "documents": 1},
            "in_documents": 7,
            "at_scoring": {"secrets": {"aws_key": 2}, "pii": {"email": 5}},
        },
        "duplicates": {"exact": 4, "near": 2},
        "corpus": {
            "batches": 1,
            "seen": 20,
            "kept": 9,
            "exact_duplicates": 4,
            "near_duplicates": 2,
            "dropped": {"binary": 5},
        },
        "forgotten": 0,
        "features": {"id": "string", "content": "large_string", "quality_score": "float64"},
    }
    base.update(overrides)
    return base


def test_front_matter_configs_and_sizes() -> None:
    meta = front_matter(stats())
    assert [c["config_name"] for c in meta["configs"]] == ["all", "go", "python"]
    info = {c["config_name"]: c for c in meta["dataset_info"]}
    assert info["all"]["splits"] == [{"name": "train", "num_bytes": 3700, "num_examples": 3}]
    assert info["all"]["download_size"] == 1400 and info["go"]["dataset_size"] == 1200
    assert info["python"]["features"][1] == {"name": "content", "dtype": "large_string"}
    assert meta["tags"] == ["code", "go", "python"]


def test_render_card_from_the_stats_only() -> None:
    card = render_card(stats())
    head, body = card.split("---\n", 2)[1:]
    assert yaml.safe_load(head) == front_matter(stats())
    for expected in (
        "3 files (2.9 KiB of UTF-8 text) in 2 languages",
        "| go | 1 | 1,000 B | 1 | `data/go/*.parquet` |",
        "| python | 2 |",
        "codelupe 0.1.0",
        "minimum quality score 0.5",
        "Left out by the policy: license 4.",
        "20 files seen, 9 kept; 4 exact and 2 near duplicates",
        "by reason: binary 5.",
        "| `MIT` | 2 |",
        "api 2, file-header 1",
        "(`secrets_redacted`): 7",
        "secrets github_pat 1",
        "secrets aws_key 2; personal data email 5",
        "| humaneval | 2 | 0 |",
        "codelupe forget",
    ):
        assert expected in body, expected
    without = render_card(
        stats(corpus=None, forgotten=3, decontamination={"sets": {}}, filters={"min_quality": None})
    )
    assert "minimum quality score none, language any" in without
    assert "Scoring counts were not available" in without and "3 files" in without
    assert "No exported or left-out file overlaps" in without
    assert "Removed after export on request (`codelupe forget`): 3 files." in without
