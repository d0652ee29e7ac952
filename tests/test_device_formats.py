"""The device formats: ExecuTorch (model.pte) and OpenVINO IR (model.xml + model.bin) through tk export and
tk verify for the zoo's image models and a user's own module, the ExecuTorch batch guard, the IR's weights
under the bundle's hashes, and the IR run in a venv without torch, answering as ONNX Runtime does."""

import importlib.metadata as metadata
import json
import re
import subprocess
import sys
import zipfile

import pytest
import torch
from torch import nn

import toolkit
from toolkit.export import device_formats, export
from toolkit.export.formats import applicable_formats
from toolkit.models import example_input, get_spec
from toolkit.runtime import bundle

from conftest import REPO, quiet, rehash
from page_blocks import block

DEVICE = ["-f", "executorch", "-f", "openvino", "-f", "litert", "-f", "coreml"]
ROWS = {"model.pte": "executorch", "model.xml": "openvino-cpu", "model.tflite": "litert"}
COREML_NOTE = "Core ML runs on macOS/iOS only; checked instead: input FLOAT32 [1..1024, 1, 28, 28] -> logits FLOAT32"


def device_rows(report: dict) -> dict:
    return {r["artifact"]: r for r in report["rows"] if r["artifact"] in ROWS}


@pytest.mark.parametrize("model", ["fashion-mlp", "fashion-cnn", "fashion-mlp-bn"])
def test_zoo_models_export_to_both_and_verify_within_the_default_tolerance(cli, tmp_path, model):
    out = tmp_path / model
    weights = REPO / "exported" / model / "model.safetensors"
    result = cli("export", model, "--weights", weights, "--out", out, *DEVICE)
    assert result.exit_code == 0, result.output
    result = cli("verify", model, "--bundle", out, "--skip", "torch.compile")
    assert result.exit_code == 0, result.output
    manifest = bundle.read_manifest(out)
    assert manifest.formats["executorch"] == "model.pte" and manifest.formats["openvino"] == "model.xml"
    for companion in ("model.bin", "model.b64.tflite"):  # listed, hashed, beside their format's file
        assert (out / companion).stat().st_size == manifest.files[companion]["bytes"]
    report = json.loads((out / bundle.VERIFICATION).read_text())
    rows = device_rows(report)
    assert {name: row["runtime"] for name, row in rows.items()} == ROWS
    for row in rows.values():
        assert row["passed"] and row["rule"] == "exact" and row["argmax_agreement"] == 1.0, row
    assert f"model.mlpackage.zip coreml            not run: {COREML_NOTE}" in result.output
    coreml = [r for r in report["rows"] if r["artifact"] == "model.mlpackage.zip"]
    assert coreml == [  # no parity claimed: no numbers, passed neither true nor false
        {"artifact": "model.mlpackage.zip", "passed": None, "runtime": "coreml", "status": f"not run: {COREML_NOTE}"}
    ]


class Tiny(nn.Module):
    """A user's own module, not in the zoo: 3x16x16 inputs, BatchNorm and a residual add."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.norm = nn.BatchNorm2d(8)
        self.head = nn.Linear(8 * 16 * 16, 4)

    def forward(self, x):
        y = self.norm(self.conv(x))
        return self.head(torch.flatten(torch.relu(y) + y, 1))


def test_a_users_own_module_verifies_in_both_runtimes(tmp_path):
    torch.manual_seed(0)
    report = toolkit.make_bundle(
        Tiny(), tmp_path / "tiny", input_shape=(3, 16, 16), labels=["a", "b", "c", "d"],
        formats=["onnx", "executorch", "openvino", "litert"], log=quiet,
    )  # fmt: skip
    assert report["passed"]
    assert {row["runtime"] for row in device_rows(report).values()} == set(ROWS.values())


def test_an_example_batch_under_16_would_cap_the_program_and_is_refused(monkeypatch):
    """Found by trying: exported with an example batch under 16, ExecuTorch fixes the CNN's largest batch at
    15; the guard runs the whole promised range before accepting a program."""
    spec = get_spec("fashion-cnn")
    model = spec.build().eval()
    monkeypatch.setattr(device_formats, "EXECUTORCH_EXAMPLE_BATCH", 2)
    with pytest.raises(RuntimeError, match="refuses a batch of 1024"):
        device_formats.executorch_bytes(model, lambda batch: example_input(spec, batch))


def test_a_changed_weights_file_is_refused(cli, tmp_path):
    out = tmp_path / "bundle"
    weights = REPO / "exported" / "fashion-mlp" / "model.safetensors"
    assert cli("export", "fashion-mlp", "--weights", weights, "--out", out, "-f", "openvino").exit_code == 0
    with open(out / "model.bin", "r+b") as data:
        data.write(b"\x7f\x7f\x7f\x7f")
    result = cli("verify", "fashion-mlp", "--bundle", out, "--skip", "torch.compile")
    assert result.exit_code == 1 and "model.bin: sha256 does not match the manifest" in result.output
    rehash(out, "model.bin")  # a hash made to fit: OpenVINO reads nonsense, and verify says so in one line
    result = cli("verify", "fashion-mlp", "--bundle", out, "--skip", "torch.compile")
    assert result.exit_code == 1 and result.output.startswith(f"tk: error: {out}/model.xml: "), result.output


def test_a_core_ml_package_that_disagrees_with_the_manifest_is_refused(cli, tmp_path):
    from coremltools.proto import Model_pb2

    out = tmp_path / "bundle"
    weights = REPO / "exported" / "fashion-mlp" / "model.safetensors"
    assert cli("export", "fashion-mlp", "--weights", weights, "--out", out, "-f", "coreml").exit_code == 0
    packed = out / "model.mlpackage.zip"
    with zipfile.ZipFile(packed) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    spec = Model_pb2.Model.FromString(entries[device_formats.COREML_SPEC])
    spec.description.input[0].name = "pixels"  # an app would feed the wrong name
    entries[device_formats.COREML_SPEC] = spec.SerializeToString()
    with zipfile.ZipFile(packed, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    rehash(out, "model.mlpackage.zip")
    result = cli("verify", "fashion-mlp", "--bundle", out, "--skip", "torch.compile")
    assert result.exit_code == 1
    assert result.output.startswith(f"tk: error: {packed}: its inputs [('pixels', 'FLOAT32'"), result.output


def test_a_text_model_cannot_take_litert_and_all_leaves_it_out(cli, tmp_path):
    weights = REPO / "exported" / "review-sentiment" / "model.safetensors"
    result = cli("export", "review-sentiment", "--weights", weights, "--out", tmp_path / "b", "-f", "litert")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "tk: error: --format litert does not apply to review-sentiment (LiteRT converts fixed shapes only, "
        "and a text model takes any number of words)"
    ]
    assert "litert" not in applicable_formats(get_spec("review-sentiment"))
    assert "litert" in applicable_formats(get_spec("fashion-cnn"))


def test_the_ir_and_the_tflite_files_run_without_torch_and_answer_as_onnx_runtime(tmp_path):
    out = tmp_path / "exported" / "fashion-mlp"  # where devices.md's examples find it
    weights = REPO / "exported" / "fashion-mlp" / "model.safetensors"
    export("fashion-mlp", formats=["openvino", "litert"], out_dir=out, checkpoint_file=weights, log=quiet)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    python = venv / "bin" / "python"
    runtimes = [f"{name}=={metadata.version(name)}" for name in ("openvino", "ai-edge-litert")]
    install = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", *runtimes, "onnxruntime", "numpy"], capture_output=True, text=True
    )
    assert install.returncode == 0, install.stderr[-2000:]
    for app in ("openvino_app.py", "litert_app.py"):  # what an app on an Intel edge machine, or with TFLite, runs
        answer = subprocess.run([python, REPO / "tests" / "data" / app, out], capture_output=True, text=True)
        assert answer.returncode == 0, answer.stderr
        assert answer.stdout.split()[-1] == "agree", (app, answer.stdout)
    for first in ("import numpy as np\nimport openvino", "import numpy as np\nfrom ai_edge_litert"):
        code = block("deploying/devices.md", first)  # devices.md's examples, as they are, in the same venv
        answer = subprocess.run(
            [python, "-c", f"{code}\nprint(tuple(logits.shape))"], cwd=tmp_path, capture_output=True, text=True
        )
        assert answer.returncode == 0, answer.stderr
        assert answer.stdout.strip() == re.search(r"# (\(1, 10\))$", code, re.M)[1], answer.stdout
