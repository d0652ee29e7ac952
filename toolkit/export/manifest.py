"""The manifest of a new bundle, built from the model's spec and the artifacts just built.

The fields themselves are defined (and written and read) by `toolkit.runtime.schema`; this module
only fills them in: input and output names, dtypes and shapes, labels, preprocessing, every file's
sha256, versions, where the weights came from, and how they were trained.
"""

import platform

import onnx
import onnxruntime
import torch

import toolkit
from toolkit.export.onnx_formats import ONNX_INPUT, ONNX_OUTPUT
from toolkit.export.weights import UNTRAINED_WARNING
from toolkit.models.preprocessing import preprocessing
from toolkit.runtime.onnx_compat import default_opset, oldest_runtime_for
from toolkit.runtime.schema import BATCH, TOKENS, InputSchema, Manifest, OutputSchema


def input_schema(spec) -> InputSchema:
    if spec.input.kind == "text":
        return InputSchema(ONNX_INPUT, "text", "int64", (BATCH, TOKENS))
    features = tuple(spec.input.features) if spec.input.kind == "tabular" else ()
    value_range = (0.0, 1.0) if spec.input.kind == "image" and not spec.input.mean else None
    shape = (BATCH, *spec.input.shape)
    return InputSchema(ONNX_INPUT, spec.input.kind, "float32", shape, features=features, value_range=value_range)


def output_schema(spec) -> OutputSchema:
    width = 1 if spec.output in ("probability", "value") else len(spec.labels)
    return OutputSchema(ONNX_OUTPUT, spec.output, "float32", (BATCH, width))


def training_summary(ckpt, previous: Manifest | None, weights: dict):
    """How the weights were trained: from their checkpoint, or carried over when re-exported from the bundle."""
    if ckpt is not None:
        history = ckpt["history"]
        metric = next((k for k in ("test_accuracy", "test_mae") if history and k in history[-1]), None)
        summary = {
            "recipe": ckpt["config"]["recipe"],
            "epochs": len(history),
            "train_seconds": round(sum(e["seconds"] for e in history), 3),
        }
        if isinstance(ckpt.get("device"), str):  # checkpoints from before it was recorded have none
            summary["device"] = ckpt["device"]
        if metric:
            summary[metric] = history[-1][metric]
            keep = ("epoch", "train_loss", metric, "seconds")  # what tk report draws its curves from
            summary["history"] = [{k: e[k] for k in keep if k in e} for e in history]
        return summary
    if weights["source"] == "bundle" and previous is not None:
        return previous.training  # same weights as before: the same training produced them
    return None


def is_trained(weights: dict, previous: Manifest | None) -> bool:
    """Seeded random weights are not; weights re-read from a bundle are as (un)trained as that bundle was."""
    if weights["source"] == "random-init":
        return False
    return not (weights["source"] == "bundle" and previous is not None and not previous.trained)


def _onnx_entry(onnx_bytes):
    if onnx_bytes is None:
        return None
    proto = onnx.load_from_string(onnx_bytes)
    opset = default_opset(proto)
    return {
        "opset": opset,
        "ir_version": proto.ir_version,
        "min_onnxruntime": oldest_runtime_for(opset, proto.ir_version),
    }


def carried_onnx_entry(previous: Manifest | None, format_files: dict):
    """model.onnx carried over from the previous bundle (another format re-exported alone): its opset record
    comes with it."""
    if previous is None or "onnx" not in format_files:
        return None
    return previous.onnx


def build(spec, files, format_files, weights, ckpt, previous: Manifest | None, onnx_bytes, failed=None) -> Manifest:
    trained = is_trained(weights, previous)
    versions = {
        "toolkit": toolkit.__version__,
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "python": platform.python_version(),
    }
    return Manifest(
        model=spec.name,
        task=spec.task,
        description=spec.description,
        dataset=None if spec.dataset is None else str(spec.dataset),
        input=input_schema(spec),
        output=output_schema(spec),
        labels=tuple(spec.labels),
        preprocessing=preprocessing(spec),
        files=files,
        formats=format_files,
        onnx=_onnx_entry(onnx_bytes) if onnx_bytes is not None else carried_onnx_entry(previous, format_files),
        versions=versions,
        weights=weights,
        trained=trained,
        training=training_summary(ckpt, previous, weights),
        tolerance={"atol": spec.atol, "reason": spec.atol_reason or "tk's default"},
        warning=None if trained else UNTRAINED_WARNING,
        source=spec.source.to_dict() if spec.source is not None else None,
        failed_formats=dict(failed) if failed else None,
        tokenizer=spec.input.tokenizer if spec.input.kind == "text" else None,
        data=spec.data_record,
    )
