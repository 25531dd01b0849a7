"""The labelled set for the secret detector: positives for every rule of the table in several
syntaxes (and standalone in neutral code for self-identifying formats), and negatives that look
like secrets but are not (placeholders, documented examples, hashes, UUIDs, base64, versions).

Every value is synthetic: generated from the rule's template with seeds other than the one of
the table's example, so the set never repeats what the rules were written from. A quarter of the
rules (and of the negatives), chosen by hash, is held out: report it apart from the rest.

    python bench/secrets_cases.py   # writes tests/core/data/secrets/labelled.jsonl
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import sys
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codelupe_dagster.core.secret_rules import RULES, SecretRule, synthetic_example

OUT = Path(__file__).resolve().parents[1] / "tests/core/data/secrets/labelled.jsonl"


@dataclass(frozen=True)
class Case:
    rule: str  # rule id for positives, a negative family for negatives
    syntax: str
    text: str
    secret: str  # the characters that must disappear (positives); "" for negatives
    positive: bool
    standalone: bool
    holdout: bool


def held_out(key: str) -> bool:
    return hashlib.sha1(key.encode()).digest()[0] < 64


def _named(name: str, value: str) -> dict[str, str]:
    upper, lower = name.upper(), name.lower()
    camel = lower.split("_")[0] + "".join(p.title() for p in lower.split("_")[1:])
    return {
        "python": f'import client\n\n{upper} = "{value}"\nclient.setup({upper})\n',
        "js": f"const {camel} = '{value}';\nmodule.exports = {{ {camel} }};\n",
        "go": f'func init() {{\n\t{camel} := "{value}"\n\tuse({camel})\n}}\n',
        "yaml": f"service:\n  {lower}: {value}\n  region: eu-west-1\n",
        "env": f"APP_ENV=production\n{upper}={value}\n",
        "json": f'{{\n  "{camel}": "{value}",\n  "timeout": 30\n}}\n',
        "shell": f'export {upper}="{value}"\n./deploy.sh\n',
    }


def _standalone(value: str) -> dict[str, str]:
    return {
        "configure": f'client.configure("{value}")\n',
        "list": f"values = ['{value}', 'eu-west-1']\n",
        "curl": f'curl -H "Authorization: Bearer {value}" https://api.example.org/v1/items\n',
    }


def _multiline(value: str) -> dict[str, str]:
    escaped = value.replace("\n", "\\n")
    return {
        "python": f'KEY = """{value}"""\n',
        "json": f'{{"type": "service_account", "private_key": "{escaped}"}}\n',
        "file": value + "\n",
    }


def positives(rule: SecretRule, seeds: int = 2) -> list[Case]:
    holdout = held_out(rule.id)
    cases = []
    for seed in range(1, seeds + 1):
        value = synthetic_example(rule.template, f"{rule.id}#{seed}")
        if "\n" in value:
            secret = max(value.splitlines(), key=len)  # a body line of the key
            cases += [Case(rule.id, s, t, secret, True, False, holdout) for s, t in _multiline(value).items()]
            continue
        secret = value.split("/services/")[-1] if "hooks.slack.com" in value else value
        name = rule.name or f"{rule.service.split()[0].lower().replace('.', '')}_credential"
        name = f"svc_{name}" if name[0].isdigit() else name  # a valid identifier everywhere
        cases += [Case(rule.id, s, t, secret, True, False, holdout) for s, t in _named(name, value).items()]
        if rule.distinctive:
            cases += [Case(rule.id, s, t, secret, True, True, holdout) for s, t in _standalone(value).items()]
    return cases


def negatives() -> list[Case]:
    rng = random.Random(10)
    cases: list[Case] = []

    def add(family: str, syntax: str, text: str) -> None:
        cases.append(Case(family, syntax, text, "", False, False, held_out(f"{family}{len(cases)}")))

    names = (
        "password",
        "api_key",
        "token",
        "secret",
        "github_token",
        "aws_secret_access_key",
        "client_secret",
    )
    placeholders = (
        "changeme", "<your-token>", "${TOKEN}", "{{ token }}", "xxxxxxxxxxxxxxxxxxxx", "********",
        "YOUR_API_KEY_HERE", "replace-me", "<token>", "%(token)s", "dummy", "test", "example-token",
    )  # fmt: skip
    for name in names:
        for value in placeholders:
            for syntax, text in _named(name, value).items():
                add("placeholder", syntax, text)
        add("reference", "python", f'{name} = os.environ["{name.upper()}"]\n')
        add("reference", "js", f"const {name} = process.env.{name.upper()};\n")
        add("reference", "go", f'{name} := os.Getenv("{name.upper()}")\n')
        add("reference", "yaml", f"{name}: ${{{{ secrets.{name.upper()} }}}}\n")
        add("reference", "python", f"{name}: str | None = None\n")
    documented = (
        "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "ghp_" + "x" * 36,
        "sk_live_" + "0" * 24, "xoxb-0000000000-0000000000-xxxxxxxxxxxxxxxxxxxxxxxx",
        "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8", "AIzaSyXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
        "sk-proj-EXAMPLEEXAMPLEEXAMPLEEXAMPLEEXAMPLEEXAMPLE", "npm_" + "1234567890" * 3 + "abcdef",
    )  # fmt: skip
    for value in documented:
        for syntax, text in {**_named("api_key", value), **_standalone(value)}.items():
            add("documented", syntax, text)
    for i in range(60):
        data = f"file-{i}".encode()
        add("hash", "python", f'EXPECTED_SHA256 = "{hashlib.sha256(data).hexdigest()}"\n')
        add(
            "hash",
            "js",
            f'const integrity = "sha512-{base64.b64encode(hashlib.sha512(data).digest()).decode()}";\n',
        )
        add("hash", "go", f'const commit = "{hashlib.sha1(data).hexdigest()}"\n')
        add("hash", "yaml", f"checksum: {hashlib.md5(data).hexdigest()}\n")
        add("uuid", "python", f'request_id = "{uuid.UUID(int=rng.getrandbits(128), version=4)}"\n')
        add("uuid", "json", f'{{"id": "{uuid.UUID(int=rng.getrandbits(128), version=4)}"}}\n')
        blob = base64.b64encode(rng.randbytes(48)).decode()
        add("base64", "python", f'ICON = "data:image/png;base64,{blob}"\n')
        add("base64", "js", f"const fixture = atob('{blob}');\n")
        add("version", "python", f'__version__ = "{i % 5}.{i % 13}.{i}"\n')
        add("version", "yaml", f"image: postgres:{10 + i % 7}.{i % 4}-alpine\n")
    return cases


def labelled_set() -> list[Case]:
    return [case for rule in RULES for case in positives(rule)] + negatives()


def main() -> None:
    cases = labelled_set()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w") as handle:
        for case in cases:
            handle.write(json.dumps(asdict(case)) + "\n")
    n_pos = sum(c.positive for c in cases)
    print(
        f"{len(cases)} cases: {n_pos} positive ({len(RULES)} types), {len(cases) - n_pos} negative -> {OUT}"
    )


if __name__ == "__main__":
    main()
