"""Deployment formats: ExportedProgram, AOTInductor, fp16/int8, opset/--min-ort, and export lint."""

import json

import onnx
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from toolkit.errors import ExportLintError, VerificationError
from toolkit.export import export, export_module
from toolkit.models import get_spec
from toolkit.runtime import onnx_compat
from toolkit.verify import verify

from conftest import quiet


def test_every_format_is_written_and_the_whole_matrix_passes(full_bundle_master):
    manifest = json.loads((full_bundle_master / "manifest.json").read_text())
    assert set(manifest["formats"]) == {
        "state-dict",
        "safetensors",
        "torchscript",
        "exported-program",
        "aoti",
        "onnx",
        "onnx-fp16",
        "onnx-int8",
        "onnx-e2e",
        "executorch",
        "openvino",
        "coreml",
        "litert",
    }
    report = verify("fashion-mlp", bundle_dir=full_bundle_master, log=quiet)  # torch.compile included
    rows = {(r["artifact"], r["runtime"]): r for r in report["rows"]}
    for key in [
        ("model.safetensors", "eager"),
        ("model.safetensors", "torch.compile"),
        ("state_dict.pth", "eager"),
        ("model.ts", "torchscript"),
        ("model.pt2", "exported-program"),
        ("model.aoti.pt2", "aoti-cpu"),
        ("model.onnx", "onnxruntime-cpu"),
        ("model.pte", "executorch"),
        ("model.xml", "openvino-cpu"),
        ("model.tflite", "litert"),
    ]:
        assert rows[key]["passed"] and rows[key]["rule"] == "exact", key
    for name in ("model.fp16.onnx", "model.int8.onnx"):
        row = rows[(name, "onnxruntime-cpu")]
        assert row["rule"] == "task" and row["passed"] and row["size_ratio"] < (0.55 if "fp16" in name else 0.3)
        assert abs(row["accuracy"] - rows[("model.safetensors", "eager")]["accuracy"]) <= 0.005
    e2e = rows[("model.e2e.onnx", "onnxruntime-cpu")]
    assert e2e["rule"] == "e2e" and e2e["passed"] and e2e["argmax_agreement"] >= 0.99
    assert set(e2e["agreement_by_input"]) == {"28x28 gray", "56x56 gray", "90x70 RGB photo"}
    if not torch.cuda.is_available():
        assert rows[("model.onnx", "onnxruntime-cuda")] == {
            "artifact": "model.onnx",
            "runtime": "onnxruntime-cuda",
            "passed": None,
            "status": "not run: no CUDA GPU",
        }
    assert report["passed"] and report["onnx_compatibility"]["passed"]


def test_exported_program_and_aoti_load_with_torch_apis(full_bundle_master):
    x = torch.rand(5, 1, 28, 28)
    program = torch.export.load(str(full_bundle_master / "model.pt2")).module()
    runner = torch._inductor.aoti_load_package(str(full_bundle_master / "model.aoti.pt2"))
    net = get_spec("fashion-mlp").build()
    net.load_state_dict(torch.load(full_bundle_master / "state_dict.pth", weights_only=True))
    expected = net.eval()(x)
    assert torch.allclose(program(x), expected, atol=1e-5) and torch.allclose(runner(x), expected, atol=1e-5)
    assert runner(torch.rand(1, 1, 28, 28)).shape == (1, 10) and program(torch.rand(300, 1, 28, 28)).shape == (300, 10)


def test_reduced_precision_formats(cli, quick_run, tmp_path):
    result = cli(
        "export", "-f", "onnx-fp16", "-f", "onnx-int8", "--checkpoint", quick_run / "checkpoint.pt", "--out", tmp_path
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert set(manifest["formats"]) == {"state-dict", "safetensors", "onnx", "onnx-fp16", "onnx-int8"}
    fp16 = onnx.load(tmp_path / "model.fp16.onnx")
    assert fp16.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT  # float32 in and out
    assert any(i.data_type == onnx.TensorProto.FLOAT16 for i in fp16.graph.initializer)


def test_reduced_precision_needs_a_fashion_classifier(cli, tmp_path):
    result = cli("export", "linear-regression", "-f", "onnx-int8", "--out", tmp_path)
    assert result.exit_code == 2 and "does not apply to linear-regression" in result.stderr


@pytest.mark.parametrize("min_ort, opset, ir", [("1.17", 20, 9), ("1.14", 18, 8), ("1.31", 21, 10)])
def test_min_ort_picks_opset_and_ir(quick_run, tmp_path, min_ort, opset, ir):
    manifest = export(
        "fashion-mlp",
        formats=["onnx"],
        out_dir=tmp_path,
        checkpoint_file=quick_run / "checkpoint.pt",
        min_ort=min_ort,
        log=quiet,
    )
    model = onnx.load(tmp_path / "model.onnx")
    assert (model.opset_import[0].version, model.ir_version) == (opset, ir)
    assert manifest.onnx == {
        "opset": opset,
        "ir_version": ir,
        "min_onnxruntime": onnx_compat.oldest_runtime_for(opset, ir),
    }
    assert onnx_compat.parse_version(manifest.onnx["min_onnxruntime"]) <= onnx_compat.parse_version(min_ort)
    report = verify("fashion-mlp", bundle_dir=tmp_path, skip=("torch.compile",), log=quiet)
    assert report["passed"] and report["onnx_compatibility"]["opset"] == opset


@pytest.mark.parametrize(
    "args, message",
    [
        (["--min-ort", "1.12"], "first to load"),
        (["--opset", "17"], "opset 18 at the lowest"),
        (["--min-ort", "1.17", "--opset", "21"], "newer than ONNX Runtime 1.17 loads"),
        (["--min-ort", "one"], "expected a version"),
    ],
)
def test_bad_compatibility_options(cli, quick_run, tmp_path, args, message):
    result = cli("export", "-f", "onnx", "--checkpoint", quick_run / "checkpoint.pt", "--out", tmp_path, *args)
    assert result.exit_code == 2 and message in result.stderr


def test_verify_catches_a_manifest_that_lies_about_the_opset(quick_bundle):
    from toolkit.runtime import bundle

    manifest = bundle.read_manifest(quick_bundle)
    manifest.onnx["opset"] = 18
    bundle.write_manifest(quick_bundle, manifest)
    with pytest.raises(VerificationError, match="ONNX compatibility .*manifest says opset 18"):
        verify("fashion-mlp", bundle_dir=quick_bundle, skip=("torch.compile",), log=quiet)


# Export lint: one test per refusal, and the train-mode fix.


def lint_export(module, tmp_path, formats=("onnx",)):
    messages = []
    export_module(
        module, "fashion-mlp", tmp_path, ["state-dict", *formats], {"source": "test", "path": "-"}, log=messages.append
    )
    return messages


def test_lint_train_mode_is_fixed_and_said(tmp_path):
    net = get_spec("fashion-mlp").build().train()
    messages = lint_export(net, tmp_path)
    assert any("was in train mode; exporting it in eval mode" in m for m in messages) and net.training


def test_lint_batchnorm_without_running_statistics(tmp_path):
    net = get_spec("fashion-mlp-bn").build()
    net.layers[1] = nn.BatchNorm1d(512, track_running_stats=False)
    with pytest.raises(ExportLintError, match=r"layers\.1 \(BatchNorm1d\) has no running statistics"):
        export_module(
            net, "fashion-mlp-bn", tmp_path, ["state-dict", "onnx"], {"source": "test", "path": "-"}, log=quiet
        )
    assert not (tmp_path / "model.onnx").exists()


class ActiveDropout(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = get_spec("fashion-mlp").build()

    def forward(self, x):
        return F.dropout(self.net(x), 0.5, training=True)  # ignores eval mode


class FixedBatch(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = get_spec("fashion-mlp").build()

    def forward(self, x):
        return self.net.linear_relu_stack(x.reshape(1, 784))  # a hard-coded batch of 1


def test_lint_dropout_left_active(tmp_path):
    with pytest.raises(ExportLintError, match="still holds Dropout"):
        lint_export(ActiveDropout(), tmp_path)


@pytest.mark.parametrize("formats", [("onnx",), ("exported-program",)])
def test_lint_fixed_batch_dim(tmp_path, formats):
    with pytest.raises(ExportLintError, match="batch dim .*came out fixed"):
        lint_export(FixedBatch(), tmp_path, formats)
