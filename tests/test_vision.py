"""torchvision architectures: export from --weights or seeded random weights (flagged), verify, infer."""

import json

import pytest
import torch

from toolkit.errors import UsageError
from toolkit.export import export
from toolkit.models import get_spec
from toolkit.verify import verify

from conftest import CLASSIC_FORMATS, FAST, SAMPLES, quiet

ARCH = "torchvision/squeezenet1_1"  # small enough for CI; vgg16 itself: scripts/export_vgg16.sh


def test_untrained_export_says_so_loudly(cli, tmp_path):
    result = cli("export", ARCH, "--format", "onnx", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    assert "UNTRAINED" in result.stdout
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["trained"] is False and "UNTRAINED" in manifest["warning"]
    assert manifest["weights"]["source"] == "random-init"
    assert manifest["input"]["shape"] == ["batch", 3, 224, 224] and len(manifest["labels"]) == 1000
    assert manifest["preprocessing"]["mean"] == [0.485, 0.456, 0.406]
    infer = cli("infer", SAMPLES / "photo-sneaker-9.jpg", "--model", tmp_path)
    assert infer.exit_code == 0 and "UNTRAINED" in infer.stderr


def test_weights_file_export_verify_infer(cli, tmp_path):
    torch.manual_seed(1)
    torch.save(get_spec(ARCH).build().state_dict(), tmp_path / "weights.pth")
    manifest = export(
        ARCH, formats=CLASSIC_FORMATS, out_dir=tmp_path / "bundle", checkpoint_file=tmp_path / "weights.pth", log=quiet
    )
    assert manifest.trained is True and manifest.weights["source"] == "checkpoint"
    report = verify(ARCH, bundle_dir=tmp_path / "bundle", log=quiet, skip=FAST)
    assert report["passed"] and report["atol"] == 1e-3
    result = cli("infer", SAMPLES / "photo-sneaker-9.jpg", "--model", tmp_path / "bundle", "--json", "--top-k", "5")
    answer = json.loads(result.stdout)
    assert len(answer["top"]) == 5 and answer["label"] in get_spec(ARCH).labels


def test_unknown_architecture(cli, tmp_path):
    result = cli("export", "torchvision/resnet9000", "--out", tmp_path)
    assert result.exit_code == 2 and "no classification architecture 'resnet9000'" in result.stderr


def test_vgg16_is_registered_as_the_tutorial_model():
    spec = get_spec("vgg16")
    assert not spec.trainable and spec.input.shape == (3, 224, 224)
    with pytest.raises(UsageError, match="vgg16 is not trained by tk"):
        from toolkit.train import train

        train("vgg16", log=quiet)
