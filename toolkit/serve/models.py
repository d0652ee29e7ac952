"""A bundle as the protocol sees it: its metadata, a request's input checked and turned into the model's
batch, and the model's output turned into the requested outputs.

The model's own input is one tensor (FP32 images or rows, INT64 token ids). The same input also takes
BYTES: encoded image files for an image model, UTF-8 text for a text model, prepared exactly as
`tk infer` prepares them (toolkit.runtime). Everything else is a ProtocolError naming the culprit.
"""

import json
import time

import numpy as np

from toolkit.errors import InputError
from toolkit.runtime.bundle import service_name
from toolkit.runtime.preprocess import prepare_bytes
from toolkit.serve.requests import OutputTensor, RequestedOutput
from toolkit.serve.tensors import ProtocolError

DATATYPE = {"float32": "FP32", "int64": "INT64"}
BYTES_INPUT = {"image": "encoded image files (PNG, JPEG, GIF, WEBP, BMP, ...)", "text": "UTF-8 text"}


class ServedModel:
    """A Predictor behind the protocol, known by its manifest's name (service_name)."""

    def __init__(self, predictor):
        self.predictor = predictor
        manifest = predictor.manifest
        self.name = service_name(manifest.model)
        self.kind = manifest.input.kind
        self.input_name, self.output_name = manifest.input.name, manifest.output.name
        self.datatype = DATATYPE[manifest.input.dtype]
        self.sample_shape = tuple(d if isinstance(d, int) else -1 for d in manifest.input.sample_shape)
        self.output_shape = tuple(d if isinstance(d, int) else -1 for d in manifest.output.shape[1:])
        self.labels = list(manifest.labels)
        self.output_kind = manifest.output.kind
        self.batch1_seconds = float("inf")  # measured by warm_up()

    def metadata(self, versions: list) -> dict:
        """The protocol's model metadata; `properties` say what the page (and a curious client) needs."""
        properties = {"kind": self.kind, "output": self.output_kind}
        properties["labels"] = json.dumps(self.labels)
        properties["features"] = json.dumps(self.predictor.features)
        if self.kind in BYTES_INPUT:
            properties["bytes_input"] = f"{self.input_name!r} also takes BYTES [-1]: {BYTES_INPUT[self.kind]}"
        return {
            "name": self.name,
            "versions": versions,
            "platform": "onnxruntime_onnx",
            "inputs": [{"name": self.input_name, "datatype": self.datatype, "shape": [-1, *self.sample_shape]}],
            "outputs": [{"name": self.output_name, "datatype": "FP32", "shape": [-1, *self.output_shape]}],
            "properties": properties,
        }

    def check(self, request, max_batch: int):
        """The request's one input and its outputs, before any work; returns the input Tensor."""
        for wanted in request.outputs:
            if wanted.name != self.output_name:
                raise ProtocolError(f"unknown output {wanted.name!r}: {self.name} has {self.output_name!r}")
            if wanted.classification and not self.labels:
                raise ProtocolError(f"output {wanted.name!r}: {self.name} is no classifier (classification)")
        names = [tensor.name for tensor in request.inputs]
        if names != [self.input_name]:
            unknown = [n for n in names if n != self.input_name]
            culprit = f"unknown input {unknown[0]!r}" if unknown else f"input {self.input_name!r} given twice"
            raise ProtocolError(f"{culprit}: {self.name} takes one input, {self.input_name!r}")
        tensor = request.inputs[0]
        rows = tensor.shape[0] if tensor.shape else 0
        if not 0 < rows <= max_batch:
            shape = list(tensor.shape)
            raise ProtocolError(
                f"input {tensor.name!r}: a batch of {rows} (shape {shape}), this server takes 1 to {max_batch}"
            )
        return tensor

    def prepare(self, tensor) -> np.ndarray:
        """The checked input Tensor -> the model's batch. Runs on the event loop: a 28x28 PNG takes about
        0.3 ms, less than handing it to a thread costs, and a thread would hold the GIL for it anyway;
        images are bounded (runtime.preprocess.MAX_SIDE) before the float work starts."""
        if tensor.datatype == "BYTES" and self.kind in BYTES_INPUT and len(tensor.shape) in (1, 2):
            if len(tensor.shape) == 2 and tensor.shape[1] != 1:
                raise ProtocolError(f"input {tensor.name!r}: BYTES shape must be [N] or [N, 1]")
            return self._prepare_images(tensor) if self.kind == "image" else self._prepare_texts(tensor)
        wanted = [-1, *self.sample_shape]
        if tensor.datatype != self.datatype:
            also = f" or BYTES [-1] ({BYTES_INPUT[self.kind]})" if self.kind in BYTES_INPUT else ""
            raise ProtocolError(
                f"input {tensor.name!r}: datatype {tensor.datatype}, {self.name} takes {self.datatype} {wanted}{also}"
            )
        if len(tensor.shape) != len(wanted) or any(w not in (-1, s) for w, s in zip(wanted, tensor.shape, strict=True)):
            raise ProtocolError(f"input {tensor.name!r}: shape {list(tensor.shape)}, {self.name} takes {wanted}")
        if self.kind == "text":
            rows = self.predictor.tokenizer.spec.rows
            if tensor.array.shape[1] == 0 or tensor.array.min() < 0 or tensor.array.max() >= rows:
                raise ProtocolError(f"input {tensor.name!r}: token ids must be in 0..{rows - 1}, at least one per row")
        return tensor.array

    def _prepare_images(self, tensor) -> np.ndarray:
        prep = self.predictor.manifest.preprocessing
        try:
            images = [
                prepare_bytes(b, prep, f"input {tensor.name!r} element {i}")
                for i, b in enumerate(tensor.array.reshape(-1))
            ]
        except InputError as exc:
            raise ProtocolError(str(exc)) from None
        return np.stack(images)

    def _prepare_texts(self, tensor) -> np.ndarray:
        ids = []
        for index, item in enumerate(tensor.array.reshape(-1)):
            where = f"input {tensor.name!r} element {index}"
            try:
                ids.append(self.predictor.encode_text(item.decode("utf-8"), where).ids)
            except UnicodeDecodeError as exc:
                raise ProtocolError(f"{where}: not UTF-8 (byte {exc.start})") from None
            except InputError as exc:
                raise ProtocolError(str(exc)) from None
        return self.predictor.tokenizer.batch(ids)

    def merge(self, batches: list) -> np.ndarray:
        """Requests' batches -> one batch: a text model's ids padded to the longest, as tk infer pads its own."""
        if len(batches) == 1:
            return batches[0]
        if self.kind == "text":
            width = max(batch.shape[1] for batch in batches)
            pad = self.predictor.tokenizer.spec.pad_id
            batches = [np.pad(b, ((0, 0), (0, width - b.shape[1])), constant_values=pad) for b in batches]
        return np.concatenate(batches)

    def run(self, batch: np.ndarray) -> np.ndarray:
        return self.predictor.run(batch)

    def warm_up(self):
        """A few batches of one sample of zeros: the first calls are slow; the median of the rest times it."""
        width = [d if d > 0 else 1 for d in self.sample_shape]
        zeros = np.zeros((1, *width), dtype=np.float32 if self.datatype == "FP32" else np.int64)
        times = []
        for _ in range(5):
            started = time.perf_counter()
            self.run(zeros)
            times.append(time.perf_counter() - started)
        self.batch1_seconds = sorted(times)[2]

    def outputs(self, request, output: np.ndarray) -> list:
        """The model's output for one request -> its requested outputs (all of them if none was named)."""
        wanted = request.outputs or [RequestedOutput(self.output_name, request.binary_default)]
        return [self._output(item, output) for item in wanted]

    def _output(self, wanted: RequestedOutput, output: np.ndarray) -> OutputTensor:
        if not wanted.classification:
            return OutputTensor(self.output_name, "FP32", output, wanted.binary)
        # Triton's classification extension: per row, the top k as "score:index:label", best first. The
        # score is the output's value (a logit, a probability); a binary classifier's single P(class 1)
        # becomes its two classes' probabilities, so that the index is a label's.
        scores = np.concatenate([1 - output, output], axis=1) if self.output_kind == "probability" else output
        k = min(wanted.classification, scores.shape[1])
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        strings = [
            [f"{row[i]:f}:{i}:{self.labels[i]}".encode() for i in top] for row, top in zip(scores, order, strict=True)
        ]
        array = np.empty((output.shape[0], k), dtype=object)
        array[:] = strings
        return OutputTensor(self.output_name, "BYTES", array, wanted.binary)
