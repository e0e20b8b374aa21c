#!/usr/bin/env bash
# The README's second command: set up (idempotent), lint, run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV=${CONTRASTIVE_VLA_VENV:-$(pwd)/.venv}
echo '[test] ruff check (99 columns, single quotes)'
"$VENV/bin/ruff" check contrastive_vla test launch scripts setup.py
echo '[test] import contract (.importlinter: rooms import only downwards)'
"$VENV/bin/lint-imports" --no-cache
exec "$VENV/bin/python" -m pytest test "$@"
