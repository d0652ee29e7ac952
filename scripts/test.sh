#!/usr/bin/env bash
# Set up (when needed), check formatting and lint, then run the whole test suite. Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ROOT"
"$VENV/bin/ruff" format --check --quiet . || { echo "test: formatting differs; run '.venv/bin/ruff format .'" >&2; exit 1; }
"$VENV/bin/ruff" check --quiet .
exec "$VENV/bin/python" -m pytest "$@"
