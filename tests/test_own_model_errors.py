"""What goes wrong with your own model, and what you see: one line naming the culprit, a non-zero exit,
nothing half-written; formats that cannot be exported are named, and the others still are."""

import json
import subprocess
import sys

import pytest
import torch

from toolkit.runtime import bundle

from conftest import REPO

TUTORIAL_FILE = REPO / "examples" / "tutorial_model.py"
TUTORIAL_MODEL = f"{TUTORIAL_FILE}:NeuralNetwork"
FASHION = ("--labels", "fashion-mnist")

# forward branches on the data (torch.export cannot trace it; TorchScript can), and a model TorchScript
# cannot compile (*args) using an op ONNX lacks (the modified Bessel function I1)
AWKWARD = """
import torch
from torch import nn


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        if x.sum() > 0:
            return self.fc(x)
        return self.fc(-x)


class Bessel(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x, *rest):
        return self.fc(torch.special.i1(x))
"""


def one_line(result, code: int, *fragments) -> str:
    assert result.exit_code == code, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("tk: error: ") and "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in line, line
    return line


@pytest.fixture
def tutorial_state(tmp_path):
    torch.manual_seed(0)
    import importlib.util

    spec = importlib.util.spec_from_file_location("tutorial_for_errors", TUTORIAL_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.NeuralNetwork().state_dict()


def test_missing_file_symbol_and_raising_import(cli, tmp_path):
    (tmp_path / "broken.py").write_text("raise ValueError('no GPU here')\n")
    out = tmp_path / "never"
    one_line(cli("export", f"{tmp_path}/absent.py:Net", *FASHION, "--out", out), 2, "absent.py: no such file")
    one_line(cli("export", f"{TUTORIAL_FILE}:Nope", *FASHION, "--out", out), 2, "has no 'Nope'", "NeuralNetwork")
    one_line(cli("export", f"{tmp_path}/broken.py:Net", "--out", out), 2, "broken.py", "ValueError: no GPU here")
    one_line(cli("export", "no_such_package.models:net", "--out", out), 2, "no_such_package.models", "ModuleNotFound")
    one_line(cli("export", TUTORIAL_MODEL, "--args", "[1]", "--out", out), 2, "--args", "JSON object")
    one_line(cli("export", "fashion-mlp", *FASHION), 2, "--labels describes your own model")
    one_line(cli("export", TUTORIAL_MODEL, *FASHION, "--name", "fashion-mlp"), 2, "registered model's name")
    assert not out.exists()


def test_weights_that_do_not_fit_are_listed(cli, tmp_path, tutorial_state):
    state = dict(tutorial_state)
    state["linear_relu_stack.4.weight"] = torch.zeros(7, 512)  # a 7-class head
    state["extra.bias"] = torch.zeros(3)
    del state["linear_relu_stack.0.bias"]
    torch.save(state, tmp_path / "w.pth")
    line = one_line(
        cli("export", TUTORIAL_MODEL, "--weights", tmp_path / "w.pth", *FASHION, "--out", tmp_path / "b"),
        1,
        "w.pth: weights do not fit NeuralNetwork",
        "1 missing: linear_relu_stack.0.bias",
        "1 unexpected: extra.bias",
        "1 shape mismatch: linear_relu_stack.4.weight (file [7, 512], model [10, 512])",
    )
    assert len(line) < 400 and not (tmp_path / "b").exists()


@pytest.mark.parametrize("prefix", ["module.", "_orig_mod.", "module._orig_mod."])
def test_wrapper_prefixes_are_stripped_with_a_note(cli, tmp_path, tutorial_state, prefix):
    torch.save({prefix + k: v for k, v in tutorial_state.items()}, tmp_path / "w.pth")
    result = cli(
        "export", TUTORIAL_MODEL, "--weights", tmp_path / "w.pth", *FASHION, "--out", tmp_path / "b", "-f", "onnx"
    )
    assert result.exit_code == 0, result.output
    assert f"stripped the {prefix!r} prefix" in result.stdout


def test_a_whole_pickled_model_needs_trust_pickle(cli, tmp_path):
    # torch.save(model) in a notebook or script pickles the class as __main__.NeuralNetwork
    script = f"import torch\nexec(open({str(TUTORIAL_FILE)!r}).read())\ntorch.save(NeuralNetwork(), 'model.pth')\n"
    subprocess.run([sys.executable, "-c", script], cwd=tmp_path, check=True)
    out = tmp_path / "b"
    refused = cli("export", TUTORIAL_MODEL, "--weights", tmp_path / "model.pth", *FASHION, "--out", out, "-f", "onnx")
    one_line(refused, 1, "model.pth: a whole pickled model", "model.state_dict()", "--trust-pickle")
    assert not out.exists()
    trusted = cli(
        "export",
        TUTORIAL_MODEL,
        "--weights",
        tmp_path / "model.pth",
        *FASHION,
        "--out",
        out,
        "--trust-pickle",
        "-f",
        "onnx",
    )
    assert trusted.exit_code == 0, trusted.output


def test_a_wrong_input_shape_names_the_shape(cli, tmp_path, tutorial_state):
    torch.save(tutorial_state, tmp_path / "w.pth")
    weights = ["--weights", tmp_path / "w.pth"]
    result = cli("export", TUTORIAL_MODEL, *weights, *FASHION, "--input-shape", "3,32,32", "--out", tmp_path / "b")
    one_line(result, 1, "forward on an input of shape [2, 3, 32, 32] raised RuntimeError", "--input-shape")
    two_labels = [*weights, "--labels", "a,b", "--input-shape", "1,28,28", "--out", tmp_path / "b"]
    one_line(cli("export", TUTORIAL_MODEL, *two_labels), 1, "forward gives [2, 10]", "2 labels need [2, 2]")
    one_line(cli("export", TUTORIAL_MODEL, *FASHION, "--input-shape", "1,28,27", "--out", tmp_path / "b"), 2, "square")
    assert not (tmp_path / "b").exists()


def test_formats_that_cannot_export_are_named_and_the_others_written(cli, tmp_path):
    (tmp_path / "awkward.py").write_text(AWKWARD)
    out = tmp_path / "branchy"
    result = cli("export", f"{tmp_path}/awkward.py:Branchy", "--input-shape", "4", "--labels", "a,b,c", "--out", out)
    line = one_line(result, 3, "branchy: not exported: exported-program", "data-dependent", "onnx (")
    assert "(opset 20)" in line
    manifest = bundle.read_manifest(out)
    derived = {"aoti", "litert", "coreml", "openvino"}  # from the ExportedProgram or model.onnx: refused with them
    assert set(manifest.failed_formats) == {"exported-program", "onnx", "executorch", *derived}
    assert set(manifest.formats) == {"state-dict", "safetensors", "torchscript"}
    verified = cli("verify", "--bundle", out, "--json")
    report = json.loads(verified.output)
    assert verified.exit_code == 0 and report["reference"] == "eager"
    assert {r["artifact"]: r["status"] for r in report["rows"] if r["runtime"] == "-"}["model.onnx"].startswith(
        "not exported: GuardOnDataDependentSymNode"
    )
    one_line(cli("infer", "--model", out, "--values", "1,2,3,4"), 1, "no onnx artifact: its export failed")


def test_an_op_onnx_lacks_and_python_torchscript_cannot_compile(cli, tmp_path):
    (tmp_path / "awkward.py").write_text(AWKWARD)
    out = tmp_path / "bessel"
    result = cli("export", f"{tmp_path}/awkward.py:Bessel", "--input-shape", "4", "--labels", "a,b,c", "--out", out)
    one_line(result, 3, "torchscript (NotSupportedError", "onnx (DispatchError: No ONNX function found", "bessel_i1")
    manifest = bundle.read_manifest(out)
    assert set(manifest.formats) == {"state-dict", "safetensors", "exported-program", "aoti"}
    assert "(opset 20)" in manifest.failed_formats["onnx"]


def test_a_failed_format_is_not_carried_over_from_an_earlier_export(cli, tmp_path):
    model = tmp_path / "net.py"
    model.write_text(
        "from torch import nn\n\nclass Net(nn.Linear):\n    def __init__(self):\n        super().__init__(4, 3)\n"
    )
    out = tmp_path / "net"
    assert cli("export", f"{model}:Net", "--input-shape", "4", "--labels", "a,b,c", "--out", out).exit_code == 0
    model.write_text(model.read_text() + "\n    def forward(self, x, *rest):\n        return super().forward(x)\n")
    result = cli("export", f"{model}:Net", "--input-shape", "4", "--labels", "a,b,c", "--out", out, "-f", "torchscript")
    one_line(result, 3, "torchscript (NotSupportedError")
    assert "model.ts" not in bundle.read_manifest(out).files and not (out / "model.ts").exists()
