#!/usr/bin/env bash
# Rebuilds the NIR interop fixtures in tests/fixtures/nir/: the environment (once), funcdyn's
# exports (funcdyn's interpreter), then the snnTorch/Norse side (the interop interpreter).
set -eu
cd "$(dirname "$0")/../.."
bash benchmarks/nir_interop/setup_env.sh
python benchmarks/nir_interop/export_funcdyn.py
benchmarks/.envs/nir_interop/bin/python benchmarks/nir_interop/make_fixtures.py "$@"
