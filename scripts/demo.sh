#!/usr/bin/env bash
# Install cairn into .venv and run the demo in a temporary git repository.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup-env.sh
.venv/bin/python -m pip install --quiet -e .
PATH="$PWD/.venv/bin:$PATH" exec bash demo/run.sh
