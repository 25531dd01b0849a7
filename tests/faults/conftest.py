"""Fault-injection suite options and session fixtures: one corpus and one clean run, shared by every test."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.harness import Baseline, build_corpus, clean_baseline

DEFAULT_SEEDS = 10


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--seeds",
        type=int,
        default=DEFAULT_SEEDS,
        help=f"how many seeded SIGKILL moments tests/faults tries (default {DEFAULT_SEEDS})",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "kill_seed" in metafunc.fixturenames:
        seeds = metafunc.config.getoption("--seeds")
        metafunc.parametrize("kill_seed", range(seeds), ids=[f"seed{s}" for s in range(seeds)])


@pytest.fixture(scope="session")
def fault_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 small repositories (15 standard-library files each): a clean run takes ~12 s on 2 cores."""
    root = tmp_path_factory.mktemp("fault-corpus")
    build_corpus(root / "repos", repos=12, files_per_repo=15)
    return root / "repos"


@pytest.fixture(scope="session")
def baseline(tmp_path_factory: pytest.TempPathFactory, fault_corpus: Path) -> Baseline:
    """A clean uninterrupted `codelupe run` of an identical copy of the corpus: the expected ids."""
    return clean_baseline(tmp_path_factory.mktemp("fault-clean"), fault_corpus)
