#!/usr/bin/env bash
# Creates one virtual environment per peer library under benchmarks/.envs/ (gitignored).
#
# The peers pin different JAX / NumPy / Python versions, so each lives in its own
# environment and the suite (benchmarks/run_suite.py) runs each implementation as its
# own process with that environment's interpreter. funcdyn and the hand-written JAX
# implementations run with the interpreter that runs the suite.
#
# Usage:  bash benchmarks/setup_peers.sh [brainpy] [torch] [reservoirpy] [brian2]
#         (no arguments: all of them). Re-running skips environments that already import.
#
# A peer that fails to install is reported and skipped; the suite then records
# "not installed" for it, with the reason from benchmarks/.envs/<peer>.log.
set -u
cd "$(dirname "$0")"
ENVS="$PWD/.envs"
mkdir -p "$ENVS"

# Find an interpreter of a given minor version: python3.X on PATH, then pyenv's folders.
find_python() {
    local v="$1" c
    for c in "python$v" "/root/.pyenv/versions/$v"*/bin/python "/usr/bin/python$v" "/usr/local/bin/python$v"; do
        if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys' >/dev/null 2>&1; then
            command -v "$c"; return 0
        fi
    done
    return 1
}

# make_env NAME PYTHON_VERSION IMPORT_CHECK PIP_ARGS...
make_env() {
    local name="$1" pyv="$2" check="$3"; shift 3
    local dir="$ENVS/$name" log="$ENVS/$name.log" py
    if [ -x "$dir/bin/python" ] && "$dir/bin/python" -c "$check" >/dev/null 2>&1; then
        echo "[$name] already installed"; return 0
    fi
    if ! py="$(find_python "$pyv")"; then
        echo "[$name] FAILED: no Python $pyv interpreter found" | tee "$log"; return 1
    fi
    echo "[$name] creating with $py ($("$py" --version 2>&1)); log: $log"
    rm -rf "$dir"
    {
        "$py" -m venv "$dir" && "$dir/bin/python" -m pip install -q --upgrade pip &&
        for spec in "$@"; do
            # Each argument is one pip install call, so that torch==2.13.0 (the CPU build
            # that lies on this machine's disk) is in place before snntorch resolves.
            # shellcheck disable=SC2086
            "$dir/bin/python" -m pip install -q $spec || exit 1
        done
    } >"$log" 2>&1
    if "$dir/bin/python" -c "$check" >>"$log" 2>&1; then
        echo "[$name] ok"
    else
        echo "[$name] FAILED (see $log)"; tail -5 "$log"; return 1
    fi
}

ALL=("$@")
selected() { [ ${#ALL[@]} -eq 0 ] && return 0; local a; for a in "${ALL[@]}"; do [ "$a" = "$1" ] && return 0; done; return 1; }

status=0
# BrainPy 2.9 needs Python >= 3.12 and brings its own JAX (>= 0.9) and brainstate; the
# [cpu] extra brings numba, which its event-driven CPU kernels (brainevent) need.
selected brainpy && { make_env brainpy 3.12 "import brainpy, jax, numba" "brainpy[cpu]==2.9.0 optax" || status=1; }
# torch 2.13.0 CPU build first (a plain 'torch' pulls a multi-GB CUDA build), then snnTorch.
selected torch && { make_env torch 3.11 "import torch, snntorch" "torch==2.13.0" "snntorch==1.0.0 numpy" || status=1; }
selected reservoirpy && { make_env reservoirpy 3.11 "import reservoirpy, scipy" "reservoirpy==0.4.2 scipy" || status=1; }
# Brian2 2.11 needs Python >= 3.13; its C++ code generation uses the system g++.
selected brian2 && { make_env brian2 3.13 "import brian2" "brian2==2.11.0" || status=1; }
exit $status
