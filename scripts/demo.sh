#!/usr/bin/env bash
# Install cairn into .venv and run the demo in a temporary git repository.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
PATH="$PWD/.venv/bin:$PATH" exec bash demo/run.sh
