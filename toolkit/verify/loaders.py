"""The artifact loaders: each bundle artifact loaded in each runtime that can run it here.

verify runs them for the parity matrix and bench times them, so both measure the same thing. A
Backend maps a float32 numpy batch to the model's output as numpy. Rows that cannot run here (ONNX
Runtime's CUDA provider without a GPU) are returned as NotRun, so the matrix still lists them.
"""

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from toolkit.export.torch_formats import quiet_torch_logs
from toolkit.export.weights import load_model
from toolkit.runtime import bundle
from toolkit.runtime.schema import Manifest
from toolkit.runtime.session import cuda_present, make_session

EXACT, TASK = "exact", "task"  # judged elementwise against eager, or on accuracy (reduced precision)
REDUCED_PRECISION = ("onnx-fp16", "onnx-int8")
ONNX_FORMATS = ("onnx", *REDUCED_PRECISION)
# format -> (runtime name, loader(path, device) -> a callable module)
TORCH_LOADERS = {
    "torchscript": ("torchscript", lambda path, device: torch.jit.load(str(path), map_location=device).eval()),
    "exported-program": ("exported-program", lambda path, device: torch.export.load(str(path)).module().to(device)),
    # AOTInductor packages are compiled for the CPU at export time
    "aoti": ("aoti-cpu", lambda path, device: torch._inductor.aoti_load_package(str(path))),
}


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


def eager_model(bundle_dir: Path, manifest: Manifest, spec) -> tuple:
    """(eval-mode eager module, state_dict path): the bundle's own weights, their hash checked first."""
    path = bundle.artifact_path(bundle_dir, manifest, "state-dict")
    return load_model(spec, checkpoint_file=path, log=lambda _line: None)[0], path


def load_torch_artifact(bundle_dir: Path, manifest: Manifest, fmt: str, device: str = "cpu") -> tuple:
    """(path, runtime name, callable module) for a torch format, its hash checked first."""
    path = bundle.artifact_path(bundle_dir, manifest, fmt)
    runtime, load = TORCH_LOADERS[fmt]
    with warnings.catch_warnings(), quiet_torch_logs():
        warnings.simplefilter("ignore")  # TorchScript's deprecation notice; export's serialization notes
        return path, runtime, load(path, device)


def torch_backend(module, artifact: str, runtime: str) -> Backend:
    def run(x):
        with torch.no_grad():
            return module(torch.from_numpy(x)).numpy()

    return Backend(artifact, runtime, run)


def onnx_backends(bundle_dir: Path, manifest: Manifest, fmt: str) -> list:
    """The ONNX file on ONNX Runtime's CPU provider, and on CUDA where a GPU is present."""
    found = []
    rule = TASK if fmt in REDUCED_PRECISION else EXACT
    path, model_bytes = bundle.read_artifact(bundle_dir, manifest, fmt)
    for device in ("cpu", "cuda"):
        runtime = f"onnxruntime-{device}"
        if device == "cuda" and not cuda_present():
            found.append(NotRun(path.name, runtime, "no CUDA GPU"))
            continue
        session = make_session(model_bytes, device)  # raises if CUDA is not really in use

        def run(x, session=session):
            return session.run([manifest.output.name], {manifest.input.name: x})[0]

        found.append(Backend(path.name, runtime, run, rule))
    return found


def artifact_backends(bundle_dir: Path, manifest: Manifest, eager_module, skip=()) -> list:
    """Backends for every artifact in the bundle except the eager reference itself, in a fixed order."""
    found = []
    state_dict = manifest.formats["state-dict"]
    if "torch.compile" in skip:
        found.append(NotRun(state_dict, "torch.compile", "skipped on request"))
    else:
        compiled = torch.compile(eager_module, dynamic=True)
        found.append(torch_backend(_quietly(compiled), state_dict, "torch.compile"))
    for fmt in [f for f in bundle.FORMAT_FILES if f in manifest.formats]:  # a fixed row order
        if fmt in ONNX_FORMATS:
            found += onnx_backends(bundle_dir, manifest, fmt)
        elif fmt in TORCH_LOADERS:
            path, runtime, module = load_torch_artifact(bundle_dir, manifest, fmt)
            found.append(torch_backend(module, path.name, runtime))
    return found  # model.e2e.onnx has a row of its own rule: verify.e2e


def _quietly(module):
    def run(x):
        with quiet_torch_logs():
            return module(x)

    return run


def as_float32(output) -> np.ndarray:
    return np.asarray(output, dtype=np.float32)
