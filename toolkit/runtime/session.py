"""ONNX Runtime sessions with explicit providers, checked after creation (ORT silently falls back to CPU)."""

import os

import onnxruntime as ort

from toolkit.errors import UsageError

DEVICES = ("auto", "cpu", "cuda")


def cuda_present() -> bool:
    """An NVIDIA GPU and the CUDA provider; cheaper and quieter than letting ORT try and fail."""
    has_device = os.path.exists("/dev/nvidiactl") or os.path.exists("/dev/nvidia0")
    return has_device and "CUDAExecutionProvider" in ort.get_available_providers()


def make_session(model_bytes: bytes, device: str = "auto", threads: int = 0, cuda_options=None) -> ort.InferenceSession:
    """An ORT session with explicit providers; checks the provider asked for is the one in use.

    `cuda_options`: CUDA provider options, e.g. {"enable_cuda_graph": "1"}."""
    if device not in DEVICES:
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
