"""A tiny Qwen2 model built once per session (tokenizer trained on stdlib code) and copied into each
test's DATA_DIR, so tests exercise the real build + `from_pretrained` path without paying for it
more than once."""

import shutil
from pathlib import Path

import pytest

from tests.support.training_docs import stdlib_docs


@pytest.fixture(scope="session")
def tiny_model_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    pytest.importorskip("peft")
    from codelupe_dagster.training.tiny_model import ensure_tiny_model

    corpus = [doc["content"] for doc in stdlib_docs(["json", "email", "http", "logging"], per_package=6)]
    return ensure_tiny_model(tmp_path_factory.mktemp("tiny-build"), corpus, vocab_size=1024)


@pytest.fixture
def with_tiny_model(tiny_model_source: Path):
    """Install the session's tiny model into a data dir (what the first training run would build)."""

    def install(data_dir: Path) -> Path:
        target = data_dir / "models" / "tiny-qwen2"
        if not target.exists():
            shutil.copytree(tiny_model_source, target)
        return target

    return install
