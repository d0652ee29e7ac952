"""Side-by-side measurements for BENCHMARKS.md, on whatever machine runs it.

1. Training fashion-mlp with the default recipe: eager vs torch.compile (inductor), same run.
   Compile time is kept out of the per-epoch numbers and reported on its own.
2. `tk infer one.png` as a whole process vs a plain torch script doing the same job
   (import torch, load the state_dict, preprocess, forward), median wall time of N runs.
3. In-process ONNX Runtime CPU batch-1 latency (p50, p99).

Usage (from the repo root, in the venv): python scripts/benchmark.py [--epochs 10] [--runs 15]
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "sneaker-9.png"
BUNDLE = ROOT / "exported" / "fashion-mlp"

TORCH_SCRIPT = f"""
import torch
from PIL import Image
import numpy as np
from toolkit.models.fashion import NeuralNetwork
net = NeuralNetwork()
net.load_state_dict(torch.load({str(BUNDLE / 'state_dict.pth')!r}, weights_only=True))
net.eval()
x = torch.from_numpy(np.asarray(Image.open({str(SAMPLE)!r}).convert("L"), dtype=np.float32) / 255).reshape(1, 1, 28, 28)
with torch.no_grad():
    print(net(x).argmax(1).item())
"""


def machine() -> dict:
    import onnxruntime
    import torch

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())  # fmt: skip
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
            "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
            "date": time.strftime("%Y-%m-%d")}  # fmt: skip


def bench_training(epochs: int) -> dict:
    from toolkit.train import train

    results = {}
    for label, compile_flag in (("eager", False), ("torch.compile", True)):
        with tempfile.TemporaryDirectory() as run_dir:
            m = train("fashion-mlp", epochs=epochs, device="cpu", compile=compile_flag, run_dir=run_dir, log=lambda _m: None)
        seconds = [e["seconds"] for e in m["epochs"]]
        results[label] = {"compile_seconds": m["compile_seconds"], "epoch_seconds_median": statistics.median(seconds),
                          "train_seconds": m["train_seconds"], "test_accuracy": m["test_accuracy"]}  # fmt: skip
    return results


def wall(command: list, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bench_cold_start(runs: int) -> dict:
    tk = str(Path(sys.executable).with_name("tk"))
    infer = wall([tk, "infer", str(SAMPLE)], runs)
    torch_script = wall([sys.executable, "-c", TORCH_SCRIPT], runs)
    return {"tk_infer_seconds": infer, "torch_script_seconds": torch_script, "speedup": torch_script / infer}


def bench_ort_latency(repeats: int = 2000) -> dict:
    from toolkit.runtime import Predictor

    predictor = Predictor(BUNDLE, device="cpu", threads=1)
    x = np.random.default_rng(0).random((1, 1, 28, 28), dtype=np.float32)
    for _ in range(200):
        predictor.run(x)
    times = []
    for _ in range(repeats):
        started = time.perf_counter_ns()
        predictor.run(x)
        times.append((time.perf_counter_ns() - started) / 1000)
    return {"p50_us": float(np.percentile(times, 50)), "p99_us": float(np.percentile(times, 99))}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    report = {"machine": machine(), "training": bench_training(args.epochs),
              "cold_start": bench_cold_start(args.runs), "ort_cpu_batch1": bench_ort_latency()}  # fmt: skip
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
