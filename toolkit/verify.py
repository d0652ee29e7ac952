"""Verify: every exported artifact must compute what the eager model computes.

The eager model is rebuilt from the bundle's state_dict.pth; TorchScript and ONNX Runtime (CPU, and
CUDA when a GPU is present, checked to be the provider really in use) run the same real test images
at batch sizes 1, 7 and 512 (the last covers the whole 10k test split, for accuracy). Every backend is
checked; all failures are collected and reported at once; verification.json goes into the bundle.
"""

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from toolkit import bundle, checkpoint
from toolkit.atomic import write_text
from toolkit.data import load_fashion_mnist
from toolkit.errors import VerificationError
from toolkit.export import verification_summary
from toolkit.models import get_spec
from toolkit.runtime import cuda_present, make_session
from toolkit.train import as_input

DEFAULT_ATOL = 1e-4
SMALL_BATCHES = {1: 32, 7: 16}  # batch size -> number of batches, on the first test images


@dataclass
class Backend:
    artifact: str
    runtime: str
    run: object  # float32 numpy batch -> numpy output


def _eager_backend(net) -> Backend:
    def run(batch):
        with torch.no_grad():
            return net(torch.from_numpy(batch)).numpy()

    return Backend(bundle.FORMAT_FILES["state-dict"], "eager", run)


def _backends(bundle_dir: Path, manifest: dict) -> list:
    found = []
    if "torchscript" in manifest["formats"]:
        path = bundle.artifact_path(bundle_dir, manifest, "torchscript")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # TorchScript's deprecation notice
            scripted = torch.jit.load(str(path), map_location="cpu").eval()

        def run_ts(batch, module=scripted):
            with torch.no_grad():
                return module(torch.from_numpy(batch)).numpy()

        found.append(Backend(path.name, "torchscript", run_ts))
    if "onnx" in manifest["formats"]:
        path = bundle.artifact_path(bundle_dir, manifest, "onnx")
        devices = ["cpu"] + (["cuda"] if cuda_present() else [])
        for device in devices:
            session = make_session(path.read_bytes(), device)  # raises if CUDA is not really in use

            def run_ort(batch, session=session):
                return session.run([manifest["output"]["name"]], {manifest["input"]["name"]: batch})[0]

            found.append(Backend(path.name, f"onnxruntime-{device}", run_ort))
    return found


def _batches(images: torch.Tensor):
    """(batch size, float32 numpy batch) pairs: small batches on the first images, then all in 512s."""
    for size, count in SMALL_BATCHES.items():
        for i in range(count):
            yield size, as_input(images[i * size : (i + 1) * size]).numpy()
    for start in range(0, len(images), 512):
        yield 512, as_input(images[start : start + 512]).numpy()


def _compare(reference: list, outputs: list, labels: np.ndarray, atol: float) -> dict:
    """Per-backend numbers against eager over all batches; accuracy on the batch-512 pass (full split)."""
    ref, out = np.concatenate([r for _, r in reference]), np.concatenate([o for _, o in outputs])
    abs_diff = np.abs(out - ref)
    rel_diff = abs_diff / np.maximum(np.abs(ref), 1e-6)
    agreement = float((out.argmax(1) == ref.argmax(1)).mean())
    full = np.concatenate([o for size, o in outputs if size == 512])
    max_abs = float(abs_diff.max())
    failures = []
    if max_abs > atol:
        failures.append(f"max abs diff {max_abs:.3g} > atol {atol:g}")
    if agreement < 1.0:
        disagree = int((out.argmax(1) != ref.argmax(1)).sum())
        failures.append(f"argmax differs on {disagree} of {len(ref)} inputs")
    return {
        "max_abs": max_abs,
        "max_rel": float(rel_diff.max()),
        "argmax_agreement": agreement,
        "accuracy": float((full.argmax(1) == labels).mean()),
        "passed": not failures,
        "failures": failures,
    }


def verify(model: str = "fashion-mlp", *, bundle_dir=None, atol: float = DEFAULT_ATOL, data_dir=None, log=print) -> dict:
    """Check every artifact of the bundle against the eager model; raises VerificationError on any failure."""
    spec = get_spec(model)
    bundle_dir = Path(bundle_dir) if bundle_dir is not None else Path("exported") / model
    manifest = bundle.read_manifest(bundle_dir)
    state_path = bundle.artifact_path(bundle_dir, manifest, "state-dict")
    state_dict, _ = checkpoint.load_weights(state_path, model)
    net = spec.build()
    checkpoint.load_into(net, state_dict, state_path)
    net.eval()

    data = load_fashion_mnist(data_dir)
    batches = list(_batches(data.test_images))
    labels = data.test_labels.numpy()
    eager = _eager_backend(net)
    reference = [(size, eager.run(batch)) for size, batch in batches]

    rows = [{"artifact": eager.artifact, "runtime": eager.runtime, **_compare(reference, reference, labels, atol)}]
    for backend in _backends(bundle_dir, manifest):
        outputs = [(size, backend.run(batch)) for size, batch in batches]
        rows.append({"artifact": backend.artifact, "runtime": backend.runtime, **_compare(reference, outputs, labels, atol)})

    report = {
        "model": model,
        "passed": all(row["passed"] for row in rows),
        "atol": atol,
        "inputs": {"dataset": "fashion-mnist test split", "batch_sizes": [1, 7, 512],
                   "samples": sum(len(b) for _, b in batches)},
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


def format_table(rows: list) -> str:
    header = f"{'artifact':<15} {'runtime':<17} {'max abs':>10} {'max rel':>10} {'argmax':>8} {'accuracy':>9}  result"
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{r['artifact']:<15} {r['runtime']:<17} {r['max_abs']:>10.2e} {r['max_rel']:>10.2e} "
            f"{r['argmax_agreement']:>8.2%} {r['accuracy']:>9.2%}  {'pass' if r['passed'] else 'FAIL'}"
        )
    return "\n".join(lines)
