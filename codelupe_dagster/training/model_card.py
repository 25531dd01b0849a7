"""The model card (README.md) of a checkpoint's adapter, or of its merged export, from its manifest.

Every fact on the card comes from `manifest.json`, so the card cannot disagree with the checkpoint. The
YAML front matter is what the Hugging Face Hub reads: `library_name` (peft for the adapter, transformers
for the merged model), `base_model` (only a Hub id: a local path or `local:tiny-qwen2` means nothing
there, so the prose names it instead), `license` and `tags`. The licence is the Hub id of one SPDX id
that every trained-on document's licence expression is satisfied by (`MIT` covers `MIT` and
`MIT OR Apache-2.0`); anything else — several licences, an id the Hub does not know, documents without a
licence — is `other`, with the licences listed in the prose.

Pure: no I/O, no clock (the dates come from the manifest).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from codelupe_dagster.core.dataset_card import OTHER_LICENSE, hub_license_id, to_yaml
from codelupe_dagster.core.licenses import UNKNOWN_LICENSES, LicensePolicy, parse_spdx, spdx_licenses

PROJECT: Final = "CodeLupe"
# `owner/name` (no scheme, no leading slash, no `local:`): what the Hub accepts as `base_model`.
_HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*")
# Hyper-parameters the card shows, in this order (all from the manifest's `config`).
HYPER_PARAMETERS: Final[tuple[str, ...]] = (
    "learning_rate",
    "min_lr_ratio",
    "warmup_ratio",
    "weight_decay",
    "max_grad_norm",
    "lora_r",
    "lora_alpha",
    "lora_dropout",
    "lora_target_modules",
    "seq_len",
    "micro_batch_rows",
    "tokens_per_step",
    "epochs",
    "max_steps",
    "seed",
)


def hub_base_model(manifest: Mapping[str, Any]) -> str | None:
    """The base model as a Hub id, or None when it is local (a path or `local:...`)."""
    spec = str(manifest.get("base_model") or "")
    return spec if _HUB_ID.fullmatch(spec) and not spec.startswith((".", "/")) else None


def covering_license(per_license: Mapping[str, int]) -> str | None:
    """The one SPDX id (as written in the expressions) that satisfies every licence expression trained
    on, or None when no single id does (or some documents had no licence, or an expression is malformed).
    """
    expressions = [expr for expr, documents in per_license.items() if documents > 0]
    if not expressions or any(expr.strip().lower() in UNKNOWN_LICENSES for expr in expressions):
        return None
    try:
        candidates = sorted({lic.id for expr in expressions for lic in spdx_licenses(parse_spdx(expr))})
    except ValueError:
        return None
    for candidate in candidates:
        policy = LicensePolicy.of([candidate.rstrip("+")])
        if all(policy.admits(expr) for expr in expressions):
            return candidate
    return None


def license_fields(per_license: Mapping[str, int]) -> dict[str, str]:
    """The card's `license` for documents under `per_license` (expression -> count): the covering id when
    the Hub knows it; else `other`, named after the one covering SPDX id (with its SPDX page) or, with
    no single one, `training-data-licences` (the prose lists them)."""
    covering = covering_license(per_license)
    hub = hub_license_id(covering) if covering else None
    if hub:
        return {"license": hub}
    if covering:
        return {
            "license": OTHER_LICENSE,
            "license_name": re.sub(r"[^a-z0-9.-]+", "-", covering.lower()).strip("-"),
            "license_link": f"https://spdx.org/licenses/{covering.rstrip('+')}.html",
        }
    return {"license": OTHER_LICENSE, "license_name": "training-data-licences"}


def front_matter(manifest: Mapping[str, Any], *, merged: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"library_name": "transformers" if merged else "peft"}
    base = hub_base_model(manifest)
    if base:
        meta["base_model"] = base
        meta["base_model_relation"] = "finetune" if merged else "adapter"
    meta.update(license_fields(manifest.get("licenses") or {}))
    languages = sorted(str(lang) for lang in (manifest.get("languages") or {}) if lang != "unknown")
    kind = ["merged"] if merged else ["lora", "peft"]
    meta["tags"] = ["codelupe", "code", *kind, *languages]
    meta["pipeline_tag"] = "text-generation"
    return meta


# ---- prose ---------------------------------------------------------------------------------------


def _number(value: Any, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e4 else f"{value:,.0f}"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _counts_table(name: str, counts: Mapping[str, int]) -> str:
    rows = [(f"`{key}`", f"{n:,}") for key, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return _table((name, "documents"), rows) if rows else f"No {name} recorded."


def _title(manifest: Mapping[str, Any], merged: bool) -> str:
    version = manifest.get("version", "?")
    what = "merged model" if merged else "LoRA adapter"
    return f"# {PROJECT} {version}: {what} for {manifest.get('base_model', 'an unknown base model')}\n"


def _loading(manifest: Mapping[str, Any], merged: bool) -> str:
    version = manifest.get("version", "vNNNN")
    if merged:
        return (
            "## Loading it\n\n"
            "The adapter is merged into the base model's weights: load this directory like any causal LM.\n\n"
            "```python\nfrom transformers import AutoModelForCausalLM, AutoTokenizer, pipeline\n\n"
            'model = AutoModelForCausalLM.from_pretrained("path/to/this/directory")\n'
            'tokenizer = AutoTokenizer.from_pretrained("path/to/this/directory")\n'
            'generate = pipeline("text-generation", model="path/to/this/directory")\n```\n'
        )
    return (
        "## Loading it\n\n"
        "This directory holds the adapter and the tokenizer it was trained with; `adapter_config.json` "
        "names the base model, which must be available (downloaded, or the local path it names).\n\n"
        "```python\nfrom peft import AutoPeftModelForCausalLM\nfrom transformers import AutoTokenizer\n\n"
        'model = AutoPeftModelForCausalLM.from_pretrained("path/to/this/directory")\n'
        'tokenizer = AutoTokenizer.from_pretrained("path/to/this/directory")\n```\n\n'
        f"`codelupe model merge {version}` writes the base model with this adapter merged in, which "
        '`AutoModelForCausalLM` and `pipeline("text-generation")` load without peft.\n'
    )


def _data(manifest: Mapping[str, Any]) -> str:
    policy = manifest.get("policy") or {}
    lines = [
        "## Training data\n",
        f"Source files collected by {PROJECT}, indexed up to {manifest.get('data_watermark') or 'n/a'} "
        "(the data watermark).\n",
        f"- Documents: {_number(manifest.get('documents'))} ({_number(manifest.get('train_documents'))} "
        f"training, {_number(manifest.get('eval_documents'))} held out), from "
        f"{_number(manifest.get('train_repos'))} training and {_number(manifest.get('eval_repos'))} "
        "held-out repositories (no repository in both).",
        f"- Tokens: {_number(manifest.get('tokens'))} training, {_number(manifest.get('eval_tokens'))} "
        f"held out; {_number(manifest.get('trained_tokens'))} trained on.",
        f"- Licence policy: `{policy.get('license_policy', 'n/a')}`; documents overlapping an evaluation "
        f"set {'left out' if policy.get('exclude_contaminated', True) else 'kept'}.",
        "\n### Languages\n",
        _counts_table("language", manifest.get("languages") or {}),
        "\n### Licences\n",
        "Each document's licence as an SPDX expression. Honour them, and the base model's licence.\n",
        _counts_table("licence", manifest.get("licenses") or {}),
    ]
    return "\n".join(lines) + "\n"


def _results(manifest: Mapping[str, Any]) -> str:
    rows = [
        ("held-out loss before training", _number(manifest.get("eval_loss_before"))),
        ("held-out loss after training", _number(manifest.get("eval_loss_after"))),
        ("training loss, first step", _number(manifest.get("train_loss_first_step"))),
        ("training loss, last tenth of the steps", _number(manifest.get("train_loss"))),
    ]
    intro = "## Results\n\nLosses are mean cross-entropy per token (nats).\n\n"
    return intro + _table(("loss", "value"), rows) + "\n"


def _training(manifest: Mapping[str, Any]) -> str:
    config = manifest.get("config") or {}
    stopped = manifest.get("stopped_on", "completed")
    rows = [
        (name, "none" if config[name] is None else _number(config[name]))
        for name in HYPER_PARAMETERS
        if name in config
    ]
    lines = [
        "## Training\n",
        f"- Steps: {_number(manifest.get('steps'))} of {_number(manifest.get('steps_planned'))} planned"
        + (" (stopped on the time budget)" if stopped == "time_budget" else "")
        + f"; {_number(manifest.get('tokens_per_second'), 3)} tokens/s over "
        f"{_number(manifest.get('train_seconds'), 3)} s.",
        f"- Hardware: {manifest.get('device', 'n/a')}, {manifest.get('dtype', 'n/a')}; "
        f"{_number(manifest.get('trainable_parameters'))} trainable parameters.",
        f"- Continued from: {manifest.get('resumed_from') or 'the base model (a fresh adapter)'}.",
        "",
        _table(("hyper-parameter", "value"), rows),
        "",
        "## Provenance\n",
        f"- Trained by {PROJECT} {manifest.get('codelupe_version') or '(version not recorded)'}"
        f" (commit {manifest.get('git_commit') or 'n/a'}), finished {manifest.get('created_at', 'n/a')}.",
        f"- Base model: `{manifest.get('base_model', 'n/a')}`.",
        "- The full record is the checkpoint's `manifest.json`.",
    ]
    return "\n".join(lines) + "\n"


def model_card(manifest: Mapping[str, Any], *, merged: bool = False) -> str:
    """README.md of a checkpoint's adapter (or, `merged`, of its merged export): front matter, then prose."""
    body = "\n".join(
        (
            _title(manifest, merged),
            _loading(manifest, merged),
            _data(manifest),
            _results(manifest),
            _training(manifest),
        )
    )
    return f"---\n{to_yaml(front_matter(manifest, merged=merged))}---\n\n{body}"
