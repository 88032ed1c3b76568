#!/usr/bin/env bash
# Set up the dev environment and run every check CI runs: ruff, the layer contract, pytest.
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup-env.sh
.venv/bin/python -m pip install --quiet -e ".[dev]"
# Debian's chromium, which the dashboard's browser tests drive through Playwright (they skip without it)
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "chromium is missing; installing Debian's chromium for the browser tests" >&2
    # a fresh machine may have no package lists yet: update them when the first try fails
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; } \
        || echo "warning: could not install chromium; the browser tests will skip" >&2
fi
# Azurite, the Azure Blob emulator the tests start (tests/emulators.py); reinstalled when the lock changes
if [ ! -x tests/node/node_modules/.bin/azurite-blob ] || [ tests/node/package-lock.json -nt tests/node/node_modules/.package-lock.json ]; then
    (cd tests/node && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
.venv/bin/lint-imports
# two workers (pytest-xdist); each test module stays on one worker (tests/conftest.py)
.venv/bin/python -m pytest -n "${CAIRN_TEST_WORKERS:-2}" --dist loadgroup "$@"
