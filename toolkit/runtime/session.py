"""ONNX Runtime sessions with explicit providers, checked after creation (ORT silently falls back to CPU)."""

import os

import onnxruntime as ort

from toolkit.errors import BundleError, UsageError

DEVICES = ("auto", "cpu", "cuda")

# ONNX Runtime's process-wide logger, before its environment exists: errors only, as for each session.
# Its telemetry off: a served model sends nothing anywhere (and on a read-only file system ORT would
# warn at every start that it cannot store a device ID under ~/.cache).
ort.set_default_logger_severity(3)
ort.disable_telemetry_events()


def cuda_present() -> bool:
    """An NVIDIA GPU and the CUDA provider; cheaper and quieter than letting ORT try and fail."""
    has_device = os.path.exists("/dev/nvidiactl") or os.path.exists("/dev/nvidia0")
    return has_device and "CUDAExecutionProvider" in ort.get_available_providers()


def make_session(model_bytes: bytes, device: str = "auto", threads: int = 0, cuda_options=None) -> ort.InferenceSession:
    """An ORT session with explicit providers; checks the provider asked for is the one in use.

    `cuda_options`: CUDA provider options, e.g. {"enable_cuda_graph": "1"}."""
    if device not in DEVICES:
        raise UsageError(f"device must be auto, cpu or cuda, got {device!r}")
    if device == "cuda" and not cuda_present():  # asked before ORT tries, so its own log never reaches the user
        raise UsageError(
            "--device cuda: no NVIDIA GPU with ONNX Runtime's CUDA provider here (use --device cpu or auto)"
        )
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


def check_io(session: ort.InferenceSession, manifest, path) -> None:
    """The graph's declared input and output against the manifest's, before the first inference:
    a valid ONNX file that disagrees with its manifest is a BundleError, not an ORT traceback later."""
    declared_in, declared_out = manifest.input, manifest.output
    inputs = {i.name: i for i in session.get_inputs()}
    outputs = {o.name: o for o in session.get_outputs()}
    if list(inputs) != [declared_in.name]:
        raise BundleError(
            f"{path}: the graph's inputs {list(inputs)} are not the manifest's input {declared_in.name!r}"
        )
    if declared_out.name not in outputs:
        raise BundleError(f"{path}: the graph has no output {declared_out.name!r} (it has {list(outputs)})")
    for kind, graph, declared in (
        ("input", inputs[declared_in.name], declared_in),
        ("output", outputs[declared_out.name], declared_out),
    ):
        graph_type = {"float32": "tensor(float)", "int64": "tensor(int64)"}[declared.dtype]
        if graph.type != graph_type:
            raise BundleError(
                f"{path}: the graph's {kind} {graph.name!r} is {graph.type}, the manifest says {declared.dtype}"
            )
        fixed = [d if isinstance(d, int) else None for d in graph.shape]
        wanted = [None, *(d if isinstance(d, int) else None for d in declared.shape[1:])]
        if len(fixed) != len(wanted) or any(f is not None and f != w for f, w in zip(fixed, wanted, strict=True)):
            raise BundleError(
                f"{path}: {kind} {graph.name!r} is {graph.shape} in the graph, {list(declared.shape)} in the manifest"
            )
