#!/usr/bin/env bash
# Create benchmarks/.env with hpo and the optimizers it is compared with. hyperopt, optuna and
# keras-tuner are benchmark-only dependencies, never dependencies of hpo.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv benchmarks/.env
benchmarks/.env/bin/pip install -q --upgrade pip
benchmarks/.env/bin/pip install -q -e ".[all]" hyperopt==0.3.0 optuna==5.0.0 keras-tuner scikit-learn
echo "activate with: . benchmarks/.env/bin/activate"
