"""LiteRT (TensorFlow Lite): model.tflite at batch 1 and model.b64.tflite at batch 64, converted by litert-torch
in a venv of its own (see litert_convert.py), run here by ai-edge-litert's interpreter, which tk's venv has.

The converter's venv is $TK_LITERT_PYTHON, else runs/edge/litert/ beside the checkout (scripts/setup.sh
makes it). A fixed batch is the only one that converts, so a larger batch runs in calls of 64 (the last one
padded with zeros, its padding dropped), a single sample on the batch-1 model.
"""

import importlib.util
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

BATCHES = (1, 64)
FILES = {1: "model.tflite", 64: "model.b64.tflite"}
SCRIPT = Path(__file__).with_name("litert_convert.py")
CHECKOUT_VENV = Path(__file__).resolve().parents[2] / "runs" / "edge" / "litert" / "bin" / "python"
TIMEOUT = 900
NEEDS = "litert-torch's venv (scripts/setup.sh makes runs/edge/litert; or set TK_LITERT_PYTHON) and ai-edge-litert"


def converter_python() -> Path | None:
    found = Path(os.environ.get("TK_LITERT_PYTHON", CHECKOUT_VENV))
    return found if found.is_file() else None


def available() -> bool:
    """Export needs the converter's venv; running needs the interpreter here."""
    return converter_python() is not None and importlib.util.find_spec("ai_edge_litert") is not None


def litert_files(program_bytes: bytes) -> dict:
    """{"model.tflite": ..., "model.b64.tflite": ...} from the ExportedProgram's bytes (model.pt2)."""
    with tempfile.TemporaryDirectory(prefix="tk-litert-") as folder:
        program = Path(folder) / "model.pt2"
        program.write_bytes(program_bytes)
        command = [str(converter_python()), str(SCRIPT), str(program), folder, *map(str, BATCHES)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)
        if done.returncode != 0:
            lines = [line for line in done.stderr.splitlines() if line.strip()]
            raise RuntimeError(f"litert-torch failed: {lines[-1] if lines else 'no message'}")
        return {FILES[b]: (Path(folder) / f"model.b{b}.tflite").read_bytes() for b in BATCHES}


def interpreter(model: bytes):
    from toolkit.export.device_formats import quiet_native_logs  # it imports this module

    with quiet_native_logs():  # "Created TensorFlow Lite XNNPACK delegate for CPU", on fd 2
        from ai_edge_litert.interpreter import Interpreter

        runner = Interpreter(model_content=model)
        runner.allocate_tensors()
    return runner


def litert_runner(single: bytes, batched: bytes):
    """batch -> output with the two fixed-batch models: one sample on the first, the rest 64 at a time."""
    models = {1: interpreter(single), 64: interpreter(batched)}

    def invoke(size: int, x: np.ndarray) -> np.ndarray:
        runner = models[size]
        runner.set_tensor(runner.get_input_details()[0]["index"], np.ascontiguousarray(x))
        runner.invoke()
        return runner.get_tensor(runner.get_output_details()[0]["index"]).copy()

    def run(batch: np.ndarray) -> np.ndarray:
        if len(batch) == 1:
            return invoke(1, batch)
        outputs = []
        for start in range(0, len(batch), 64):
            chunk = batch[start : start + 64]
            padded = np.concatenate([chunk, np.zeros((64 - len(chunk), *chunk.shape[1:]), chunk.dtype)])
            outputs.append(invoke(64, padded)[: len(chunk)])
        return np.concatenate(outputs)

    return run
