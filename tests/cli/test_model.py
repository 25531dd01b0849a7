"""`codelupe model merge` writes a model `AutoModelForCausalLM` and `pipeline` load without peft, equal to
base + adapter; errors are one line with the project's exit codes; `model --help` and `model list` stay
fast (no torch)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from codelupe_dagster.cli import cli
from codelupe_dagster.training import checkpoints
from tests.cli.cli_process import codelupe, error_line
from tests.training.test_handover import train_tiny_checkpoint

ROOT = Path(__file__).resolve().parents[2]
PROMPT = "import json\n\ndef load(path):\n"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, tiny_model_source: Path) -> checkpoints.Checkpoint:
    """DATA_DIR with one finished checkpoint (v0001) of the tiny model, shared by this module's tests."""
    return train_tiny_checkpoint(tmp_path_factory.mktemp("merge") / "data", tiny_model_source)


@pytest.fixture
def keep_umask() -> Iterator[None]:
    """The CLI sets a private umask for its process; in-process runs must not leave it on pytest."""
    previous = os.umask(0o022)
    os.umask(previous)
    yield
    os.umask(previous)


def _invoke(data_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["model", *args], env={"DATA_DIR": str(data_dir)})


def _error(result: Result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("error")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.train
def test_merged_model_loads_without_peft_and_equals_base_plus_adapter(
    trained: checkpoints.Checkpoint,
) -> None:
    torch = pytest.importorskip("torch")
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline

    data_dir = trained.path.parents[1]
    result = codelupe("model", "merge", "v0001", DATA_DIR=str(data_dir), OMP_NUM_THREADS="1")
    assert result.returncode == 0, result.stderr
    out = data_dir / "models" / "v0001-merged"
    assert result.stdout.strip().splitlines()[-1] == str(out)
    names = {p.name for p in out.iterdir()}
    assert {
        "model.safetensors",
        "config.json",
        "generation_config.json",
        "tokenizer.json",
        "README.md",
    } <= names
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no staging left behind

    torch.set_num_threads(1)
    merged = AutoModelForCausalLM.from_pretrained(str(out)).eval()
    assert merged.dtype == torch.float32  # the dtype it was trained in on the CPU
    assert not any("lora" in name for name, _ in merged.named_parameters())
    tokenizer = AutoTokenizer.from_pretrained(str(out))
    ids = tokenizer(PROMPT, return_tensors="pt")["input_ids"]
    base = AutoModelForCausalLM.from_pretrained(trained.manifest["base_model_path"]).eval()
    with torch.no_grad():
        plain = base(input_ids=ids).logits
    tuned = PeftModel.from_pretrained(base, str(trained.adapter_dir)).eval()  # wraps `base` in place
    with torch.no_grad():
        expected = tuned(input_ids=ids).logits
        assert (expected - plain).abs().max() > 1e-3  # the adapter matters, so equality below says something
        assert torch.allclose(merged(input_ids=ids).logits, expected, atol=1e-4)

    generate = pipeline("text-generation", model=str(out), device="cpu")
    text = generate(PROMPT, max_new_tokens=6, do_sample=False)[0]["generated_text"]
    assert text.startswith(PROMPT) and len(tokenizer(text)["input_ids"]) > len(ids[0])

    card = (out / "README.md").read_text()
    assert "library_name: transformers" in card and "CodeLupe v0001: merged model" in card


@pytest.mark.train
def test_merge_refuses_a_non_empty_directory_unless_forced(
    trained: checkpoints.Checkpoint, tmp_path: Path, keep_umask: None
) -> None:
    torch = pytest.importorskip("torch")
    from safetensors import safe_open

    data_dir = trained.path.parents[1]
    out = tmp_path / "export"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    refused = _invoke(data_dir, "merge", "1", "--out", str(out))
    assert refused.exit_code == 2
    assert _error(refused) == f"error: {out} is not empty (--force replaces it)"
    assert [p.name for p in out.iterdir()] == ["keep.txt"]

    done = _invoke(data_dir, "merge", "latest", "--out", str(out), "--dtype", "bfloat16", "--force")
    assert done.exit_code == 0, done.stderr
    assert not (out / "keep.txt").exists() and (out / "model.safetensors").is_file()
    with safe_open(str(out / "model.safetensors"), "pt") as weights:
        dtypes = {weights.get_tensor(name).dtype for name in weights.keys()}  # noqa: SIM118 - not a dict
    assert dtypes == {torch.bfloat16}
    assert json.loads((out / "config.json").read_text())["dtype"] == "bfloat16"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]  # old copy and staging removed


def test_unknown_version_is_a_usage_error(tmp_path: Path, keep_umask: None) -> None:
    result = _invoke(tmp_path, "merge", "v0042")
    assert result.exit_code == 2
    assert _error(result) == (
        f"error: no checkpoint v0042 in {tmp_path / 'checkpoints'} (finished checkpoints: none)"
    )


def _copy_checkpoint(trained: checkpoints.Checkpoint, data_dir: Path, **manifest: str) -> None:
    """`trained`'s v0001 in another DATA_DIR (without its base model), its manifest changed."""
    import shutil

    target = data_dir / "checkpoints" / "v0001"
    shutil.copytree(trained.path, target)
    changed = {**trained.manifest, **manifest}
    (target / "manifest.json").write_text(json.dumps(changed))


@pytest.mark.train
def test_missing_base_model_is_unavailable(
    trained: checkpoints.Checkpoint, tmp_path: Path, keep_umask: None
) -> None:
    pytest.importorskip("torch")
    gone = tmp_path / "gone"
    _copy_checkpoint(trained, gone, base_model_path=str(tmp_path / "nowhere"))
    result = _invoke(gone, "merge", "v0001")
    assert result.exit_code == 69
    assert _error(result).startswith("error: the base model local:tiny-qwen2 of v0001 is gone from ")
    assert not (gone / "models").exists()


@pytest.mark.train
def test_hub_base_model_offline_is_unavailable(trained: checkpoints.Checkpoint, tmp_path: Path) -> None:
    """A hub id neither cached nor reachable: one line, exit 69, nothing written (a real process, since the
    hub library reads HF_HUB_OFFLINE when it is imported)."""
    pytest.importorskip("torch")
    data_dir = tmp_path / "data"
    _copy_checkpoint(trained, data_dir, base_model="codelupe-test/no-such-model", base_model_path="")
    result = codelupe(
        "model",
        "merge",
        "v0001",
        DATA_DIR=str(data_dir),
        HF_HUB_OFFLINE="1",
        HF_HOME=str(tmp_path / "hf"),
    )
    assert result.returncode == 69, result.stderr
    assert error_line(result).startswith(
        "error: cannot load the base model codelupe-test/no-such-model of v0001 ("
    )
    assert not (data_dir / "models").exists()


def test_missing_train_extra_is_unavailable(
    tmp_path: Path, keep_umask: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "checkpoints" / "v0001" / "adapter").mkdir(parents=True)
    (tmp_path / "checkpoints" / "v0001" / "manifest.json").write_text('{"base_model": "local:tiny-qwen2"}')
    monkeypatch.setitem(sys.modules, "peft", None)  # `import peft` now fails as if it were not installed
    result = _invoke(tmp_path, "merge", "v0001")
    assert result.exit_code == 69
    assert _error(result) == (
        "error: merging needs the [train] extra (peft is missing): pip install 'codelupe-dagster[train]'"
    )


@pytest.mark.train
def test_list_shows_the_checkpoints(trained: checkpoints.Checkpoint, keep_umask: None) -> None:
    data_dir = trained.path.parents[1]
    listed = _invoke(data_dir, "list", "--json")
    assert listed.exit_code == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(r["version"], r["base_model"], r["steps"]) for r in rows] == [
        ("v0001", "local:tiny-qwen2", trained.manifest["steps"])
    ]
    assert rows[0]["eval_loss_after"] == trained.manifest["eval_loss_after"]
    text = _invoke(data_dir, "list").stdout
    assert text.startswith(f"v0001  local:tiny-qwen2  {trained.manifest['steps']} steps  eval loss ")


PROBE = """
import sys
from codelupe_dagster.cli import main
try:
    main(sys.argv[1:])
except SystemExit as done:
    code = done.code
print("TORCH_IMPORTED" if "torch" in sys.modules else "NO_TORCH", code, file=sys.stderr)
"""


@pytest.mark.parametrize("args", [("model", "--help"), ("model", "merge", "--help"), ("model", "list")])
def test_model_help_and_list_do_not_import_torch(args: tuple[str, ...], tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "ELASTICSEARCH_URL"}}
    environ.update(PYTHONPATH=str(ROOT), DATA_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=environ, timeout=120
    )
    assert result.stderr.strip().splitlines()[-1] == "NO_TORCH 0", result.stderr
