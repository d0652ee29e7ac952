"""Judging one artifact's outputs against eager's: the exact rule, the task rule, and ONNX compatibility.

Exact rows must stay within the atol and agree on every decision that is not a near tie; reduced-precision
rows (fp16, int8) are judged on the task: accuracy within 0.5 points of eager. Every failure of a row is
collected.

A near tie is an input whose reference decision is within the tolerance of going the other way: its two
best scores within 2 x atol of each other (a probability within atol of 0.5). Two outputs that each stay
within atol may decide such an input either way, so a split there is counted and reported, not failed;
any other split means some output moved by more than atol, which is what the rule exists to catch.
"""

from pathlib import Path

import numpy as np
import onnx
import onnxruntime

from toolkit.runtime.onnx_compat import default_opset, oldest_runtime_for, parse_version
from toolkit.runtime.schema import Manifest
from toolkit.verify.loaders import EXACT

TASK_TOLERANCE = 0.005  # reduced precision: accuracy within 0.5 points of eager


def decisions(spec, out: np.ndarray):
    """What the model decides from an output: the class index, or None for regression."""
    if spec.task == "regression":
        return None
    if spec.output == "probability":
        return (out[:, 0] > 0.5).astype(np.int64)
    return out.argmax(1)


def near_ties(spec, reference: np.ndarray, atol: float) -> np.ndarray:
    """Which inputs the reference decides by less than the tolerance (see the module docstring)."""
    if spec.output == "probability":
        return np.abs(reference[:, 0] - 0.5) <= atol
    if reference.shape[1] < 2:
        return np.zeros(len(reference), dtype=bool)
    best_two = np.sort(reference, axis=1)[:, -2:]
    return best_two[:, 1] - best_two[:, 0] <= 2 * atol


def score(spec, outputs: list, batches: list) -> dict:
    """Accuracy (classification) or mean absolute error (regression) on the labelled batches."""
    scored = [(o, b.y) for o, b in zip(outputs, batches, strict=True) if b.y is not None]
    if not scored:
        return {"accuracy": None, "mae": None}
    out, y = np.concatenate([o for o, _ in scored]), np.concatenate([t for _, t in scored])
    if spec.task == "regression":
        return {"accuracy": None, "mae": float(np.abs(out - y).mean())}
    return {"accuracy": float((decisions(spec, out) == y.reshape(-1).astype(np.int64)).mean()), "mae": None}


def compare(spec, reference: list, outputs: list, batches: list, atol: float, rule: str, eager_score: dict) -> dict:
    ref, out = np.concatenate(reference), np.concatenate(outputs)
    abs_diff = np.abs(out - ref)
    max_abs = float(abs_diff.max())
    split = (
        np.zeros(len(ref), dtype=bool) if spec.task == "regression" else decisions(spec, out) != decisions(spec, ref)
    )
    differ, tie_splits = int(split.sum()), int((split & near_ties(spec, ref, atol)).sum())
    quality = score(spec, outputs, batches)
    failures = []
    if rule == EXACT:
        if max_abs > atol:
            failures.append(f"max abs diff {max_abs:.3g} > atol {atol:g}")
        if differ > tie_splits:
            failures.append(f"argmax differs on {differ - tie_splits} of {len(ref)} inputs (not near ties)")
    elif quality["accuracy"] is None or eager_score["accuracy"] - quality["accuracy"] > TASK_TOLERANCE:
        failures.append(
            f"accuracy {quality['accuracy']} is more than {TASK_TOLERANCE:.1%} below eager's {eager_score['accuracy']}"
        )
    return {
        "rule": rule,
        "max_abs": max_abs,
        "max_rel": float((abs_diff / np.maximum(np.abs(ref), 1e-6)).max()),
        "p99_abs": float(np.percentile(abs_diff, 99)),
        "min_atol": max_abs,  # the smallest atol (with rtol 0) under which every output passes
        "argmax_agreement": None if spec.task == "regression" else 1.0 - differ / len(ref),
        "near_tie_splits": tie_splits,  # decisions that differ where the reference is within atol of a tie
        **quality,
        "passed": not failures,
        "failures": failures,
    }


def onnx_compatibility(bundle_dir: Path, manifest: Manifest) -> dict:
    """The ONNX file's opset and IR version match the manifest, and this ONNX Runtime may load them."""
    if "onnx" not in manifest.formats:
        return {"passed": True, "checked": False}
    model = onnx.load(bundle_dir / manifest.formats["onnx"], load_external_data=False)
    opset = default_opset(model)
    recorded = manifest.onnx or {}
    needs = oldest_runtime_for(opset, model.ir_version)
    failures = []
    if (recorded.get("opset"), recorded.get("ir_version")) != (opset, model.ir_version):
        failures.append(
            f"manifest says opset {recorded.get('opset')} / IR {recorded.get('ir_version')}, "
            f"file has {opset} / {model.ir_version}"
        )
    if needs is None or parse_version(onnxruntime.__version__) < parse_version(needs):
        failures.append(
            f"onnxruntime {onnxruntime.__version__} is older than {needs}, "
            f"the first to load opset {opset} / IR {model.ir_version}"
        )
    if recorded.get("min_onnxruntime") not in (None, needs):
        failures.append(f"manifest says it needs onnxruntime {recorded.get('min_onnxruntime')}, the table says {needs}")
    return {
        "checked": True,
        "opset": opset,
        "ir_version": model.ir_version,
        "min_onnxruntime": needs,
        "onnxruntime": onnxruntime.__version__,
        "passed": not failures,
        "failures": failures,
    }
