#!/usr/bin/env bash
# Set up the dev environment and run every check CI runs: ruff, the layer contract, pytest.
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup-env.sh
.venv/bin/python -m pip install --quiet -e ".[dev]"
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
.venv/bin/lint-imports
.venv/bin/python -m pytest "$@"
