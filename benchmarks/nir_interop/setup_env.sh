#!/usr/bin/env bash
# Creates the environment of the NIR cross-tool checks under benchmarks/.envs/nir_interop
# (gitignored): the CPU torch 2.13.0 build, snnTorch, Norse, nir and nirtorch.
#
# Usage:  bash benchmarks/nir_interop/setup_env.sh
# Re-running skips the environment when it already imports. Norse and snnTorch are installed
# in separate pip calls so that one failing still leaves the other usable; the log says why.
set -u
cd "$(dirname "$0")/.."
ENVS="$PWD/.envs"
DIR="$ENVS/nir_interop"
LOG="$ENVS/nir_interop.log"
mkdir -p "$ENVS"
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
    for c in python3.11 /root/.pyenv/versions/3.11*/bin/python python3; do
        if command -v "$c" >/dev/null 2>&1; then PY="$(command -v "$c")"; break; fi
    done
fi
if [ -x "$DIR/bin/python" ] && "$DIR/bin/python" -c "import torch, snntorch, norse, nir" >/dev/null 2>&1; then
    echo "[nir_interop] already installed"; exit 0
fi
echo "[nir_interop] creating with $PY; log: $LOG"
: >"$LOG"
[ -x "$DIR/bin/python" ] || "$PY" -m venv "$DIR" >>"$LOG" 2>&1 || { echo "venv failed"; exit 1; }
"$DIR/bin/python" -m pip install -q --upgrade pip >>"$LOG" 2>&1
# torch first: a plain 'torch' requirement would pull the multi-GB CUDA build.
"$DIR/bin/python" -m pip install -q "torch==2.13.0" "numpy" "nir==1.0.8" "nirtorch" >>"$LOG" 2>&1 || { echo "[nir_interop] torch/nir FAILED"; tail -5 "$LOG"; exit 1; }
status=0
"$DIR/bin/python" -m pip install -q "snntorch==1.0.0" "torch==2.13.0" >>"$LOG" 2>&1 || { echo "[nir_interop] snntorch FAILED (see $LOG)"; status=1; }
# norse 1.1.0 declares torchvision, which pulls a newer CUDA torch over the CPU build;
# torchvision is only used by norse's datasets and model zoo, not by norse.torch's neurons or
# its NIR import/export, so norse is installed without its dependencies (the others are
# already in place).
"$DIR/bin/python" -m pip install -q --no-deps "norse==1.1.0" >>"$LOG" 2>&1 || { echo "[nir_interop] norse FAILED (see $LOG)"; status=1; }
"$DIR/bin/python" -c "import snntorch; print('snntorch', snntorch.__version__)" 2>>"$LOG"
"$DIR/bin/python" -c "import norse; print('norse', norse.__version__)" 2>>"$LOG"
exit $status
