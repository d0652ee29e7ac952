"""manifest.json: the contract between export and runtime, built from a spec and the written files.

Everything the runtime needs to know about a bundle is here: input and output names, dtypes and
shapes, labels, preprocessing, every file's sha256, versions, where the weights came from, and the
verification summary once `tk verify` has run.
"""

import platform

import onnx
import onnxruntime
import torch

import toolkit
from toolkit import artifacts, bundle
from toolkit.onnx_compat import default_opset, oldest_runtime_for

UNTRAINED_WARNING = "UNTRAINED: seeded random weights, predictions are meaningless; export with --weights FILE"


def verification_summary(report: dict) -> dict:
    keys = ("artifact", "runtime", "max_abs", "argmax_agreement", "accuracy", "passed")
    rows = [{k: row.get(k) for k in keys} for row in report["rows"]]
    return {"passed": report["passed"], "atol": report["atol"], "file": bundle.VERIFICATION, "rows": rows}


def training_summary(ckpt, previous, weights):
    if ckpt is not None:
        history = ckpt["history"]
        metric = next((k for k in ("test_accuracy", "test_mae") if history and k in history[-1]), None)
        summary = {"recipe": ckpt["config"]["recipe"], "epochs": len(history),
                   "train_seconds": round(sum(e["seconds"] for e in history), 3)}  # fmt: skip
        if metric:
            summary[metric] = history[-1][metric]
        return summary
    if weights["source"] == "bundle" and previous is not None:
        return previous.get("training")  # same weights as before: the same training produced them
    return None


def _input_entry(spec) -> dict:
    entry = {"name": artifacts.ONNX_INPUT, "kind": spec.input.kind, "dtype": "float32", "shape": ["batch", *spec.input.shape]}
    if spec.input.kind == "tabular":
        entry["features"] = list(spec.input.features)
    elif not spec.input.mean:
        entry["range"] = [0.0, 1.0]
    return entry


def _output_entry(spec) -> dict:
    width = 1 if spec.output in ("probability", "value") else len(spec.labels)
    return {"name": artifacts.ONNX_OUTPUT, "kind": spec.output, "dtype": "float32", "shape": ["batch", width]}


def _preprocessing(spec):
    """How the runtime turns an image file into the model's input; None for tabular models."""
    image = spec.input
    if image.kind != "image":
        return None
    if image.background == "dark":  # Fashion-MNIST style: gray, light item on black, trimmed and centred
        return {"size": image.size, "channels": image.channels, "scale": 1 / 255, "background": "dark",
                "invert": "auto", "trim": True, "resize": "longest-side-keep-aspect", "resample": "bicubic-antialias",
                "mean": list(image.mean), "std": list(image.std)}  # fmt: skip
    return {"size": image.size, "channels": image.channels, "scale": 1 / 255, "background": None,
            "invert": "never", "trim": False, "resize": "shorter-side-then-centre-crop", "resize_to": image.resize_to,
            "resample": "bilinear",
            "mean": list(image.mean), "std": list(image.std)}  # fmt: skip


def _onnx_entry(proto):
    if proto is None:
        return None
    opset = default_opset(proto)
    return {"opset": opset, "ir_version": proto.ir_version, "min_onnxruntime": oldest_runtime_for(opset, proto.ir_version)}


def build(spec, files, format_files, weights, training, onnx_artifact, trained: bool) -> dict:
    proto = onnx.load_from_string(onnx_artifact[0]) if onnx_artifact else None
    manifest = {
        "schema_version": bundle.SCHEMA_VERSION,
        "model": spec.name,
        "task": spec.task,
        "description": spec.description,
        "dataset": spec.dataset,
        "input": _input_entry(spec),
        "output": _output_entry(spec),
        "labels": list(spec.labels),
        "preprocessing": _preprocessing(spec),
        "files": files,
        "formats": format_files,
        "onnx": _onnx_entry(proto),
        "versions": {"toolkit": toolkit.__version__, "torch": torch.__version__, "onnx": onnx.__version__,
                     "onnxruntime": onnxruntime.__version__, "python": platform.python_version()},
        "weights": weights,
        "trained": trained,
        "training": training,
        "tolerance": {"atol": spec.atol, "reason": spec.atol_reason or "tk's default"},
    }  # fmt: skip
    if not manifest["trained"]:
        manifest["warning"] = UNTRAINED_WARNING
    return manifest
