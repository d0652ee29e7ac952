"""An app on an Intel edge machine: a bundle's OpenVINO IR on the CPU plugin, no torch, checked against the
same bundle's model.onnx in ONNX Runtime. Prints the largest difference and "agree" when within 1e-4.

    python openvino_app.py BUNDLE_DIR
"""

import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import openvino as ov

bundle = Path(sys.argv[1])
manifest = json.loads((bundle / "manifest.json").read_text())
shape = [d if isinstance(d, int) else 7 for d in manifest["input"]["shape"]]  # a batch of 7
batch = np.random.default_rng(0).random(shape, dtype=np.float32)

core = ov.Core()
model = core.compile_model(core.read_model(bundle / "model.xml"), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
ir = model([batch])[model.output(0)]

session = ort.InferenceSession(bundle / "model.onnx", providers=["CPUExecutionProvider"])
reference = session.run(None, {manifest["input"]["name"]: batch})[0]

assert "torch" not in sys.modules
difference = float(np.abs(ir - reference).max())
print(f"max abs difference {difference:.2e}", "agree" if difference <= 1e-4 else "disagree")
