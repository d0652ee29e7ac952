"""Inference measurements: every deployment format on every runtime that runs it here.

For each model, a bundle of every applicable format is exported into a temporary folder from the
weights `tk export` would use (export.weights: the latest run, else the committed bundle), loaded as
verify loads it (verify.loaders), and each runtime answers seeded random inputs:
  - batch-1 latency, p50 and p99 over many single calls (input already where the runtime wants it,
    output back and synchronized);
  - throughput at batch 512 and 4096: samples a second from the median call.
torch.compile compiles once per batch size before timing; that compile time is reported on its own.
ONNX Runtime CPU runs as tk's runtime does (spinning off), with 1 thread for batch 1 and every core
for the large batches. ONNX Runtime CUDA binds device-resident inputs and outputs (IOBinding). The device
formats run in their own runtimes on the CPU: ExecuTorch's (XNNPACK) and OpenVINO's CPU plugin (fp32).
"""

import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from toolkit.export import export, litert
from toolkit.export.device_formats import MAX_BATCH
from toolkit.export.formats import applicable_formats
from toolkit.export.torch_formats import quiet_torch_logs
from toolkit.export.weights import find_weights, load_model
from toolkit.models import get_spec
from toolkit.runtime import bundle
from toolkit.runtime.session import cuda_present, make_session
from toolkit.verify.loaders import DEVICE_RUNTIMES, TORCH_LOADERS, NotRun, device_backend, load_torch_artifact

LARGE_BATCHES = (512, 4096)


def weights_file(model: str) -> Path | None:
    """The weights `tk export MODEL` would use: the model's latest run, else the committed bundle's."""
    found = find_weights(model, bundle_dir=bundle.default_bundle_dir(model))
    return None if found is None else found[1]


def time_calls(call, repeats: int, warmup: int, max_seconds: float = float("inf")) -> list:
    """Seconds of each of `repeats` calls after `warmup` untimed ones; stops early (after 3) past max_seconds."""
    for _ in range(warmup):
        call()
    times = []
    while len(times) < repeats and (len(times) < 3 or sum(times) < max_seconds):
        started = time.perf_counter_ns()
        call()
        times.append((time.perf_counter_ns() - started) / 1e9)
    return times


class Runner:
    """One runtime over one artifact: make_call(batch) returns a no-argument callable that runs one batch."""

    def __init__(self, runtime: str, artifact: str, device: str, make_call, compile_seconds=None, notes=None):
        self.runtime, self.artifact, self.device = runtime, artifact, device
        self.make_call = make_call
        self.compile_seconds = compile_seconds  # a list that make_call appends to (torch.compile)
        self.notes = notes  # a dict that make_call fills: how each batch size ran (ONNX Runtime CUDA)


def torch_runner(runtime: str, artifact: str, module, device: str, sample_shape, compiled=False) -> Runner:
    compile_seconds = [] if compiled else None

    def make_call(batch):
        x = torch.rand((batch, *sample_shape), generator=torch.Generator().manual_seed(batch)).to(device)
        sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

        def call():
            with torch.inference_mode():
                module(x)
            sync()

        if compiled:  # the first call per shape compiles: outside the timed region, reported on its own
            started = time.perf_counter()
            call()
            compile_seconds.append(time.perf_counter() - started)
        return call

    return Runner(runtime, artifact, device, make_call, compile_seconds)


def ort_cpu_runner(artifact: str, model_bytes: bytes, manifest: dict, sample_shape) -> Runner:
    sessions = {}  # threads -> session: 1 thread answers single samples best, every core large batches

    def make_call(batch):
        threads = 1 if batch == 1 else 0
        if threads not in sessions:
            sessions[threads] = make_session(model_bytes, "cpu", threads)
        session = sessions[threads]
        x = np.random.default_rng(batch).random((batch, *sample_shape), dtype=np.float32)
        feeds, outputs = {manifest.input.name: x}, [manifest.output.name]
        return lambda: session.run(outputs, feeds)

    return Runner("onnxruntime-cpu", artifact, "cpu", make_call)


def ort_cuda_runner(artifact: str, model_bytes: bytes, manifest: dict, sample_shape) -> Runner:
    """Inputs and outputs bound on the GPU; each batch size gets a session replaying a CUDA graph where the
    provider can capture one (every node on CUDA, fixed shapes and addresses), else plain IOBinding."""
    import onnxruntime as ort

    plain = make_session(model_bytes, "cuda")
    modes = {}  # batch -> "CUDA graph" or "no CUDA graph (reason)"

    def bound_call(session, x):
        binding = session.io_binding()
        binding.bind_ortvalue_input(manifest.input.name, ort.OrtValue.ortvalue_from_numpy(x, "cuda", 0))
        binding.bind_output(manifest.output.name, "cuda", 0)

        def call():
            session.run_with_iobinding(binding)
            binding.synchronize_outputs()

        return call

    def make_call(batch):
        x = np.random.default_rng(batch).random((batch, *sample_shape), dtype=np.float32)
        try:
            call = bound_call(make_session(model_bytes, "cuda", cuda_options={"enable_cuda_graph": "1"}), x)
            call()  # the first run captures the graph
            modes[batch] = "CUDA graph"
        except Exception as exc:  # the provider refused to capture: measure plain IOBinding instead
            call = bound_call(plain, x)
            modes[batch] = f"no CUDA graph ({str(exc).splitlines()[0][:80]})"
        return call

    return Runner("onnxruntime-cuda (IOBinding)", artifact, "cuda", make_call, notes=modes)


def device_runner(backend, fmt: str, sample_shape) -> Runner:
    """A device format in its runtime on the CPU, loaded as verify loads it. ExecuTorch's program takes at most
    MAX_BATCH rows, and LiteRT's files one fixed batch: a larger batch goes in calls of that many,
    as an app would send it (LiteRT's runner splits it itself)."""
    most = {"executorch": MAX_BATCH, "litert": max(litert.BATCHES)}.get(fmt)
    notes = {}

    def make_call(batch):
        x = np.random.default_rng(batch).random((batch, *sample_shape), dtype=np.float32)
        if most is None or batch <= most:
            return lambda: backend.run(x)
        notes[batch] = f"in {-(-batch // most)} calls of {most} (the format's batch bound)"
        if fmt == "litert":  # its runner splits the batch itself
            return lambda: backend.run(x)
        return lambda: [backend.run(x[i : i + most]) for i in range(0, batch, most)]

    return Runner(backend.runtime, backend.artifact, "cpu", make_call, notes=notes)


def runners_for(bundle_dir: Path, manifest, net, device: str) -> tuple:
    """(runners, not_run rows) for every format in the bundle, loaded as verify loads them."""
    shape = manifest.input.sample_shape
    formats = manifest.formats
    runners = [
        torch_runner("eager", formats["state-dict"], net.to(device), device, shape),
        torch_runner(
            "torch.compile", formats["state-dict"], torch.compile(net, dynamic=False), device, shape, compiled=True
        ),
    ]
    not_run = []
    for fmt in [f for f in TORCH_LOADERS if f in formats]:
        on = "cpu" if fmt == "aoti" else device  # AOTInductor packages are compiled for the CPU at export
        path, runtime, module = load_torch_artifact(bundle_dir, manifest, fmt, on)
        runners.append(torch_runner(runtime, path.name, module, on, shape))
    for fmt in ("onnx", "onnx-fp16", "onnx-int8"):
        if fmt not in formats:
            continue
        path, model_bytes = bundle.read_artifact(bundle_dir, manifest, fmt)
        runners.append(ort_cpu_runner(path.name, model_bytes, manifest, shape))
        if fmt == "onnx":
            if cuda_present():
                runners.append(ort_cuda_runner(path.name, model_bytes, manifest, shape))
            else:
                not_run.append(
                    {"runtime": "onnxruntime-cuda (IOBinding)", "artifact": path.name, "reason": "no CUDA GPU"}
                )
    for fmt in [f for f in DEVICE_RUNTIMES if f in formats]:
        backend = device_backend(bundle_dir, manifest, fmt)
        if isinstance(backend, NotRun):  # Core ML, here
            not_run.append({"runtime": backend.runtime, "artifact": backend.artifact, "reason": backend.reason})
        else:
            runners.append(device_runner(backend, fmt, shape))
    return runners, not_run


def measure(runner: Runner, quick: bool) -> dict:
    row = {"runtime": runner.runtime, "artifact": runner.artifact, "device": runner.device}
    times = time_calls(runner.make_call(1), repeats=300 if quick else 2000, warmup=20 if quick else 100)
    row["batch1_p50_us"] = round(float(np.percentile(times, 50)) * 1e6, 1)
    row["batch1_p99_us"] = round(float(np.percentile(times, 99)) * 1e6, 1)
    for batch in LARGE_BATCHES:
        times = time_calls(
            runner.make_call(batch), repeats=5 if quick else 20, warmup=1, max_seconds=0.5 if quick else 2.0
        )
        row[f"batch{batch}_samples_per_s"] = round(batch / statistics.median(times))
    if runner.compile_seconds is not None:
        row["compile_seconds"] = round(sum(runner.compile_seconds), 2)
    if runner.notes:
        row["notes"] = {str(batch): note for batch, note in runner.notes.items()}
    return row


def bench_inference(models, quick: bool, log=print) -> list:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    rows = []
    for model in models:
        weights = weights_file(model)
        if weights is None:
            log(f"inference {model}: skipped (no weights: no run and no {bundle.default_bundle_dir(model)} bundle)")
            continue
        spec = get_spec(model)
        formats = [f for f in applicable_formats(spec) if f != "onnx-e2e"]  # e2e takes raw images, not tensors
        log(f"inference {model}: exporting {len(formats)} formats ...")
        with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(), quiet_torch_logs():
            warnings.simplefilter("ignore")
            manifest = export(model, formats=formats, out_dir=Path(tmp), checkpoint_file=weights, log=lambda _m: None)
            net = load_model(spec, weights, log=lambda _m: None)[0]
            runners, not_run = runners_for(Path(tmp), manifest, net, device)
            for runner in runners:
                row = dict(measure(runner, quick), model=model)
                rows.append(row)
                log(f"  {runner.runtime:<28} {runner.artifact:<16} batch 1 p50 {row['batch1_p50_us']:9.1f} us")
            rows += [dict(row, model=model) for row in not_run]
    return rows
