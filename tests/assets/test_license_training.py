"""End to end through clone, score and index: an unlicensed repository's documents are indexed and
searchable, but training (default LICENSE_POLICY=permissive) leaves them out; LICENSE_POLICY=any trains on
them. The licensed repository is labelled by its real LICENSE file, not by its record."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from codelupe_dagster.assets.clone import clone_batch, handoff_entries
from codelupe_dagster.assets.index import es_code_index
from codelupe_dagster.assets.score import scored_files
from codelupe_dagster.backends.git import ClonePolicy
from codelupe_dagster.backends.pygit2_repos import Pygit2Repos
from codelupe_dagster.cli.search import run_search
from codelupe_dagster.core.corpus_policy import ConsumerPolicy
from codelupe_dagster.core.models import RepoRecord
from codelupe_dagster.stages import handoff
from codelupe_dagster.training.data import select_corpus
from tests.assets.test_score_and_index import materialize
from tests.support.corpus import make_repo, stdlib_files
from tests.support.planted import PlantedCorpus

BATCH = "b20261201T120000-licenc"
MIT = (Path(__file__).parents[1] / "core" / "data" / "licenses" / "MIT.txt").read_bytes()


def _cloned_batch(tmp_path: Path, data_dir: Path) -> PlantedCorpus:
    licensed = make_repo(tmp_path / "src" / "licensed", {"LICENSE": MIT, **stdlib_files("json", "json/")})
    unlicensed = make_repo(tmp_path / "src" / "unlicensed", stdlib_files("wsgiref", "wsgiref/"))
    records = [
        RepoRecord("acme/licensed", str(tmp_path / "src" / "licensed"), source="local"),
        RepoRecord("acme/unlicensed", str(tmp_path / "src" / "unlicensed"), source="local"),
    ]
    repos = Pygit2Repos(ClonePolicy(tmp_path / "clones"))
    cloned, failed = handoff_entries(clone_batch(records, repos, workers=1), repos)
    assert not failed
    handoff.write_cloned_manifest(data_dir, BATCH, cloned)
    paths = {c.repo: Path(c.path) for c in cloned}
    return PlantedCorpus(
        data_dir,
        BATCH,
        [
            ("acme/licensed", paths["acme/licensed"], licensed),
            ("acme/unlicensed", paths["acme/unlicensed"], unlicensed),
        ],
    )


def test_unlicensed_code_is_searchable_but_not_trained_on(
    tmp_path: Path, data_dir: Path, redis_url: str, valkey_client, resources_for: Callable[..., dict]
) -> None:
    batch = _cloned_batch(tmp_path, data_dir)
    resources = resources_for(data_dir, redis_url)
    result = materialize(batch, resources, [scored_files, es_code_index])
    assert result.success
    scored = result.asset_materializations_for_node("scored_files")[0].metadata
    assert set(scored["licenses"].data) == {"MIT", "none"}
    assert set(scored["license_sources"].data) == {"license-file", "none"}

    index = resources["search"].code_index()
    repos_by_licence = {(d["repo"], d["license"]) for d in index.iter_documents(fields=["repo", "license"])}
    assert repos_by_licence == {("acme/licensed", "MIT"), ("acme/unlicensed", None)}
    hits = run_search(index, "simple_server", None, None, 10)  # wsgiref's own module, unlicensed
    assert hits and {h["repo"] for h in hits} == {"acme/unlicensed"}
    assert all(h["license"] is None for h in hits)

    default = select_corpus(index, min_quality=0.0, max_documents=10_000, eval_fraction=0.0)
    assert {d["repo"] for d in default.train} == {"acme/licensed"}
    assert default.excluded["license"] > 0 and default.licenses == {"MIT": len(default.train)}

    anything = ConsumerPolicy.from_settings("training", "any")
    everything = select_corpus(
        index, min_quality=0.0, max_documents=10_000, eval_fraction=0.0, policy=anything
    )
    assert {d["repo"] for d in everything.train} == {"acme/licensed", "acme/unlicensed"}
    assert not everything.excluded
    assert len(everything.train) == len(default.train) + default.excluded["license"]
