"""The committed bundles in exported/: intact, verified, equal to their eager model, and accurate."""

import json
import warnings

import numpy as np
import onnxruntime as ort
import pytest
import torch

from toolkit.models import get_spec
from toolkit.runtime import Predictor, bundle
from toolkit.verify.inputs import verification_batches

from conftest import REFERENCE_BUNDLE, REPO, SAMPLES

COMMITTED = sorted(path.parent for path in (REPO / "exported").glob("*/manifest.json"))


def test_every_trained_tutorial_model_has_a_bundle():
    from toolkit.models import model_names

    trained = {name for name in model_names() if get_spec(name).trainable}
    assert trained <= {path.name for path in COMMITTED}


@pytest.mark.parametrize("bundle_dir", COMMITTED, ids=lambda p: p.name)
def test_bundle_is_intact_trained_and_verified(bundle_dir):
    manifest = bundle.read_manifest(bundle_dir)
    spec = get_spec(manifest.model)
    assert {"state-dict", "onnx"} <= set(manifest.formats) and "aoti" not in manifest.formats  # portable only
    for name, entry in manifest.files.items():
        assert bundle.file_entry(bundle_dir / name) == entry, name
    assert manifest.trained and manifest.training["recipe"] == "default"
    if spec.task == "regression":
        assert manifest.training["test_mae"] <= spec.reference_mae
    else:
        assert manifest.training["test_accuracy"] >= spec.reference_accuracy
    report = json.loads((bundle_dir / "verification.json").read_text())
    assert report["passed"] and manifest.verification["passed"]
    assert report["files"] == {name: entry["sha256"] for name, entry in manifest.files.items()}


@pytest.mark.parametrize("bundle_dir", COMMITTED, ids=lambda p: p.name)
def test_artifacts_equal_the_eager_model(bundle_dir):
    manifest = bundle.read_manifest(bundle_dir)
    spec = get_spec(manifest.model)
    net = spec.build()
    net.load_state_dict(torch.load(bundle_dir / "state_dict.pth", weights_only=True), strict=True)
    net.eval()
    batches = verification_batches(spec)  # real inputs, the same as verify's
    if spec.input.kind == "text":  # its real batches differ in width, but for the labelled ones of the split
        x = np.concatenate([b.x for b in batches if b.y is not None][:2])
    else:
        x = np.concatenate([b.x for b in batches[:40]])
    outputs = {}
    with torch.no_grad():
        eager = net(torch.from_numpy(x)).numpy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            if "torchscript" in manifest.formats:
                outputs["torchscript"] = torch.jit.load(str(bundle_dir / "model.ts"))(torch.from_numpy(x)).numpy()
            if "exported-program" in manifest.formats:
                program = torch.export.load(str(bundle_dir / "model.pt2")).module()
                outputs["exported-program"] = program(torch.from_numpy(x)).numpy()
    session = ort.InferenceSession(str(bundle_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    outputs["onnx"] = session.run(["logits"], {"input": x})[0]
    for name, out in outputs.items():
        assert np.abs(out - eager).max() <= spec.atol, name


def test_samples_are_classified_correctly():
    predictor = Predictor(REFERENCE_BUNDLE)
    samples = sorted(SAMPLES.iterdir())
    assert len(samples) >= 10
    for path, result in zip(samples, predictor.predict_files(samples), strict=True):
        expected = path.name.removeprefix("photo-").rsplit("-", 1)[0]
        assert result["label"].lower().replace("/", "-").replace(" ", "-") == expected, path.name
