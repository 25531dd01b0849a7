#!/usr/bin/env bash
# The one test command (README, CI): installs what the tests need, starts a real Elasticsearch node,
# runs the whole suite against real servers, and fails when no test ran.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

# System services and tools the tests talk to (Debian packages), when missing.
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v git >/dev/null || missing+=(git)
command -v chromium >/dev/null || missing+=(chromium)
command -v go >/dev/null || missing+=(golang-go)
{ command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; } || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "==> apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "==> WARNING: not root; cannot install ${missing[*]} — tests needing them will fail on CI"
  fi
fi

# Rust for the compiled hot path (native/), which `pip install` builds.
. scripts/require_rust.sh

if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
echo "==> installing the project with [dev,train]"
"$VENV/bin/pip" install -q -U pip
"$VENV/bin/pip" install -q -e '.[dev,train]'

echo "==> ruff"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check . || { echo "ruff format would change files"; exit 1; }

echo "==> mypy --strict (core/ and backends/)"
"$VENV/bin/mypy"

echo "==> dagster definitions validate, dg check defs"
"$VENV/bin/dagster" definitions validate -m codelupe_dagster.definitions
"$VENV/bin/dg" check defs

echo "==> pytest (with a real Elasticsearch node)"
set +e
"$VENV/bin/python" scripts/elasticsearch.py run -- "$VENV/bin/pytest" "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit "$status"
