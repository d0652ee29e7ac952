#!/usr/bin/env bash
# Train every tutorial model with its default recipe, export all formats into exported/<model>, and
# verify each bundle: how the committed reference bundles are made. fashion-cnn takes ~10 minutes on
# 2 CPU cores (seconds on a GPU, which `tk train` uses when there is one); the rest take seconds.
# Usage: scripts/build_zoo.sh [MODEL...]   (default: every model tk trains)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ROOT"

if [ "$#" -gt 0 ]; then
    models=("$@")
else
    mapfile -t models < <(tk models --json | "$VENV/bin/python" -c \
        'import json, sys; print("\n".join(m["name"] for m in json.load(sys.stdin) if m["trained_by_tk"]))')
fi
for model in "${models[@]}"; do
    printf '\n== %s\n' "$model"
    tk train "$model"
    tk export "$model" --format all
    tk verify "$model"
done
