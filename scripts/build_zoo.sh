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
# Committed bundles hold portable formats only (AOTInductor is native code for the exporting CPU) and
# stay small, because the repository travels whole: fashion-mlp, the reference, carries every portable
# format; fashion-cnn (13 MB a format) and review-sentiment (8 MB) only their weights and ONNX. `tk export MODEL --format all`
# regenerates any format from the committed weights (model.safetensors).
formats_for() {
    case "$1" in
        fashion-mlp) echo "-f state-dict -f torchscript -f exported-program -f onnx -f onnx-fp16 -f onnx-int8 -f onnx-e2e" ;;
        fashion-cnn | review-sentiment) echo "-f state-dict -f onnx" ;;
        *) echo "-f state-dict -f torchscript -f onnx" ;;
    esac
}

for model in "${models[@]}"; do
    printf '\n== %s\n' "$model"
    tk train "$model" --force
    rm -f "exported/$model"/model.* # formats no longer committed must not be carried over
    # shellcheck disable=SC2046
    tk export "$model" $(formats_for "$model")
    tk verify "$model"
done
