"""Serve an exported bundle with ONNX Runtime: manifest.json + model.onnx -> Predictor. No torch.

Imports only numpy, onnxruntime, PIL and the standard library (a test checks it in a fresh
interpreter), so `tk infer` starts fast and other apps can embed a bundle without torch:

    from toolkit.runtime import Predictor
    predictor = Predictor("exported/fashion-mlp")
    print(predictor.predict_image("shoe.png").label)
"""

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from toolkit import bundle
from toolkit.errors import BundleError, InputError, ToolkitError, UsageError
from toolkit.preprocess import preprocess_for_manifest

DEFAULT_BUNDLE = Path("exported") / "fashion-mlp"


@dataclass(frozen=True)
class Prediction:
    label: str
    index: int
    probability: float
    top: list  # [{"label", "index", "probability"}], most probable first

    def to_dict(self) -> dict:
        return asdict(self)


def cuda_present() -> bool:
    """An NVIDIA GPU and the CUDA provider; cheaper and quieter than letting ORT try and fail."""
    has_device = os.path.exists("/dev/nvidiactl") or os.path.exists("/dev/nvidia0")
    return has_device and "CUDAExecutionProvider" in ort.get_available_providers()


def make_session(model_bytes: bytes, device: str = "auto", threads: int = 0, cuda_options=None) -> ort.InferenceSession:
    """An ORT session with explicit providers; checks the provider asked for is the one in use.

    `cuda_options`: CUDA provider options, e.g. {"enable_cuda_graph": "1"}."""
    if device not in ("auto", "cpu", "cuda"):
        raise UsageError(f"device must be auto, cpu or cuda, got {device!r}")
    use_cuda = device == "cuda" or (device == "auto" and cuda_present())
    cuda = ("CUDAExecutionProvider", cuda_options) if cuda_options else "CUDAExecutionProvider"
    providers = [cuda, "CPUExecutionProvider"] if use_cuda else ["CPUExecutionProvider"]
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: ORT's warnings are not the user's business
    options.intra_op_num_threads = threads
    # Spinning threads burn CPU between requests; a CLI or an embedded app gains nothing from it.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(model_bytes, options, providers=providers)
    wanted = "CUDAExecutionProvider" if use_cuda else "CPUExecutionProvider"
    if session.get_providers()[0] != wanted:
        if device == "cuda":
            raise UsageError(f"CUDA provider requested but ONNX Runtime is using {session.get_providers()[0]}")
        session = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
    return session


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


class Predictor:
    """A bundle loaded for inference: checks model.onnx against the manifest's sha256 first."""

    def __init__(self, bundle_dir=DEFAULT_BUNDLE, device: str = "auto", threads: int = 0):
        self.bundle_dir = Path(bundle_dir)
        self.manifest = bundle.read_manifest(self.bundle_dir)
        path, model_bytes = bundle.read_artifact(self.bundle_dir, self.manifest, "onnx")
        try:
            self.session = make_session(model_bytes, device, threads)
        except ToolkitError:
            raise
        except Exception as exc:
            raise BundleError(f"{path}: ONNX Runtime cannot load it ({str(exc).splitlines()[0]})") from None
        self.labels = list(self.manifest.get("labels") or [])
        self.input_name = self.manifest["input"]["name"]
        self.output_name = self.manifest["output"]["name"]
        self.sample_shape = tuple(self.manifest["input"]["shape"][1:])
        self.features = list(self.manifest["input"].get("features") or [])
        self.warning = self.manifest.get("warning")  # e.g. an untrained model's bundle

    @property
    def provider(self) -> str:
        return self.session.get_providers()[0]

    def run(self, batch) -> np.ndarray:
        """The raw model output for a float32 batch [N, *sample_shape] (a single sample is batched)."""
        batch = np.asarray(batch, dtype=np.float32)
        if batch.shape == self.sample_shape:
            batch = batch[None]
        if batch.ndim != len(self.sample_shape) + 1 or tuple(batch.shape[1:]) != self.sample_shape:
            raise InputError(f"input shape {batch.shape} does not match the model's [batch, {', '.join(map(str, self.sample_shape))}]")
        return self.session.run([self.output_name], {self.input_name: np.ascontiguousarray(batch)})[0]

    @property
    def is_regression(self) -> bool:
        return self.manifest["output"].get("kind") == "value"

    def probabilities(self, batch) -> np.ndarray:
        """Class probabilities [N, classes], whatever the graph outputs (logits, probabilities, P(class 1))."""
        output = self.run(batch)
        kind = self.manifest["output"].get("kind")
        if kind == "logits":
            return softmax(output)
        if kind == "probability":  # a binary classifier's P(class 1)
            return np.concatenate([1.0 - output, output], axis=1)
        if kind == "probabilities":
            return output
        raise InputError(f"{self.bundle_dir}: a {kind!r} model has no class probabilities")

    def predict(self, batch, top_k: int = 1) -> list:
        """One Prediction per sample in the batch (classification models)."""
        top_k = max(1, min(top_k, len(self.labels)))
        results = []
        for row in self.probabilities(batch):
            order = np.argsort(-row, kind="stable")[:top_k]
            top = [{"label": self.labels[i], "index": int(i), "probability": float(row[i])} for i in order]
            results.append(Prediction(top=top, **top[0]))
        return results

    def answer(self, batch, top_k: int = 1) -> list:
        """One dict per sample: {"value": [...]} for regression, the Prediction's fields for classification."""
        if self.is_regression:
            return [{"value": [float(v) for v in row]} for row in self.run(batch)]
        return [p.to_dict() for p in self.predict(batch, top_k)]

    def preprocess(self, path, invert=None) -> np.ndarray:
        if self.manifest["input"].get("kind") != "image":
            raise UsageError(f"{self.bundle_dir}: this model takes tabular input, not images (use --values or a CSV file)")
        return preprocess_for_manifest(path, self.manifest["preprocessing"], invert=invert)

    def predict_image(self, path, top_k: int = 1, invert=None) -> Prediction:
        return self.predict(self.preprocess(path, invert), top_k)[0]

    def predict_files(self, paths, top_k: int = 1, invert=None, chunk: int = 256):
        """Yield {"path", ...answer} or {"path", "error"} per image file, in order; one bad file spoils nothing."""
        paths = list(paths)
        for start in range(0, len(paths), chunk):
            inputs, results = [], []
            for path in paths[start : start + chunk]:
                try:
                    inputs.append(self.preprocess(path, invert))
                    results.append({"path": str(path)})
                except InputError as exc:
                    results.append({"path": str(path), "error": str(exc)})
            yield from self._fill(results, inputs, top_k)

    def predict_rows(self, rows, top_k: int = 1):
        """Yield {"row", "input", ...answer} or {"row", "input", "error"} per tabular Row, in order."""
        if self.manifest["input"].get("kind") != "tabular":
            raise UsageError(f"{self.bundle_dir}: this model takes images, not --values or CSV rows")
        results, inputs = [], []
        for row in rows:
            if row.error is not None:
                results.append({"row": row.source, "input": row.text, "error": row.error})
            else:
                results.append({"row": row.source, "input": list(row.values)})
                inputs.append(np.asarray(row.values, dtype=np.float32))
        yield from self._fill(results, inputs, top_k)

    def _fill(self, results: list, inputs: list, top_k: int):
        answers = iter(self.answer(np.stack(inputs), top_k) if inputs else [])
        for result in results:
            if "error" not in result:
                result.update(next(answers))
            yield result
