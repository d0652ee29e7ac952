"""MLServer with an ONNX Runtime model class (MLServer has no built-in ONNX runtime): the MLModel an
MLServer user writes. A peer in tk bench --serving; runs in its own venv (mlserver start FOLDER)."""

import io
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
from mlserver import MLModel
from mlserver.codecs import Base64Codec, NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse
from PIL import Image


class OnnxModel(MLModel):
    async def load(self) -> bool:
        bundle = Path(self.settings.parameters.uri)
        self.manifest = json.loads((bundle / "manifest.json").read_text())
        self.session = ort.InferenceSession(str(bundle / "model.onnx"), providers=["CPUExecutionProvider"])
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        tensor = payload.inputs[0]
        if tensor.datatype == "BYTES":  # PNG files, base64 in JSON as MLServer's codecs expect
            images = [
                Image.open(io.BytesIO(data)).convert("L").resize((28, 28)) for data in Base64Codec.decode_input(tensor)
            ]
            x = np.stack([np.asarray(i, dtype=np.float32).reshape(1, 28, 28) / 255 for i in images])
        else:
            x = NumpyCodec.decode_input(tensor).astype(np.float32)
        y = self.session.run(None, {self.manifest["input"]["name"]: x})[0]
        return InferenceResponse(
            model_name=self.name, outputs=[NumpyCodec.encode_output(self.manifest["output"]["name"], y)]
        )
