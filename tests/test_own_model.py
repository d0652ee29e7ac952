"""Your own model: the tutorial's NeuralNetwork trained by the tutorial's loop, a 3x32x32 CNN, rows of
any width, through train, export, verify and infer, from the command line and from Python."""

import gzip
import json
import os
import shutil
import subprocess
import sys

import pytest
import torch

import toolkit
from toolkit.data.fashion_mnist import FILES, find_data_dir
from toolkit.runtime import bundle

from conftest import REPO, SAMPLES, quiet

EXAMPLES = REPO / "examples"
TUTORIAL_MODEL = f"{EXAMPLES / 'tutorial_model.py'}:NeuralNetwork"
CNN = f"{EXAMPLES / 'cnn32.py'}:SmallCNN"
SNEAKER = SAMPLES / "sneaker-9.png"


@pytest.fixture(scope="module")
def tutorial_weights(tmp_path_factory):
    """model_weights.pth from the tutorial's own script (one epoch), and the accuracy it printed."""
    work = tmp_path_factory.mktemp("tutorial")
    raw = work / "data" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    source = find_data_dir(download=False)
    for name in FILES.values():  # torchvision's own layout, so its downloader finds the files present
        with gzip.open(source / name) as packed, open(raw / name.removesuffix(".gz"), "wb") as unpacked:
            shutil.copyfileobj(packed, unpacked)
    script = EXAMPLES / "tutorial_train.py"
    done = subprocess.run([sys.executable, script, "data", "1"], cwd=work, capture_output=True, text=True, check=True)
    accuracy = float(done.stdout.split("Accuracy: ")[-1].split("%")[0])
    return work / "model_weights.pth", accuracy


# The tutorial prints its accuracy to one decimal: the exact figure is within half a unit of it, bounds
# included, and a bound itself may come out a hair beyond (100 * 0.4845 is 48.449999999999996).
PRINTED = 0.05 + 1e-9


def eager_accuracy(report) -> float:
    return next(r["accuracy"] for r in report["rows"] if r["runtime"] == "eager")


def test_tutorial_model_becomes_a_verified_bundle_with_one_command(cli, tutorial_weights, tmp_path):
    weights, printed_accuracy = tutorial_weights
    out = tmp_path / "bundle"
    described = ["--weights", weights, "--labels", "fashion-mnist", "--out", out]
    result = cli("export", TUTORIAL_MODEL, *described, "-f", "onnx", "-f", "torchscript", "--verify")
    assert result.exit_code == 0, result.output
    report = json.loads((out / bundle.VERIFICATION).read_text())
    assert report["passed"] and report["reference"] == "eager"
    assert eager_accuracy(report) * 100 == pytest.approx(printed_accuracy, abs=PRINTED)  # the tutorial's own figure
    manifest = bundle.read_manifest(out)
    assert manifest.model == "neural-network" and manifest.labels[7] == "Sneaker"
    assert manifest.source["file"] == (EXAMPLES / "tutorial_model.py").as_posix()
    assert manifest.source["sha256"] == bundle.sha256_file(EXAMPLES / "tutorial_model.py")
    assert manifest.source["symbol"] == "NeuralNetwork" and manifest.input.shape == ("batch", 1, 28, 28)
    answer = cli("infer", "--model", out, SNEAKER, "--json")
    assert answer.exit_code == 0 and json.loads(answer.output)["label"] in manifest.labels


def test_make_bundle_from_a_live_module(tutorial_weights, tmp_path):
    sys.path.insert(0, str(EXAMPLES))
    try:
        from tutorial_model import NeuralNetwork
    finally:
        sys.path.remove(str(EXAMPLES))
    model = NeuralNetwork()
    model.load_state_dict(torch.load(tutorial_weights[0], weights_only=True))
    model.train()  # as the tutorial's loop leaves it
    report = toolkit.make_bundle(
        model, tmp_path / "api", input_shape=(1, 28, 28), labels="fashion-mnist", formats=["onnx"], log=quiet
    )
    assert report["passed"] and model.training  # exported in eval mode, handed back as it came
    assert eager_accuracy(report) * 100 == pytest.approx(tutorial_weights[1], abs=PRINTED)
    manifest = bundle.read_manifest(tmp_path / "api")
    assert manifest.source == {"kind": "python", "module": "tutorial_model", "symbol": "NeuralNetwork", "args": {}}
    assert {"onnx", "safetensors", "state-dict"} == set(manifest.formats)


class TiedWeights(torch.nn.Module):
    """Two layers sharing one weight, as language models tie their embedding and output layers."""

    def __init__(self):
        super().__init__()
        self.first, self.second, self.head = torch.nn.Linear(64, 64), torch.nn.Linear(64, 64), torch.nn.Linear(64, 3)
        self.second.weight = self.first.weight

    def forward(self, x):
        return self.head(torch.relu(self.second(torch.relu(self.first(x)))))


def test_tied_weights_export_and_verify(tmp_path):
    torch.manual_seed(0)
    report = toolkit.make_bundle(
        TiedWeights(), tmp_path / "tied", input_shape=(64,), labels="a,b,c", formats=["onnx"], log=quiet
    )
    assert report["passed"] and not report["failed_formats"]
    rows = {(r["artifact"], r["runtime"]): r for r in report["rows"]}
    assert rows[("model.safetensors", "eager")]["max_abs"] == 0


def test_verify_rebuilds_the_model_only_from_a_source_it_may_import(cli, tutorial_weights, tmp_path):
    out = tmp_path / "bundle"
    cli(
        "export",
        TUTORIAL_MODEL,
        "--weights",
        tutorial_weights[0],
        "--labels",
        "fashion-mnist",
        "--out",
        out,
        "-f",
        "onnx",
    )
    exported_here = cli("verify", "--bundle", out, "--skip", "torch.compile")
    assert exported_here.exit_code == 0 and "no eager model" not in exported_here.output
    os.environ["TK_TRUST_FILE"], kept = str(tmp_path / "another-machine.txt"), os.environ["TK_TRUST_FILE"]
    try:
        elsewhere = cli("verify", "--bundle", out, "--json")
        named_again = cli("verify", "--bundle", out, "--json", "--source", TUTORIAL_MODEL, "--skip", "torch.compile")
    finally:
        os.environ["TK_TRUST_FILE"] = kept
    report = json.loads(elsewhere.output)
    assert elsewhere.exit_code == 0 and report["reference"] == "model.onnx on onnxruntime-cpu"
    assert "not exported on this machine" in report["no_eager_model"]
    assert {r["status"] for r in report["rows"] if r["artifact"] == "model.safetensors"} == {
        f"not run: no eager model ({report['no_eager_model']})"
    }
    assert json.loads(named_again.output)["reference"] == "eager"


def test_a_3x32x32_cnn_from_a_file_trains_exports_verifies_and_answers(cli, tmp_path):
    run = tmp_path / "run"
    described = ["--dataset", "fashion-mnist", "--input-shape", "3,32,32"]
    trained = cli("train", CNN, *described, "--epochs", "1", "--limit", "10000", "--run-dir", run)
    assert trained.exit_code == 0, trained.output
    accuracy = json.loads((run / "metrics.json").read_text())["test_accuracy"]
    assert accuracy > 0.6  # one epoch on 10,000 resized images
    out = tmp_path / "bundle"
    formats = ["-f", "onnx", "-f", "exported-program"]
    exported = cli("export", CNN, *described, "--checkpoint", run / "checkpoint.pt", "--out", out, *formats, "--verify")
    assert exported.exit_code == 0, exported.output
    report = json.loads((out / bundle.VERIFICATION).read_text())
    assert eager_accuracy(report) == pytest.approx(accuracy)  # verify scores the same resized test split
    manifest = bundle.read_manifest(out)
    assert manifest.input.shape == ("batch", 3, 32, 32) and manifest.preprocessing.channels == 3
    answer = json.loads(cli("infer", "--model", out, SNEAKER, "--json").output)
    assert answer["label"] == "Sneaker"
    page = tmp_path / "report.html"
    assert cli("report", out, "--out", page, "--bench-dir", tmp_path).exit_code == 0
    html = page.read_text()  # its own architecture, its curves, and model.onnx scored on the resized split
    assert "cnn32.py" in html and 'alt="training curves"' in html and f"{accuracy:.2%}" in html


def test_rows_of_any_width(cli, tmp_path):
    (tmp_path / "rows.py").write_text(
        "from torch import nn\n\ndef make(width, classes):\n    return nn.Sequential(nn.Linear(width, classes))\n"
    )
    out = tmp_path / "bundle"
    described = ["--input-shape", "5", "--labels", "low,mid,high", "--features", "a,b,c,d,e"]
    arguments = ["--args", '{"width": 5, "classes": 3}']
    result = cli(
        "export", f"{tmp_path / 'rows.py'}:make", *arguments, *described, "--out", out, "-f", "onnx", "--verify"
    )
    assert result.exit_code == 0, result.output
    assert bundle.read_manifest(out).input.features == ("a", "b", "c", "d", "e")
    answer = json.loads(cli("infer", "--model", out, "--values", "1,2,3,4,5", "--json").stdout)  # stderr: UNTRAINED
    assert answer["label"] in ("low", "mid", "high") and answer["input"] == [1, 2, 3, 4, 5]
