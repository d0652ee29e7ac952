"""Runners for the parity matrix: each bundle artifact loaded in each runtime that can run it here.

A Backend maps a float32 numpy batch to the model's output as numpy. Rows that cannot run here
(ONNX Runtime's CUDA provider without a GPU) are returned as NotRun, so the matrix still lists them.
"""

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from toolkit import bundle
from toolkit.artifacts import quiet_torch_logs
from toolkit.runtime import cuda_present, make_session

EXACT, TASK = "exact", "task"  # judged elementwise against eager, or on accuracy (reduced precision)
REDUCED_PRECISION = ("onnx-fp16", "onnx-int8")


@dataclass
class Backend:
    artifact: str
    runtime: str
    run: object  # float32 numpy batch -> numpy output
    rule: str = EXACT


@dataclass
class NotRun:
    artifact: str
    runtime: str
    reason: str


def torch_backend(module, artifact: str, runtime: str) -> Backend:
    def run(x):
        with torch.no_grad():
            return module(torch.from_numpy(x)).numpy()

    return Backend(artifact, runtime, run)


def _onnx_backends(bundle_dir: Path, manifest: dict, fmt: str, rule: str) -> list:
    found = []
    path, model_bytes = bundle.read_artifact(bundle_dir, manifest, fmt)
    for device in ("cpu", "cuda"):
        runtime = f"onnxruntime-{device}"
        if device == "cuda" and not cuda_present():
            found.append(NotRun(path.name, runtime, "no CUDA GPU"))
            continue
        session = make_session(model_bytes, device)  # raises if CUDA is not really in use

        def run(x, session=session):
            return session.run([manifest["output"]["name"]], {manifest["input"]["name"]: x})[0]

        found.append(Backend(path.name, runtime, run, rule))
    return found


def artifact_backends(bundle_dir: Path, manifest: dict, eager_module, skip=()) -> list:
    """Backends for every artifact in the bundle except the eager reference itself, in a fixed order."""
    found = []
    state_dict = manifest["formats"]["state-dict"]
    if "torch.compile" in skip:
        found.append(NotRun(state_dict, "torch.compile", "skipped on request"))
    else:
        compiled = torch.compile(eager_module, dynamic=True)
        found.append(torch_backend(_quietly(compiled), state_dict, "torch.compile"))
    with warnings.catch_warnings(), quiet_torch_logs():
        warnings.simplefilter("ignore")  # TorchScript's deprecation notice; export's serialization notes
        for fmt in [f for f in bundle.FORMAT_FILES if f in manifest["formats"]]:  # a fixed row order
            if fmt in ("onnx", *REDUCED_PRECISION):
                found += _onnx_backends(bundle_dir, manifest, fmt, TASK if fmt in REDUCED_PRECISION else EXACT)
                continue
            path = None if fmt in ("state-dict", "onnx-e2e") else bundle.artifact_path(bundle_dir, manifest, fmt)
            if fmt == "torchscript":
                found.append(torch_backend(torch.jit.load(str(path), map_location="cpu").eval(), path.name, "torchscript"))
            elif fmt == "exported-program":
                found.append(torch_backend(torch.export.load(str(path)).module(), path.name, "exported-program"))
            elif fmt == "aoti":
                found.append(torch_backend(torch._inductor.aoti_load_package(str(path)), path.name, "aoti-cpu"))
    return found  # model.e2e.onnx has a row of its own rule: verify.e2e_row


def _quietly(module):
    def run(x):
        with quiet_torch_logs():
            return module(x)

    return run


def as_float32(output) -> np.ndarray:
    return np.asarray(output, dtype=np.float32)
