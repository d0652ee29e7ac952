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

from toolkit.errors import BundleError
from toolkit.export import device_formats, litert
from toolkit.export.formats import WEIGHT_FORMATS
from toolkit.export.torch_formats import quiet_torch_logs
from toolkit.export.weights import load_model
from toolkit.models import get_spec
from toolkit.runtime import bundle, trust
from toolkit.runtime.schema import Manifest
from toolkit.runtime.session import cuda_present, make_session
from toolkit.verify import coreml

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


DEVICE_RUNTIMES = {"executorch": "executorch", "openvino": "openvino-cpu", "litert": "litert", "coreml": "coreml"}
MAX_WEIGHTS_BYTES = 16 * 2**30  # a companion file's bound (OpenVINO's weights, LiteRT's batch-64 model)


@dataclass
class Backend:
    artifact: str
    runtime: str
    run: object  # float32 numpy batch -> numpy output
    rule: str = EXACT
    module: object = None  # the torch module behind it, for torch runtimes
    size_ratio: float | None = None  # reduced precision: the file's size relative to model.onnx


@dataclass
class NotRun:
    artifact: str
    runtime: str
    reason: str


def eager_model(bundle_dir: Path, manifest: Manifest, spec, fmt: str | None = None) -> tuple:
    """(eval-mode eager module, weights path): the bundle's own weights, their hash checked first.

    From model.safetensors (plain data) unless `fmt` says otherwise; bundles made before it have only
    state_dict.pth, read with torch.load(weights_only=True)."""
    fmt = fmt or ("safetensors" if "safetensors" in manifest.formats else "state-dict")
    path = bundle.artifact_path(bundle_dir, manifest, fmt)
    return load_model(spec, checkpoint_file=path, log=lambda _line: None)[0], path


def may_run(manifest: Manifest, fmt: str, trust_code: bool) -> bool:
    """Formats that can carry code run only if this machine exported the very file, or the user trusts it."""
    if fmt not in trust.CODE_FORMATS or trust_code:
        return True
    return trust.exported_here(manifest.files[manifest.formats[fmt]]["sha256"])


def load_torch_artifact(bundle_dir: Path, manifest: Manifest, fmt: str, device: str = "cpu", trust_code=False) -> tuple:
    """(path, runtime name, callable module) for a torch format, its hash checked first."""
    if not may_run(manifest, fmt, trust_code):
        raise BundleError(f"{bundle_dir / manifest.formats[fmt]}: {trust.NOT_TRUSTED}")
    path = bundle.artifact_path(bundle_dir, manifest, fmt)
    runtime, load = TORCH_LOADERS[fmt]
    with warnings.catch_warnings(), quiet_torch_logs():
        warnings.simplefilter("ignore")  # TorchScript's deprecation notice; export's serialization notes
        return path, runtime, load(path, device)


def torch_backend(module, artifact: str, runtime: str) -> Backend:
    def run(x):
        with torch.no_grad():
            return module(torch.from_numpy(x)).numpy()

    return Backend(artifact, runtime, run, module=module)


def onnx_backends(bundle_dir: Path, manifest: Manifest, fmt: str) -> list:
    """The ONNX file on ONNX Runtime's CPU provider, and on CUDA where a GPU is present."""
    found = []
    rule = TASK if fmt in REDUCED_PRECISION else EXACT
    path, model_bytes = bundle.read_artifact(bundle_dir, manifest, fmt)
    fp32 = manifest.files.get(bundle.FORMAT_FILES["onnx"], {}).get("bytes")
    ratio = len(model_bytes) / fp32 if rule == TASK and fp32 else None
    for device in ("cpu", "cuda"):
        runtime = f"onnxruntime-{device}"
        if device == "cuda" and not cuda_present():
            found.append(NotRun(path.name, runtime, "no CUDA GPU"))
            continue
        session = make_session(model_bytes, device)  # raises if CUDA is not really in use

        def run(x, session=session):
            return session.run([manifest.output.name], {manifest.input.name: x})[0]

        found.append(Backend(path.name, runtime, run, rule, size_ratio=ratio))
    return found


def artifact_backends(bundle_dir: Path, manifest: Manifest, eager: Backend, skip=(), trust_code=False) -> list:
    """Backends for every artifact in the bundle except the eager reference itself, in a fixed order."""
    found = []
    if "torch.compile" in skip:
        found.append(NotRun(eager.artifact, "torch.compile", "skipped on request"))
    else:
        compiled = torch.compile(eager.module, dynamic=True)
        found.append(torch_backend(_quietly(compiled), eager.artifact, "torch.compile"))
    for fmt in [f for f in bundle.FORMAT_FILES if f in manifest.formats]:  # a fixed row order
        name = manifest.formats[fmt]
        if name == eager.artifact:
            continue
        if fmt in WEIGHT_FORMATS:  # the other weights file: the same eager model from it
            module, path = eager_model(bundle_dir, manifest, get_spec(manifest.model), fmt)
            found.append(torch_backend(module.eval(), path.name, "eager"))
        else:
            found += exported_backends(bundle_dir, manifest, fmt, trust_code)
    return found  # model.e2e.onnx has a row of its own rule: verify.e2e


def device_backend(bundle_dir: Path, manifest: Manifest, fmt: str):
    """A device format in its own runtime here: ExecuTorch's Python runtime, OpenVINO's CPU plugin; Core ML
    cannot run here (NotRun, its structure checked)."""
    runtime = DEVICE_RUNTIMES[fmt]
    if fmt == "coreml":  # its spec, checked with coremltools where it is installed; never run here
        if not device_formats.available(fmt):
            return NotRun(manifest.formats[fmt], runtime, f"{coreml.NOT_RUN}; coremltools is not installed")
        return NotRun(manifest.formats[fmt], runtime, coreml.structure_note(bundle_dir, manifest))
    if not device_formats.runs_here(fmt):
        return NotRun(manifest.formats[fmt], runtime, f"{device_formats.RUNTIMES[fmt]} is not installed")
    path, data = bundle.read_artifact(bundle_dir, manifest, fmt)
    companions = [
        bundle.read_data_file(bundle_dir, manifest, name, MAX_WEIGHTS_BYTES)
        for name in bundle.FORMAT_COMPANIONS.get(fmt, ())
    ]
    try:
        if fmt == "executorch":
            return Backend(path.name, runtime, device_formats.executorch_runner(data))
        if fmt == "litert":
            return Backend(path.name, runtime, litert.litert_runner(data, *companions))
        return Backend(path.name, runtime, device_formats.openvino_runner(data, *companions))
    except Exception as exc:  # a file with the right hash that its runtime still cannot load
        last = next((line for line in reversed(str(exc).splitlines()) if line.strip()), type(exc).__name__)
        raise BundleError(f"{path}: {runtime} cannot load it ({last.strip()[:300]})") from None


def exported_backends(bundle_dir: Path, manifest: Manifest, fmt: str, trust_code: bool) -> list:
    """An exported (non-weights) format's backends: ONNX on each provider, a device format in its runtime, or
    a torch format if it may run."""
    if fmt in ONNX_FORMATS:
        return onnx_backends(bundle_dir, manifest, fmt)
    if fmt in DEVICE_RUNTIMES:
        return [device_backend(bundle_dir, manifest, fmt)]
    if fmt in TORCH_LOADERS and not may_run(manifest, fmt, trust_code):
        return [NotRun(manifest.formats[fmt], TORCH_LOADERS[fmt][0], trust.NOT_TRUSTED)]
    if fmt in TORCH_LOADERS:
        path, runtime, module = load_torch_artifact(bundle_dir, manifest, fmt, trust_code=trust_code)
        return [torch_backend(module, path.name, runtime)]
    return []  # model.e2e.onnx: verify.e2e


def formats_only_backends(bundle_dir: Path, manifest: Manifest, trust_code: bool, no_eager: str) -> tuple:
    """(reference, others) without an eager model: model.onnx on ONNX Runtime's CPU provider is the reference
    (it runs no code), the weights files cannot run (no architecture), every other artifact is compared with it."""
    found = []
    for fmt in [f for f in bundle.FORMAT_FILES if f in manifest.formats]:  # a fixed row order
        if fmt in WEIGHT_FORMATS:
            found.append(NotRun(manifest.formats[fmt], "eager", f"no eager model ({no_eager})"))
        else:
            found += exported_backends(bundle_dir, manifest, fmt, trust_code)
    runnable = [b for b in found if isinstance(b, Backend) and b.rule == EXACT]
    if not runnable:
        raise BundleError(
            f"{bundle_dir}: nothing to verify: no eager model ({no_eager}) and no artifact that runs here"
        )
    reference = next((b for b in runnable if b.runtime == "onnxruntime-cpu"), runnable[0])
    return reference, [b for b in found if b is not reference]


def _quietly(module):
    def run(x):
        with quiet_torch_logs():
            return module(x)

    return run


def as_float32(output) -> np.ndarray:
    return np.asarray(output, dtype=np.float32)
