#!/usr/bin/env bash
# On demand (too big for CI: ~530 MB per format): export torchvision's VGG16 in every format and verify it.
# Usage: scripts/export_vgg16.sh [WEIGHTS.pth] [OUT_DIR]
#   WEIGHTS.pth: any state_dict compatible with torchvision.models.vgg16 (without it: seeded random
#   weights, and the manifest says loudly that the model is untrained). OUT_DIR: default runs/vgg16/bundle.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ROOT"
OUT="${2:-runs/vgg16/bundle}"
weights=()
[ -n "${1:-}" ] && weights=(--weights "$1")

time tk export vgg16 --format all --out "$OUT" "${weights[@]}"
time tk verify vgg16 --bundle "$OUT"
ls -l "$OUT"
