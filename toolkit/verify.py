"""Verify: the parity matrix. Every artifact x every runtime that can run it, against eager.

The eager model is rebuilt from the bundle's state_dict.pth. Inputs: real data where the model has a
dataset (the whole Fashion-MNIST test split, for accuracy; a lab's rows), seeded random inputs, and
edge inputs (all zeros, all ones, a single bright pixel), at batch sizes 1, 7 and 512. Exact rows must
stay within the model's atol and agree on every decision; reduced-precision rows (fp16, int8) are
judged on the task: accuracy within 0.5 points of eager. Every failing row is reported at once, and
verification.json goes into the bundle.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime

from toolkit import backends, bundle, checkpoint
from toolkit.atomic import write_text
from toolkit.data import load_dataset
from toolkit.errors import VerificationError
from toolkit.manifest import verification_summary
from toolkit.models import get_spec
from toolkit.onnx_compat import default_opset, oldest_runtime_for, parse_version

LARGE_INPUT = 10_000  # values per sample above which the big batch shrinks to 16 (224x224 photos on a CPU)
TASK_TOLERANCE = 0.005  # reduced precision: accuracy within 0.5 points of eager


@dataclass
class Batch:
    kind: str  # "real", "random" or "edge"
    x: np.ndarray
    y: np.ndarray | None = None  # labels or targets: the batch counts for accuracy / error
    size: int | None = None  # the batch size it stands for (a split's last chunk may be smaller)

    def __post_init__(self):
        self.size = self.size or len(self.x)


def edge_inputs(shape: tuple) -> np.ndarray:
    """All zeros, all ones, and a single bright value in the middle."""
    pixel = np.zeros(shape, np.float32)
    pixel.reshape(-1)[pixel.size // 2] = 1.0
    return np.stack([np.zeros(shape, np.float32), np.ones(shape, np.float32), pixel])


def verification_batches(spec, data_dir=None, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    shape = spec.input.shape
    big = 16 if int(np.prod(shape)) > LARGE_INPUT else 512
    batches = []
    if spec.dataset == "fashion-mnist":
        data = load_dataset(spec.dataset, data_dir)
        x, y = data.to_input(data.test_x).numpy(), data.test_y.numpy()
        batches += [Batch("real", x[i : i + 1]) for i in range(32)]
        batches += [Batch("real", x[i * 7 : i * 7 + 7]) for i in range(16)]
        batches += [Batch("real", x[i : i + 512], y[i : i + 512], size=512) for i in range(0, len(x), 512)]
        low, high = np.zeros(shape, np.float32), np.ones(shape, np.float32)
    elif spec.dataset is not None:  # a lab's table: its rows, then random rows around them
        data = load_dataset(spec.dataset, data_dir)
        rows, targets = data.test_x.numpy(), data.test_y.numpy()
        span = np.maximum(rows.max(0) - rows.min(0), 1.0)
        low, high = rows.min(0) - span / 2, rows.max(0) + span / 2
        batches.append(Batch("real", rows, targets))
    else:  # an untrained architecture: images in [0, 1], normalised as the model expects
        low, high = np.zeros(shape, np.float32), np.ones(shape, np.float32)

    def normalise(x):
        if spec.input.kind != "image" or not spec.input.mean:
            return x.astype(np.float32)
        mean = np.array(spec.input.mean, np.float32).reshape(-1, 1, 1)
        std = np.array(spec.input.std, np.float32).reshape(-1, 1, 1)
        return ((x - mean) / std).astype(np.float32)

    for size in (1, 7, big):
        batches.append(Batch("random", normalise(rng.uniform(low, high, (size, *shape)))))
    edges = normalise(edge_inputs(shape))
    batches += [Batch("edge", edges[i : i + 1]) for i in range(len(edges))]
    batches.append(Batch("edge", np.concatenate([edges, edges, edges[:1]])))  # a batch of 7
    return batches


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


def compare(spec, reference: list, outputs: list, batches: list, atol: float, rule: str, eager_score: dict) -> dict:
    ref, out = np.concatenate(reference), np.concatenate(outputs)
    abs_diff = np.abs(out - ref)
    max_abs = float(abs_diff.max())
    differ = 0 if spec.task == "regression" else int((decisions(spec, out) != decisions(spec, ref)).sum())
    quality = score(spec, outputs, batches)
    failures = []
    if rule == backends.EXACT:
        if max_abs > atol:
            failures.append(f"max abs diff {max_abs:.3g} > atol {atol:g}")
        if differ:
            failures.append(f"argmax differs on {differ} of {len(ref)} inputs")
    elif quality["accuracy"] is None or eager_score["accuracy"] - quality["accuracy"] > TASK_TOLERANCE:
        failures.append(f"accuracy {quality['accuracy']} is more than {TASK_TOLERANCE:.1%} below eager's {eager_score['accuracy']}")
    return {
        "rule": rule,
        "max_abs": max_abs,
        "max_rel": float((abs_diff / np.maximum(np.abs(ref), 1e-6)).max()),
        "p99_abs": float(np.percentile(abs_diff, 99)),
        "min_atol": max_abs,  # the smallest atol (with rtol 0) under which every output passes
        "argmax_agreement": None if spec.task == "regression" else 1.0 - differ / len(ref),
        **quality,
        "passed": not failures,
        "failures": failures,
    }


def onnx_compatibility(bundle_dir: Path, manifest: dict) -> dict:
    """The ONNX file's opset and IR version match the manifest, and this ONNX Runtime may load them."""
    if "onnx" not in manifest["formats"]:
        return {"passed": True, "checked": False}
    model = onnx.load(bundle_dir / manifest["formats"]["onnx"], load_external_data=False)
    opset = default_opset(model)
    recorded = manifest.get("onnx") or {}
    needs = oldest_runtime_for(opset, model.ir_version)
    failures = []
    if (recorded.get("opset"), recorded.get("ir_version")) != (opset, model.ir_version):
        failures.append(f"manifest says opset {recorded.get('opset')} / IR {recorded.get('ir_version')}, file has {opset} / {model.ir_version}")
    if needs is None or parse_version(onnxruntime.__version__) < parse_version(needs):
        failures.append(f"onnxruntime {onnxruntime.__version__} is older than {needs}, the first to load opset {opset} / IR {model.ir_version}")
    if recorded.get("min_onnxruntime") not in (None, needs):
        failures.append(f"manifest says it needs onnxruntime {recorded.get('min_onnxruntime')}, the table says {needs}")
    return {"checked": True, "opset": opset, "ir_version": model.ir_version, "min_onnxruntime": needs,
            "onnxruntime": onnxruntime.__version__, "passed": not failures, "failures": failures}  # fmt: skip


def verify(model: str = "fashion-mlp", *, bundle_dir=None, atol: float | None = None, data_dir=None,
           skip=(), log=print) -> dict:  # fmt: skip
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
    eager = backends.torch_backend(net, state_path.name, "eager")
    reference = [eager.run(b.x) for b in batches]
    eager_score = score(spec, reference, batches)
    rows = [{"artifact": eager.artifact, "runtime": "eager",
             **compare(spec, reference, reference, batches, atol, backends.EXACT, eager_score)}]  # fmt: skip
    for backend in backends.artifact_backends(bundle_dir, manifest, net, skip):
        if isinstance(backend, backends.NotRun):
            rows.append({"artifact": backend.artifact, "runtime": backend.runtime, "passed": None,
                         "status": f"not run: {backend.reason}"})  # fmt: skip
            continue
        outputs = [backends.as_float32(backend.run(b.x)) for b in batches]
        row = {"artifact": backend.artifact, "runtime": backend.runtime,
               **compare(spec, reference, outputs, batches, atol, backend.rule, eager_score)}  # fmt: skip
        if backend.rule == backends.TASK:
            row["size_ratio"] = manifest["files"][backend.artifact]["bytes"] / manifest["files"]["model.onnx"]["bytes"]
        rows.append(row)

    if "onnx-e2e" in manifest["formats"]:
        rows.append(e2e_row(bundle_dir, manifest, spec, data_dir))
    compatibility = onnx_compatibility(bundle_dir, manifest)
    report = {
        "model": model,
        "passed": all(row["passed"] is not False for row in rows) and compatibility["passed"],
        "atol": atol,
        "atol_reason": spec.atol_reason or "tk's default",
        "inputs": {"dataset": spec.dataset or "none (seeded random inputs)", "kinds": ["real", "random", "edge"],
                   "batch_sizes": sorted({b.size for b in batches if b.kind != "edge"}),
                   "samples": sum(len(b.x) for b in batches)},
        "onnx_compatibility": compatibility,
        "files": {name: entry["sha256"] for name, entry in manifest["files"].items()},
        "rows": rows,
    }  # fmt: skip
    write_text(bundle_dir / bundle.VERIFICATION, bundle.dumps(report))
    manifest["verification"] = verification_summary(report)
    bundle.write_manifest(bundle_dir, manifest)
    log(format_table(rows))
    if not report["passed"]:
        failing = [f"{r['artifact']} on {r['runtime']} ({', '.join(r['failures'])})" for r in rows if r["passed"] is False]
        failing += [f"ONNX compatibility ({', '.join(compatibility['failures'])})"] if not compatibility["passed"] else []
        raise VerificationError(f"{bundle_dir}: verification failed: {'; '.join(failing)}")
    ran = sum(row["passed"] is not None for row in rows)
    log(f"{model}: all {ran} rows that ran match eager ({len(rows) - ran} not run) -> {bundle_dir / bundle.VERIFICATION}")
    return report


def _percent(value) -> str:
    return "-" if value is None else f"{value:.2%}"


def format_table(rows: list) -> str:
    quality = "mae" if rows and rows[0].get("mae") is not None else "accuracy"
    header = (f"{'artifact':<17} {'runtime':<17} {'max abs':>9} {'p99 abs':>9} {'max rel':>9} "
              f"{'argmax':>8} {quality:>9}  result")  # fmt: skip
    lines = [header, "-" * len(header)]
    for r in rows:
        if r["passed"] is None:
            lines.append(f"{r['artifact']:<17} {r['runtime']:<17} {r['status']}")
            continue
        value = f"{r['mae']:.4g}" if quality == "mae" else _percent(r["accuracy"])
        verdict = ("pass" if r["passed"] else "FAIL") + {"task": " (task rule)", "e2e": " (vs Python preprocessing)"}.get(r["rule"], "")
        p99, rel = (f"{r[k]:>9.2e}" if r[k] is not None else f"{'-':>9}" for k in ("p99_abs", "max_rel"))
        lines.append(
            f"{r['artifact']:<17} {r['runtime']:<17} {r['max_abs']:>9.2e} {p99} {rel} "
            f"{_percent(r['argmax_agreement']):>8} {value:>9}  {verdict}"
        )
    return "\n".join(lines)


E2E_IMAGES = 500  # test images per rendition
E2E_AGREEMENT = 0.99


def renditions(images: np.ndarray):
    """The test images as a user would hand them over: as they are, upscaled, and as product photos
    (dark on white, RGB, off-centre on a wider canvas)."""
    from PIL import Image

    yield "28x28 gray", [Image.fromarray(img) for img in images]
    yield "56x56 gray", [Image.fromarray(img).resize((56, 56), Image.Resampling.BICUBIC) for img in images]
    photos = []
    for i, img in enumerate(images):
        photo = Image.new("RGB", (90, 70), (255, 255, 255))
        photo.paste(Image.fromarray(255 - img).resize((50, 50), Image.Resampling.BICUBIC).convert("RGB"), (8 + i % 24, 4 + i % 12))
        photos.append(photo)
    yield "90x70 RGB photo", photos


def e2e_row(bundle_dir: Path, manifest: dict, spec, data_dir=None) -> dict:
    """model.e2e.onnx against toolkit.preprocess + model.onnx: argmax agreement, largest probability gap."""
    from toolkit.preprocess import preprocess_pil
    from toolkit.runtime import Predictor, make_session

    e2e_session = make_session(bundle.read_artifact(bundle_dir, manifest, "onnx-e2e")[1], "cpu")
    python_path = Predictor(bundle_dir, device="cpu")  # toolkit.preprocess + model.onnx, as tk infer runs them
    data = load_dataset(spec.dataset, data_dir)
    images, labels = data.test_x[:E2E_IMAGES].numpy(), data.test_y[:E2E_IMAGES].numpy()
    agree, gaps, correct, per_size = 0, [], 0, {}
    for name, pictures in renditions(images):
        expected = python_path.probabilities(np.stack([preprocess_pil(p, spec.input.size) for p in pictures]))
        pixels = np.stack([np.asarray(p) for p in pictures])
        pixels = pixels[..., None] if pixels.ndim == 3 else pixels
        probabilities, label_index = e2e_session.run(None, {"image": pixels})
        same = label_index == expected.argmax(1)
        per_size[name] = float(same.mean())
        agree += int(same.sum())
        correct += int((label_index == labels).sum())
        gaps.append(float(np.abs(probabilities - expected).max()))
    total = E2E_IMAGES * len(per_size)
    agreement = agree / total
    failures = [] if agreement >= E2E_AGREEMENT else [f"argmax agrees on {agreement:.2%} < {E2E_AGREEMENT:.0%}"]
    return {"artifact": manifest["formats"]["onnx-e2e"], "runtime": "onnxruntime-cpu", "rule": "e2e",
            "max_abs": max(gaps), "max_rel": None, "p99_abs": None, "min_atol": None,
            "argmax_agreement": agreement, "accuracy": correct / total, "mae": None, "agreement_by_input": per_size,
            "passed": not failures, "failures": failures}  # fmt: skip
