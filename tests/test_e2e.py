"""model.e2e.onnx: raw uint8 pixels in, probabilities and a label index out, preprocessing in-graph."""

import json
import shutil
import subprocess
import sys

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image

from toolkit.runtime import Predictor
from toolkit.runtime.preprocess import prepare

from conftest import SAMPLES
from page_blocks import block


@pytest.fixture(scope="module")
def session(full_bundle_master):
    return ort.InferenceSession(str(full_bundle_master / "model.e2e.onnx"), providers=["CPUExecutionProvider"])


def test_graph_contract(session):
    (image,) = session.get_inputs()
    assert image.name == "image" and image.type == "tensor(uint8)"
    assert image.shape == ["batch", "height", "width", "channels"]
    assert [o.name for o in session.get_outputs()] == ["probabilities", "label_index"]


@pytest.mark.parametrize("mode, size", [("L", (28, 28)), ("L", (123, 77)), ("RGB", (200, 150)), ("RGB", (31, 64))])
def test_matches_the_python_preprocessing(session, full_bundle_master, fashion, mode, size):
    predictor = Predictor(full_bundle_master)
    pictures = []
    for i in range(8):
        item = Image.fromarray(255 - fashion.test_images[i].numpy()).resize(
            (max(8, size[0] // 2), max(8, size[1] // 2))
        )
        canvas = Image.new(mode, size, 255 if mode == "L" else (255, 255, 255))
        canvas.paste(item.convert(mode), (i % 5, i % 3))
        pictures.append(canvas if size != (28, 28) else Image.fromarray(fashion.test_images[i].numpy()))
    pixels = np.stack([np.asarray(p) for p in pictures])
    pixels = pixels[..., None] if pixels.ndim == 3 else pixels
    probabilities, label_index = session.run(None, {"image": pixels})
    expected = predictor.probabilities(np.stack([prepare(p, predictor.manifest.preprocessing) for p in pictures]))
    assert (label_index == expected.argmax(1)).all()
    assert np.abs(probabilities - expected).max() < 2e-3
    assert np.allclose(probabilities.sum(1), 1, atol=1e-5)


def test_blank_image_does_not_crash(session):
    probabilities, _ = session.run(None, {"image": np.full((2, 40, 30, 1), 255, np.uint8)})
    assert probabilities.shape == (2, 10) and np.isfinite(probabilities).all()


def test_readme_example_needs_only_onnxruntime_numpy_and_pil(full_bundle_master, tmp_path):
    code = block("deploying/embedding.md", "# e2e.py")
    assert len([line for line in code.splitlines() if line.strip() and not line.startswith("#")]) <= 10
    shutil.copy(full_bundle_master / "model.e2e.onnx", tmp_path)
    shutil.copy(full_bundle_master / "manifest.json", tmp_path)
    shutil.copy(SAMPLES / "photo-sneaker-9.jpg", tmp_path / "photo.jpg")
    (tmp_path / "e2e.py").write_text(code)
    check = (
        "import runpy, sys; runpy.run_path('e2e.py'); "
        "assert not {'torch', 'toolkit'} & set(sys.modules), 'only onnxruntime, numpy and PIL'"
    )
    result = subprocess.run([sys.executable, "-c", check, "photo.jpg"], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    labels = json.loads((full_bundle_master / "manifest.json").read_text())["labels"]
    assert result.stdout.split(" (")[0].strip() in labels
