"""tk export: formats, manifest, reproducibility, atomic writes, weight sources, eval mode."""

import json
import shutil

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from toolkit.errors import ExportLintError, UsageError
from toolkit.export import export, export_module, lint
from toolkit.models import get_spec
from toolkit.runtime import bundle
from toolkit.runtime.schema import SCHEMA_VERSION

from conftest import REPO, quiet


def test_bundle_contents_and_manifest(quick_bundle_master):
    files = sorted(p.name for p in quick_bundle_master.iterdir())
    assert files == ["manifest.json", "model.onnx", "model.safetensors", "model.ts", "state_dict.pth"]  # no .data file
    manifest = json.loads((quick_bundle_master / "manifest.json").read_text())
    assert manifest["schema_version"] == SCHEMA_VERSION
    assert manifest["model"] == "fashion-mlp" and manifest["task"] == "classification"
    assert manifest["input"] == {
        "name": "input",
        "kind": "image",
        "dtype": "float32",
        "shape": ["batch", 1, 28, 28],
        "range": [0.0, 1.0],
    }
    assert manifest["output"]["name"] == "logits" and manifest["output"]["shape"] == ["batch", 10]
    assert manifest["labels"][9] == "Ankle boot"
    assert manifest["preprocessing"]["size"] == 28 and manifest["preprocessing"]["background"] == "dark"
    for name, entry in manifest["files"].items():
        assert entry == bundle.file_entry(quick_bundle_master / name)
    assert manifest["onnx"] == {"opset": 20, "ir_version": 10, "min_onnxruntime": "1.18"}
    assert {"torch", "onnx", "onnxruntime"} <= set(manifest["versions"])
    assert manifest["weights"]["source"] == "checkpoint"
    assert manifest["training"]["epochs"] == 2 and manifest["training"]["test_accuracy"] > 0.5


def test_onnx_graph_contract(quick_bundle_master):
    model = onnx.load(quick_bundle_master / "model.onnx")
    onnx.checker.check_model(model, full_check=True)
    (graph_input,) = model.graph.input
    dims = [d.dim_param or d.dim_value for d in graph_input.type.tensor_type.shape.dim]
    assert graph_input.name == "input" and dims == ["batch", 1, 28, 28]
    assert graph_input.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert [o.name for o in model.graph.output] == ["logits"]
    assert all(not init.external_data for init in model.graph.initializer)  # weights inside
    session = ort.InferenceSession(str(quick_bundle_master / "model.onnx"), providers=["CPUExecutionProvider"])
    for batch in (1, 5, 300):  # the batch dim really is dynamic
        assert session.run(None, {"input": np.zeros((batch, 1, 28, 28), np.float32)})[0].shape == (batch, 10)


def test_state_dict_loads_into_a_fresh_model(quick_bundle_master):
    state = torch.load(quick_bundle_master / "state_dict.pth", weights_only=True)
    assert not any(key.startswith("_orig_mod") for key in state)
    get_spec("fashion-mlp").build().load_state_dict(state, strict=True)


def test_export_twice_is_byte_identical_across_processes(quick_run, tmp_path):
    """Two processes with different string-hash seeds: every portable artifact comes out the same."""
    import os
    import subprocess
    import sys

    formats = ["-f", "torchscript", "-f", "exported-program", "-f", "onnx", "-f", "onnx-fp16", "-f", "onnx-int8"]
    for seed in ("1", "2"):
        command = [
            sys.executable,
            "-m",
            "toolkit",
            "export",
            "--checkpoint",
            str(quick_run / "checkpoint.pt"),
            "--out",
            str(tmp_path / seed),
            *formats,
        ]
        result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": seed})
        assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in (tmp_path / "1").iterdir())
    assert names == [
        "manifest.json",
        "model.fp16.onnx",
        "model.int8.onnx",
        "model.onnx",
        "model.pt2",
        "model.safetensors",
        "model.ts",
        "state_dict.pth",
    ]
    for name in names:
        assert (tmp_path / "1" / name).read_bytes() == (tmp_path / "2" / name).read_bytes(), name


def test_artifacts_do_not_embed_source_paths(quick_bundle_master):
    checkout = str(REPO).encode()
    for name in ("model.ts", "model.onnx"):
        assert checkout not in (quick_bundle_master / name).read_bytes(), name


def test_failed_export_leaves_previous_bundle_whole(quick_bundle, quick_run, monkeypatch):
    before = {p.name: p.read_bytes() for p in quick_bundle.iterdir()}

    def broken(*_args, **_kwargs):  # a refusal after the weights and TorchScript are built
        raise ExportLintError("exporter refused")

    monkeypatch.setattr(lint, "check_onnx", broken)
    torch.manual_seed(1)
    other = get_spec("fashion-mlp").build()  # different weights: every file would change
    with pytest.raises(ExportLintError, match="exporter refused"):
        export_module(
            other,
            "fashion-mlp",
            quick_bundle,
            ["state-dict", "torchscript", "onnx"],
            {"source": "test", "path": "-"},
            None,
            log=quiet,
        )
    assert {p.name: p.read_bytes() for p in quick_bundle.iterdir()} == before  # no temp files either


def test_weights_fall_back_from_run_to_bundle(cli, in_tmp, quick_run, quick_bundle_master):
    shutil.copytree(quick_run, in_tmp / "runs" / "fashion-mlp")
    result = cli("export", "--format", "onnx")
    assert result.exit_code == 0, result.output
    assert "train mode" not in result.stdout  # a module tk builds itself is not "handed over in train mode"
    assert "TorchScript" not in result.stdout and "Warning" not in result.output
    manifest = json.loads((in_tmp / "exported/fashion-mlp/manifest.json").read_text())
    assert manifest["weights"]["source"] == "run" and manifest["formats"] == {
        "state-dict": "state_dict.pth",
        "safetensors": "model.safetensors",
        "onnx": "model.onnx",
    }
    shutil.rmtree(in_tmp / "runs")
    result = cli("export", "-f", "torchscript", "-f", "onnx")  # no run any more: the bundle's own weights
    assert result.exit_code == 0, result.output
    manifest = json.loads((in_tmp / "exported/fashion-mlp/manifest.json").read_text())
    assert manifest["weights"] == {"source": "bundle", "path": "exported/fashion-mlp/model.safetensors"}
    assert manifest["training"]["epochs"] == 2  # carried over: same weights, same training
    assert result.stdout.count("deprecates") == 1 and "Warning" not in result.output  # said once, not sprayed
    assert set(manifest["formats"]) == {"state-dict", "safetensors", "torchscript", "onnx"}


def test_no_weights_anywhere(cli, in_tmp):
    result = cli("export")
    assert result.exit_code == 1
    assert "no weights for 'fashion-mlp'" in result.stderr and "tk train fashion-mlp" in result.stderr


def test_bad_checkpoint_file(cli, in_tmp):
    (in_tmp / "junk.pt").write_bytes(b"not a checkpoint")
    result = cli("export", "--checkpoint", in_tmp / "junk.pt")
    assert result.exit_code == 1 and "junk.pt: cannot load" in result.stderr
    torch.save({"weight": torch.zeros(3)}, in_tmp / "other.pt")
    result = cli("export", "--checkpoint", in_tmp / "other.pt")
    assert result.exit_code == 1 and "weights do not fit NeuralNetwork: 6 missing" in result.stderr


def test_tutorial_style_state_dict_and_compiled_prefix(cli, in_tmp):
    net = get_spec("fashion-mlp").build()
    torch.save(net.state_dict(), in_tmp / "model.pth")  # the tutorial's own save call
    assert cli("export", "-f", "onnx", "--checkpoint", in_tmp / "model.pth").exit_code == 0
    prefixed = {f"_orig_mod.{k}": v for k, v in net.state_dict().items()}  # saved from a compiled wrapper
    torch.save(prefixed, in_tmp / "compiled.pth")
    result = cli("export", "-f", "onnx", "--checkpoint", in_tmp / "compiled.pth", "--out", in_tmp / "b2")
    assert result.exit_code == 0, result.output
    assert (in_tmp / "b2/state_dict.pth").read_bytes() == (in_tmp / "exported/fashion-mlp/state_dict.pth").read_bytes()


def test_module_in_train_mode_is_exported_in_eval_mode_and_restored(tmp_path):
    net = get_spec("fashion-mlp").build().train()
    compiled = torch.compile(net)  # never exported as the wrapper: its keys would carry _orig_mod.
    export_module(
        compiled, "fashion-mlp", tmp_path, ["state-dict", "onnx"], {"source": "test", "path": "-"}, None, log=quiet
    )
    assert net.training  # mode restored
    state = torch.load(tmp_path / "state_dict.pth", weights_only=True)
    assert set(state) == set(net.state_dict())


def test_unknown_format_is_a_usage_error(cli, in_tmp):
    with pytest.raises(
        UsageError,
        match="unknown format 'tflite'; choose from state-dict, .*, onnx-e2e, executorch, .*, litert, all or triton",
    ):
        export("fashion-mlp", formats=["tflite"], log=quiet)  # the library's own check, before any weights are read
    result = cli("export", "--format", "tflite")  # the CLI offers only the library's formats
    assert result.exit_code == 2 and "tflite" in result.stderr


def test_out_path_under_a_file_is_one_line(cli, quick_run, tmp_path):
    (tmp_path / "afile").write_text("")
    result = cli("export", "--checkpoint", quick_run / "checkpoint.pt", "--out", tmp_path / "afile" / "bundle")
    assert result.exit_code == 1
    assert result.stderr.strip() == f"tk: error: {tmp_path / 'afile' / 'bundle'}: Not a directory"


def test_export_hands_the_module_back_on_its_device(tmp_path):
    device = "cuda" if torch.cuda.is_available() else "cpu"
    net = get_spec("fashion-mlp").build().to(device).train()
    export_module(net, "fashion-mlp", tmp_path, ["state-dict"], {"source": "test", "path": "-"}, log=quiet)
    assert net.training and next(net.parameters()).device.type == device
