#!/usr/bin/env bash
# Set up the dev environment and run every check CI runs: ruff, the layer contract, pytest.
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup-env.sh
.venv/bin/python -m pip install --quiet -e ".[dev]"
# Azurite, the Azure Blob emulator the tests start (tests/emulators.py); reinstalled when the lock changes
if [ ! -x tests/node/node_modules/.bin/azurite-blob ] || [ tests/node/package-lock.json -nt tests/node/node_modules/.package-lock.json ]; then
    (cd tests/node && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
.venv/bin/lint-imports
.venv/bin/python -m pytest "$@"
