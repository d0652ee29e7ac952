"""The plain server a user writes first: FastAPI + ONNX Runtime, one session.run per request, JSON with
pydantic, and a raw-PNG route. A peer in tk bench --serving; runs in its own venv (scripts/serve_peers.sh).

python plain_fastapi.py BUNDLE_DIR PORT
"""

import io
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import uvicorn
from fastapi import FastAPI, Request
from PIL import Image
from pydantic import BaseModel

bundle, port = Path(sys.argv[1]), int(sys.argv[2])
manifest = json.loads((bundle / "manifest.json").read_text())
session = ort.InferenceSession(str(bundle / "model.onnx"), providers=["CPUExecutionProvider"])
app = FastAPI()


class Tensor(BaseModel):
    name: str
    datatype: str
    shape: list[int]
    data: list[float]


class InferRequest(BaseModel):
    inputs: list[Tensor]


def answer(x: np.ndarray) -> dict:
    y = session.run(None, {manifest["input"]["name"]: x})[0]
    output = {
        "name": manifest["output"]["name"],
        "datatype": "FP32",
        "shape": list(y.shape),
        "data": y.ravel().tolist(),
    }
    return {"model_name": manifest["model"], "outputs": [output]}


@app.post("/v2/models/{name}/infer")
def infer(request: InferRequest):
    tensor = request.inputs[0]
    return answer(np.asarray(tensor.data, dtype=np.float32).reshape(tensor.shape))


@app.post("/predict_png")
async def predict_png(request: Request):
    image = Image.open(io.BytesIO(await request.body())).convert("L").resize((28, 28))
    return answer((np.asarray(image, dtype=np.float32) / 255).reshape(1, 1, 28, 28))


uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
