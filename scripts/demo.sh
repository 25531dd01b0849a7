#!/usr/bin/env bash
# The main job in one command: install, then run the whole graph on the embedded default
# (embedded Valkey, local SQLite index, sample git repositories built from code on this machine,
# a small CPU training run), and show what came out.
# Extra arguments go to `codelupe run` (e.g. --source DIR, --samples N, --no-train).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
# The demo keeps its state in the checkout; `codelupe` creates DATA_DIR/dagster with a quiet dagster.yaml.
export DATA_DIR=${DATA_DIR:-$PWD/.codelupe}

# Rust for the compiled hot path (native/), which `pip install` builds.
. scripts/require_rust.sh

if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
echo "==> installing CodeLupe with the [train] extra"
"$VENV/bin/pip" install -q -U pip
"$VENV/bin/pip" install -q -e '.[train]'

# On the local tiny model the CPU training run stops after two minutes of training (then evaluates and
# saves as usual), so the first run finishes in minutes; set TRAIN_MAX_SECONDS to change it.
case "${BASE_MODEL:-local:}" in
  local:*) export TRAIN_MAX_SECONDS=${TRAIN_MAX_SECONDS:-120} ;;
esac

echo "==> running the pipeline (DATA_DIR=$DATA_DIR)"
"$VENV/bin/codelupe" run "$@"

echo
echo "==> status"
"$VENV/bin/codelupe" status

echo
echo "==> a sample search: 'parse json'"
"$VENV/bin/codelupe" search "parse json" --limit 3

latest=$(ls -1d "$DATA_DIR"/checkpoints/v* 2>/dev/null | tail -n 1 || true)
echo
if [ -n "$latest" ]; then
  echo "==> checkpoint: $latest"
  "$VENV/bin/python" - "$latest/manifest.json" <<'PY'
import json, sys
manifest = json.load(open(sys.argv[1]))
for key, value in manifest.items():
    if not isinstance(value, (dict, list)):
        print(f"  {key}: {value}")
PY
else
  echo "==> no checkpoint (training skipped or no eligible samples)"
fi
cat <<MSG

Open the UI (the runs above are in it), where the sensors keep the pipeline going:
  DATA_DIR=$DATA_DIR $VENV/bin/codelupe ui
Stop the embedded Valkey when you are done:
  DATA_DIR=$DATA_DIR $VENV/bin/codelupe services stop
MSG
