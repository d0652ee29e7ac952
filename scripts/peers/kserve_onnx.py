"""KServe's own Python model server (the kserve package) running model.onnx with ONNX Runtime: the
kserve.Model a KServe user writes. A peer in tk bench --serving; runs in its own venv.

python kserve_onnx.py BUNDLE_DIR PORT GRPC_PORT
"""

import base64
import io
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
from kserve import InferOutput, InferRequest, InferResponse, Model, ModelServer
from PIL import Image

bundle, port, grpc_port = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
manifest = json.loads((bundle / "manifest.json").read_text())


def decode_png(data: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(data)).convert("L").resize((28, 28))
    return (np.asarray(image, dtype=np.float32) / 255).reshape(1, 28, 28)


class OnnxModel(Model):
    def __init__(self):
        super().__init__(manifest["model"])
        self.session = ort.InferenceSession(str(bundle / "model.onnx"), providers=["CPUExecutionProvider"])
        self.ready = True

    def predict(self, payload: InferRequest, headers=None) -> InferResponse:
        tensor = payload.inputs[0]
        x = tensor.as_numpy()
        if tensor.datatype == "BYTES":  # PNG files as base64 text (KServe 0.21 fails on binary BYTES inputs)
            x = np.stack([decode_png(base64.b64decode(item)) for item in x.reshape(-1)])
        y = self.session.run(None, {manifest["input"]["name"]: x.astype(np.float32)})[0]
        binary = bool(payload.request_outputs and payload.request_outputs[0].parameters.get("binary_data"))
        output = InferOutput(name=manifest["output"]["name"], shape=list(y.shape), datatype="FP32")
        output.set_data_from_numpy(y, binary_data=binary)
        return InferResponse(model_name=self.name, infer_outputs=[output], response_id=payload.id or "")


ModelServer(http_port=port, grpc_port=grpc_port, workers=1, enable_docs_url=False).start([OnnxModel()])
