"""The committed exported/fashion-mlp bundle: intact, equal to its eager model, and accurate."""

import json
import warnings

import numpy as np
import onnxruntime as ort
import pytest
import torch

from conftest import REFERENCE_BUNDLE, SAMPLES
from toolkit import bundle
from toolkit.models import get_spec
from toolkit.runtime import Predictor


@pytest.fixture(scope="module")
def manifest():
    return bundle.read_manifest(REFERENCE_BUNDLE)


def test_hashes_match_manifest(manifest):
    assert set(manifest["formats"]) == {"state-dict", "torchscript", "onnx"}
    for name, entry in manifest["files"].items():
        assert bundle.file_entry(REFERENCE_BUNDLE / name) == entry, name


def test_artifacts_equal_the_eager_model(manifest, fashion):
    net = get_spec("fashion-mlp").build()
    net.load_state_dict(torch.load(REFERENCE_BUNDLE / "state_dict.pth", weights_only=True), strict=True)
    net.eval()
    x = fashion.test_images[:1000].unsqueeze(1).float() / 255
    with torch.no_grad():
        eager = net(x).numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        scripted = torch.jit.load(str(REFERENCE_BUNDLE / "model.ts"))
    with torch.no_grad():
        ts = scripted(x).numpy()
    session = ort.InferenceSession(str(REFERENCE_BUNDLE / "model.onnx"), providers=["CPUExecutionProvider"])
    onnx_out = session.run(["logits"], {"input": x.numpy()})[0]
    for name, out in (("torchscript", ts), ("onnx", onnx_out)):
        assert np.abs(out - eager).max() <= 1e-4, name
        assert (out.argmax(1) == eager.argmax(1)).all(), name
    accuracy = (eager.argmax(1) == fashion.test_labels[:1000].numpy()).mean()
    assert accuracy >= 0.88


def test_was_trained_and_verified(manifest):
    assert manifest["training"]["recipe"] == "default" and manifest["training"]["epochs"] == 10
    assert manifest["training"]["test_accuracy"] >= 0.89
    assert manifest["verification"]["passed"] is True
    # The report sits beside the manifest and checked these very files.
    report = json.loads((REFERENCE_BUNDLE / "verification.json").read_text())
    assert report["files"] == {name: entry["sha256"] for name, entry in manifest["files"].items()}


def test_samples_are_classified_correctly():
    predictor = Predictor(REFERENCE_BUNDLE)
    samples = sorted(SAMPLES.iterdir())
    assert len(samples) >= 10
    for path, result in zip(samples, predictor.predict_files(samples)):
        expected = path.name.removeprefix("photo-").rsplit("-", 1)[0]
        assert result["label"].lower().replace("/", "-").replace(" ", "-") == expected, path.name
