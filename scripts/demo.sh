#!/usr/bin/env bash
# The whole pipeline on a fresh machine: set up, train fashion-mlp, export every format, verify,
# and classify the bundled sample images. The demo's bundle goes to runs/fashion-mlp/bundle, so the
# committed reference bundle in exported/ is left as it is.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ROOT"
BUNDLE=runs/fashion-mlp/bundle

step() { printf '\n== %s\n' "$*"; }

step "1/4 train fashion-mlp (default recipe)"
tk train fashion-mlp --run-dir runs/fashion-mlp --force

step "2/4 export state_dict, TorchScript and ONNX"
tk export fashion-mlp --format all --checkpoint runs/fashion-mlp/checkpoint.pt --out "$BUNDLE"

step "3/4 verify every artifact against the eager model"
tk verify fashion-mlp --bundle "$BUNDLE"

step "4/4 classify the sample images with ONNX Runtime (no torch)"
tk infer samples/* --model "$BUNDLE"

# Each sample's file name starts with its true label; say whether the model got them all.
"$VENV/bin/python" - "$BUNDLE" <<'PY'
import sys
from pathlib import Path
from toolkit.runtime import Predictor

predictor = Predictor(sys.argv[1])
samples = sorted(Path("samples").iterdir())
wrong = [p.name for p, r in zip(samples, predictor.predict_files(samples))
         if not p.name.removeprefix("photo-").startswith(r["label"].lower().replace("/", "-").replace(" ", "-"))]
print(f"\n{len(samples) - len(wrong)} of {len(samples)} samples classified correctly" + (f"; wrong: {', '.join(wrong)}" if wrong else ""))
sys.exit(1 if wrong else 0)
PY
