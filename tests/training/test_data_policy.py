"""Training selection keeps to the training policy on a real index: permissive licences, no evaluation-set
overlap by default, with what was left out counted per reason."""

from __future__ import annotations

from typing import Any

import pytest

from codelupe_dagster.backends.search.base import CODE_SCHEMA
from codelupe_dagster.core.corpus_policy import ConsumerPolicy
from codelupe_dagster.training.data import NoEligibleSamples, select_corpus


def _doc(i: int, repo: str, license_id: str | None, contaminated: str | None = None) -> dict[str, Any]:
    return {
        "id": f"{i:032x}",
        "content": f"def function_{i}(value):\n    return value * {i}\n",
        "path": f"pkg/mod_{i}.py",
        "filename": f"mod_{i}.py",
        "extension": "py",
        "language": "python",
        "repo": repo,
        "repo_stars": 1,
        "license": license_id,
        "license_source": "license-file" if license_id else None,
        "commit": "0" * 40,
        "quality_score": 0.9,
        "quality_signals": {},
        "size_bytes": 40,
        "lines": 2,
        "contaminated": contaminated,
        "indexed_at": f"2026-01-01T00:00:{i:02d}+00:00",
    }


@pytest.fixture
def index(search_backend):
    docs = (
        [_doc(i, "acme/mit", "MIT") for i in range(0, 6)]
        + [_doc(i, "acme/gpl", "GPL-3.0-only") for i in range(6, 9)]
        + [_doc(i, "acme/none", None) for i in range(9, 11)]
        + [_doc(11, "acme/dual", "GPL-3.0-only OR Apache-2.0")]
        + [_doc(12, "acme/mit", "MIT", contaminated="humaneval")]
    )
    code_index = search_backend(CODE_SCHEMA)
    code_index.ensure()
    code_index.bulk_upsert(docs).raise_for_errors()
    code_index.refresh()
    return code_index


def test_default_training_policy_keeps_permissive_clean_documents(index) -> None:
    selection = select_corpus(index, min_quality=0.7, max_documents=100, eval_fraction=0.0)
    kept = selection.train + selection.eval
    assert sorted({doc["repo"] for doc in kept}) == ["acme/dual", "acme/mit"]
    assert len(kept) == 7
    assert selection.excluded == {"license": 5, "contaminated": 1}
    assert selection.fetched == 13
    assert selection.licenses == {"MIT": 6, "GPL-3.0-only OR Apache-2.0": 1}
    assert selection.policy == {"license_policy": "permissive", "exclude_contaminated": True}


def test_max_documents_counts_admitted_documents(index) -> None:
    selection = select_corpus(index, min_quality=0.7, max_documents=3, eval_fraction=0.0)
    assert selection.documents == 3
    assert all(doc["license"] in {"MIT", "GPL-3.0-only OR Apache-2.0"} for doc in selection.train)


def test_any_policy_with_contaminated_trains_on_everything(index) -> None:
    policy = ConsumerPolicy.from_settings("training", "any", include_contaminated=True)
    selection = select_corpus(index, min_quality=0.7, max_documents=100, eval_fraction=0.0, policy=policy)
    assert selection.documents == 13 and selection.excluded == {}


def test_when_the_policy_leaves_nothing_the_error_says_why(search_backend) -> None:
    code_index = search_backend(CODE_SCHEMA)
    code_index.ensure()
    unlicensed, copyleft = _doc(1, "acme/none", None), _doc(2, "acme/gpl", "GPL-2.0-only")
    code_index.bulk_upsert([unlicensed, copyleft]).raise_for_errors()
    code_index.refresh()
    with pytest.raises(NoEligibleSamples, match=r"2 for license excluded; see LICENSE_POLICY"):
        select_corpus(code_index, min_quality=0.7, max_documents=10, eval_fraction=0.0)
