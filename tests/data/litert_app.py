"""An app with TensorFlow Lite's runtime (ai-edge-litert): a bundle's model.tflite (batch 1) and
model.b64.tflite (batch 64), no torch, checked against the same bundle's model.onnx in ONNX Runtime. Prints
the largest difference and "agree" when within 1e-4.

    python litert_app.py BUNDLE_DIR
"""

import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
from ai_edge_litert.interpreter import Interpreter

bundle = Path(sys.argv[1])
manifest = json.loads((bundle / "manifest.json").read_text())
session = ort.InferenceSession(bundle / "model.onnx", providers=["CPUExecutionProvider"])
difference = 0.0
for name, batch in (("model.tflite", 1), ("model.b64.tflite", 64)):  # each file takes one fixed batch
    shape = [batch, *manifest["input"]["shape"][1:]]
    x = np.random.default_rng(batch).random(shape, dtype=np.float32)
    interpreter = Interpreter(model_path=str(bundle / name))
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    answer = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    reference = session.run(None, {manifest["input"]["name"]: x})[0]
    difference = max(difference, float(np.abs(answer - reference).max()))

assert "torch" not in sys.modules
print(f"max abs difference {difference:.2e}", "agree" if difference <= 1e-4 else "disagree")
