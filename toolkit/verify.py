"""Verify: every exported artifact must compute what the eager model computes.

The eager model is rebuilt from the bundle's state_dict.pth; TorchScript and ONNX Runtime (CPU, and
CUDA when a GPU is present, checked to be the provider really in use) run the same inputs at batch
sizes 1, 7 and 512. Inputs are real data where the model has a dataset (the whole Fashion-MNIST test
split, for accuracy; a lab's table plus seeded random rows around it) and seeded random inputs for
models tk does not train. Every backend is checked; all failures are reported at once;
verification.json goes into the bundle.
"""

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from toolkit import bundle, checkpoint
from toolkit.atomic import write_text
from toolkit.data import load_dataset
from toolkit.errors import VerificationError
from toolkit.export import verification_summary
from toolkit.models import get_spec
from toolkit.runtime import cuda_present, make_session

LARGE_INPUT = 10_000  # values per sample above which the big batch shrinks (224x224 photos on a CPU)


@dataclass
class Backend:
    artifact: str
    runtime: str
    run: object  # float32 numpy batch -> numpy output


@dataclass
class Batch:
    size: int  # the batch size this batch stands for (the last one of a split may be smaller)
    x: np.ndarray
    y: np.ndarray | None  # labels or targets when the batch is scored for accuracy / error


def _torch_backend(module, artifact: str, runtime: str) -> Backend:
    def run(x):
        with torch.no_grad():
            return module(torch.from_numpy(x)).numpy()

    return Backend(artifact, runtime, run)


def _backends(bundle_dir: Path, manifest: dict) -> list:
    found = []
    if "torchscript" in manifest["formats"]:
        path = bundle.artifact_path(bundle_dir, manifest, "torchscript")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # TorchScript's deprecation notice
            scripted = torch.jit.load(str(path), map_location="cpu").eval()
        found.append(_torch_backend(scripted, path.name, "torchscript"))
    if "onnx" in manifest["formats"]:
        path = bundle.artifact_path(bundle_dir, manifest, "onnx")
        for device in ["cpu"] + (["cuda"] if cuda_present() else []):
            session = make_session(path.read_bytes(), device)  # raises if CUDA is not really in use

            def run_ort(x, session=session):
                return session.run([manifest["output"]["name"]], {manifest["input"]["name"]: x})[0]

            found.append(Backend(path.name, f"onnxruntime-{device}", run_ort))
    return found


def verification_batches(spec, data_dir=None, seed: int = 0) -> list:
    """Batches of sizes 1, 7 and a large one; scored batches carry their labels."""
    rng = np.random.default_rng(seed)
    if spec.dataset == "fashion-mnist":
        data = load_dataset(spec.dataset, data_dir)
        x, y = data.to_input(data.test_x).numpy(), data.test_y.numpy()
        batches = [Batch(1, x[i : i + 1], None) for i in range(32)]
        batches += [Batch(7, x[i * 7 : i * 7 + 7], None) for i in range(16)]
        return batches + [Batch(512, x[i : i + 512], y[i : i + 512]) for i in range(0, len(x), 512)]
    if spec.dataset is not None:  # a lab's table: its rows, then random rows around them
        data = load_dataset(spec.dataset, data_dir)
        rows, targets = data.test_x.numpy(), data.test_y.numpy()
        low, high = rows.min(0), rows.max(0)
        span = np.maximum(high - low, 1.0)

        def random_rows(n):
            return rng.uniform(low - span / 2, high + span / 2, (n, rows.shape[1])).astype(np.float32)

        return ([Batch(len(rows), rows, targets)] + [Batch(1, random_rows(1), None) for _ in range(8)]
                + [Batch(7, random_rows(7), None) for _ in range(4)] + [Batch(512, random_rows(512), None)])  # fmt: skip
    # No data here (an untrained architecture): uniform images, normalised as the model expects.
    shape = spec.input.shape
    big = 16 if int(np.prod(shape)) > LARGE_INPUT else 512
    mean = np.array(spec.input.mean or [0.0] * shape[0], np.float32).reshape(1, -1, 1, 1)
    std = np.array(spec.input.std or [1.0] * shape[0], np.float32).reshape(1, -1, 1, 1)

    def images(n):
        return ((rng.random((n, *shape), dtype=np.float32) - mean) / std).astype(np.float32)

    return [Batch(1, images(1), None), Batch(1, images(1), None), Batch(7, images(7), None), Batch(big, images(big), None)]


def decisions(spec, out: np.ndarray):
    """What the model decides from an output: the class index, or None for regression."""
    if spec.task == "regression":
        return None
    if spec.output == "probability":
        return (out[:, 0] > 0.5).astype(np.int64)
    return out.argmax(1)


def score(spec, outputs: list, batches: list) -> dict:
    """Accuracy (classification) or mean absolute error (regression) on the labelled batches."""
    scored = [(o, b.y) for o, b in zip(outputs, batches) if b.y is not None]
    if not scored:
        return {"accuracy": None, "mae": None}
    out, y = np.concatenate([o for o, _ in scored]), np.concatenate([t for _, t in scored])
    if spec.task == "regression":
        return {"accuracy": None, "mae": float(np.abs(out - y).mean())}
    return {"accuracy": float((decisions(spec, out) == y.reshape(-1).astype(np.int64)).mean()), "mae": None}


def compare(spec, reference: list, outputs: list, batches: list, atol: float) -> dict:
    ref, out = np.concatenate(reference), np.concatenate(outputs)
    abs_diff = np.abs(out - ref)
    failures = []
    max_abs = float(abs_diff.max())
    if max_abs > atol:
        failures.append(f"max abs diff {max_abs:.3g} > atol {atol:g}")
    agreement = None
    if spec.task != "regression":
        differ = int((decisions(spec, out) != decisions(spec, ref)).sum())
        agreement = 1.0 - differ / len(ref)
        if differ:
            failures.append(f"argmax differs on {differ} of {len(ref)} inputs")
    return {
        "max_abs": max_abs,
        "max_rel": float((abs_diff / np.maximum(np.abs(ref), 1e-6)).max()),
        "argmax_agreement": agreement,
        **score(spec, outputs, batches),
        "passed": not failures,
        "failures": failures,
    }


def verify(model: str = "fashion-mlp", *, bundle_dir=None, atol: float | None = None, data_dir=None, log=print) -> dict:
    """Check every artifact of the bundle against the eager model; raises VerificationError on any failure."""
    spec = get_spec(model)
    atol = spec.atol if atol is None else atol
    bundle_dir = Path(bundle_dir) if bundle_dir is not None else Path("exported") / model
    manifest = bundle.read_manifest(bundle_dir)
    state_path = bundle.artifact_path(bundle_dir, manifest, "state-dict")
    state_dict, _ = checkpoint.load_weights(state_path, model)
    net = spec.build()
    checkpoint.load_into(net, state_dict, state_path)
    net.eval()

    batches = verification_batches(spec, data_dir)
    eager = _torch_backend(net, state_path.name, "eager")
    reference = [eager.run(b.x) for b in batches]
    rows = []
    for backend in [eager, *_backends(bundle_dir, manifest)]:
        outputs = reference if backend is eager else [backend.run(b.x) for b in batches]
        rows.append({"artifact": backend.artifact, "runtime": backend.runtime, **compare(spec, reference, outputs, batches, atol)})

    report = {
        "model": model,
        "passed": all(row["passed"] for row in rows),
        "atol": atol,
        "atol_reason": spec.atol_reason or "tk's default",
        "inputs": {"dataset": spec.dataset or "seeded random inputs", "batch_sizes": sorted({b.size for b in batches}),
                   "samples": sum(len(b.x) for b in batches)},
        "files": {name: entry["sha256"] for name, entry in manifest["files"].items()},
        "rows": rows,
    }  # fmt: skip
    write_text(bundle_dir / bundle.VERIFICATION, bundle.dumps(report))
    manifest["verification"] = verification_summary(report)
    bundle.write_manifest(bundle_dir, manifest)
    log(format_table(rows))
    if not report["passed"]:
        failing = "; ".join(f"{r['runtime']} ({', '.join(r['failures'])})" for r in rows if not r["passed"])
        raise VerificationError(f"{bundle_dir}: verification failed: {failing}")
    log(f"{model}: all {len(rows)} backends match eager within atol {atol:g} -> {bundle_dir / bundle.VERIFICATION}")
    return report


def _percent(value) -> str:
    return "-" if value is None else f"{value:.2%}"


def format_table(rows: list) -> str:
    quality = "mae" if rows and rows[0]["mae"] is not None else "accuracy"
    header = f"{'artifact':<15} {'runtime':<17} {'max abs':>10} {'max rel':>10} {'argmax':>8} {quality:>9}  result"
    lines = [header, "-" * len(header)]
    for r in rows:
        value = f"{r['mae']:.4g}" if quality == "mae" else _percent(r["accuracy"])
        lines.append(
            f"{r['artifact']:<15} {r['runtime']:<17} {r['max_abs']:>10.2e} {r['max_rel']:>10.2e} "
            f"{_percent(r['argmax_agreement']):>8} {value:>9}  {'pass' if r['passed'] else 'FAIL'}"
        )
    return "\n".join(lines)
