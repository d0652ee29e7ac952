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

# The portable formats; `--format aoti` works too but compiles 138M parameters into native code for
# minutes. torch.compile's row is skipped for the same reason (the matrix lists it as not run).
time tk export vgg16 -f state-dict -f torchscript -f exported-program -f onnx --out "$OUT" "${weights[@]}"
time tk verify vgg16 --bundle "$OUT" --skip torch.compile
ls -l "$OUT"
