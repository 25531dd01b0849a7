"""The rule table: every row detects its own synthetic example, checksums are enforced, and the
labelled set (bench/secrets_cases.py) keeps its recall and false-positive rate."""

import ast
import json
import re
from pathlib import Path

import pytest

from codelupe_dagster.core.secret_allowlist import DOCUMENTED_EXAMPLES
from codelupe_dagster.core.secret_checksums import has_crc32_suffix
from codelupe_dagster.core.secret_rules import RULES, synthetic_example
from codelupe_dagster.core.secrets import find_secrets, redact_secrets

LABELLED = Path(__file__).parent / "data" / "secrets" / "labelled.jsonl"


def test_the_table_covers_many_types_with_unique_ids():
    ids = [rule.id for rule in RULES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 150
    assert len({rule.service for rule in RULES}) >= 100


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.id)
def test_each_rule_finds_its_example(rule):
    assert rule.example not in DOCUMENTED_EXAMPLES
    assert synthetic_example(rule.template, rule.id) == rule.example
    if rule.distinctive:
        assert re.search(rule.pattern, rule.example)
        text = f'client.configure("{rule.example}")\n' if "\n" not in rule.example else rule.example
    else:
        text = f'{rule.name.upper()} = "{rule.example}"\n'
    kinds = {finding.kind for finding in find_secrets(text)}
    assert rule.id in kinds


@pytest.mark.parametrize("rule", [r for r in RULES if r.checksum is not None], ids=lambda rule: rule.id)
def test_checksummed_tokens_need_the_right_checksum(rule):
    assert has_crc32_suffix(rule.example)
    last = rule.example[-1]
    forged = rule.example[:-1] + ("A" if last != "A" else "B")
    assert not has_crc32_suffix(forged)
    text = f'client.configure("{forged}")\n'
    assert redact_secrets(text) == (text, {})


def _labelled():
    return [json.loads(line) for line in LABELLED.read_text().splitlines()]


def test_labelled_set_recall_and_false_positives_on_the_held_out_quarter():
    cases = [case for case in _labelled() if case["holdout"]]
    positives = [c for c in cases if c["positive"]]
    negatives = [c for c in cases if not c["positive"]]
    assert len(positives) > 500 and len(negatives) > 200
    recall = sum(c["secret"] not in redact_secrets(c["text"])[0] for c in positives) / len(positives)
    false_positive = sum(redact_secrets(c["text"])[0] != c["text"] for c in negatives) / len(negatives)
    assert recall >= 0.95
    assert false_positive <= 0.02


def test_redacted_python_cases_still_parse():
    for case in _labelled():
        if case["syntax"] != "python":
            continue
        ast.parse(case["text"])
        ast.parse(redact_secrets(case["text"])[0])
