"""model.e2e.onnx's own row: the graph's preprocessing against the Python runtime's, on real test images."""

from pathlib import Path

import numpy as np
from PIL import Image

from toolkit.data import load_dataset, manifest_dataset
from toolkit.runtime import bundle
from toolkit.runtime.predictor import Predictor
from toolkit.runtime.preprocess import prepare
from toolkit.runtime.schema import Manifest
from toolkit.runtime.session import make_session

E2E_IMAGES = 500  # test images per rendition
E2E_AGREEMENT = 0.99


def renditions(images: np.ndarray):
    """The test images as a user would hand them over: as they are, upscaled, and as product photos
    (dark on white, RGB, off-centre on a wider canvas)."""
    yield "28x28 gray", [Image.fromarray(img) for img in images]
    yield "56x56 gray", [Image.fromarray(img).resize((56, 56), Image.Resampling.BICUBIC) for img in images]
    photos = []
    for i, img in enumerate(images):
        photo = Image.new("RGB", (90, 70), (255, 255, 255))
        photo.paste(
            Image.fromarray(255 - img).resize((50, 50), Image.Resampling.BICUBIC).convert("RGB"),
            (8 + i % 24, 4 + i % 12),
        )
        photos.append(photo)
    yield "90x70 RGB photo", photos


def e2e_row(bundle_dir: Path, manifest: Manifest, data_dir=None) -> dict:
    """model.e2e.onnx against the runtime's preprocessing + model.onnx: argmax agreement, largest probability gap."""
    e2e_session = make_session(bundle.read_artifact(bundle_dir, manifest, "onnx-e2e")[1], "cpu")
    python_path = Predictor(bundle_dir, device="cpu")  # the runtime's preprocessing + model.onnx, as tk infer runs them
    data = load_dataset(manifest_dataset(manifest), data_dir)
    images, labels = data.test_x[:E2E_IMAGES].numpy(), data.test_y[:E2E_IMAGES].numpy()
    agree, gaps, correct, per_size = 0, [], 0, {}
    for name, pictures in renditions(images):
        expected = python_path.probabilities(np.stack([prepare(p, manifest.preprocessing) for p in pictures]))
        pixels = np.stack([np.asarray(p) for p in pictures])
        pixels = pixels[..., None] if pixels.ndim == 3 else pixels
        probabilities, label_index = e2e_session.run(None, {"image": pixels})
        same = label_index == expected.argmax(1)
        per_size[name] = float(same.mean())
        agree += int(same.sum())
        correct += int((label_index == labels).sum())
        gaps.append(float(np.abs(probabilities - expected).max()))
    total = len(images) * len(per_size)
    agreement = agree / total
    failures = [] if agreement >= E2E_AGREEMENT else [f"argmax agrees on {agreement:.2%} < {E2E_AGREEMENT:.0%}"]
    return {
        "artifact": manifest.formats["onnx-e2e"],
        "runtime": "onnxruntime-cpu",
        "rule": "e2e",
        "max_abs": max(gaps),
        "max_rel": None,
        "p99_abs": None,
        "min_atol": None,
        "argmax_agreement": agreement,
        "accuracy": correct / total,
        "mae": None,
        "agreement_by_input": per_size,
        "passed": not failures,
        "failures": failures,
    }
