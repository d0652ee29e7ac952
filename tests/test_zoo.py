"""Every registered model through the same pipeline: train, export all formats, verify, infer.

Parametrized over the registry, so a new model gets these checks by adding its registry entry.
"""

import json

import numpy as np
import onnxruntime as ort
import pytest
import torch

from toolkit.data.tables import TABLES
from toolkit.export import export, export_module
from toolkit.models import get_spec, model_names
from toolkit.train import train
from toolkit.verify import verify

from conftest import FAST, SAMPLES, quiet

TRAINABLE = [name for name in model_names() if get_spec(name).trainable]
QUICK = {"epochs": 1, "limit": 2000}  # image models: a smoke run; the tables train fully in a second


def quick_options(name: str) -> dict:
    return QUICK if get_spec(name).dataset == "fashion-mnist" else {}


@pytest.mark.parametrize("name", TRAINABLE)
def test_pipeline(name, cli, tmp_path):
    spec = get_spec(name)
    train(name, run_dir=tmp_path / "run", device="cpu", log=quiet, **quick_options(name))
    bundle = tmp_path / "bundle"
    formats = ["state-dict", "torchscript", "exported-program", "onnx"]  # aoti: its own test (a ~20 s compile)
    manifest = export(name, formats=formats, out_dir=bundle, checkpoint_file=tmp_path / "run/checkpoint.pt", log=quiet)
    assert set(manifest.formats) == {*formats, "safetensors"}  # the weights always travel in both files
    assert manifest.input.kind == spec.input.kind and manifest.output.kind == spec.output
    assert verify(name, bundle_dir=bundle, log=quiet, skip=FAST)["passed"]

    if spec.input.kind == "image":
        result = cli("infer", SAMPLES / "bag-18.png", "--model", bundle, "--json")
    elif spec.input.kind == "text":
        result = cli("infer", "--model", bundle, "--text", "A gorgeous, moving film.", "--json")
    else:
        first_row = ",".join(f"{v:g}" for v in TABLES[spec.dataset]["x"][0])
        result = cli("infer", "--model", bundle, "--values", first_row, "--json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    if spec.task == "regression":
        assert len(answer["value"]) == 1
    else:
        assert answer["label"] in spec.labels and 0.0 <= answer["probability"] <= 1.0


@pytest.mark.parametrize(
    "name, check",
    [
        ("linear-regression", lambda net: abs(net(torch.tensor([[4.0]])).item() - 8.0) <= 0.1),
        ("multivariate-regression", None),
        ("logistic-regression", None),
        ("softmax-classifier", None),
        ("fashion-linear", None),
        ("fashion-mlp-small", None),
    ],
)
def test_default_recipe_reaches_target(name, check, tmp_path):
    """The real default recipe on the real data (these train in seconds on 2 CPU cores)."""
    spec = get_spec(name)
    metrics = train(name, run_dir=tmp_path, device="cpu", log=quiet)
    if spec.task == "regression":
        assert metrics["test_mae"] <= spec.reference_mae
    else:
        assert metrics["test_accuracy"] >= spec.reference_accuracy
    if check is not None:
        net = spec.build()
        net.load_state_dict(torch.load(tmp_path / "checkpoint.pt", weights_only=True)["model"])
        assert check(net.eval())


@pytest.mark.slow
def test_fashion_mlp_bn_reaches_target(tmp_path):
    metrics = train("fashion-mlp-bn", run_dir=tmp_path, device="cpu", log=quiet)
    assert metrics["test_accuracy"] >= 0.89


def test_fashion_cnn_learns_on_a_subset(tmp_path):
    """CI cannot afford the full run (~8 minutes on 2 cores): a subset shows it learns."""
    metrics = train("fashion-cnn", run_dir=tmp_path, device="cpu", epochs=2, limit=6000, batch_size=64, log=quiet)
    assert metrics["test_accuracy"] >= 0.80


def test_batchnorm_and_dropout_are_exported_in_eval_mode(tmp_path, fashion):
    torch.manual_seed(0)
    net = get_spec("fashion-mlp-bn").build()
    with torch.no_grad():  # give BatchNorm running statistics unlike its defaults
        net.train()
        for start in range(0, 4096, 512):
            net(fashion.train_images[start : start + 512].unsqueeze(1).float() / 255)
    x = fashion.test_images[:64].unsqueeze(1).float() / 255
    torch.manual_seed(1)
    train_mode_out = net(x).detach()
    net.eval()
    eval_mode_out = net(x).detach()
    net.train()  # handed to export in train mode
    export_module(net, "fashion-mlp-bn", tmp_path, ["state-dict", "onnx"], {"source": "test", "path": "-"}, log=quiet)
    assert net.training  # its mode is restored
    session = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    onnx_out = session.run(None, {"input": x.numpy()})[0]
    assert np.abs(onnx_out - eval_mode_out.numpy()).max() < 1e-4
    assert np.abs(train_mode_out.numpy() - eval_mode_out.numpy()).max() > 0.1  # train mode would differ
    state = torch.load(tmp_path / "state_dict.pth", weights_only=True)
    assert state["layers.1.running_var"].ne(1).any()  # running statistics travel with the weights


def test_fashion_mlp_small_exports_probabilities(tmp_path, fashion):
    train("fashion-mlp-small", run_dir=tmp_path / "run", epochs=1, limit=2000, device="cpu", log=quiet)
    manifest = export(
        "fashion-mlp-small",
        formats=["onnx"],
        out_dir=tmp_path / "b",
        checkpoint_file=tmp_path / "run/checkpoint.pt",
        log=quiet,
    )
    assert manifest.output.kind == "probabilities"
    state = torch.load(tmp_path / "b/state_dict.pth", weights_only=True)
    assert sorted(state) == ["module.0.bias", "module.0.weight", "module.2.bias", "module.2.weight"]
    session = ort.InferenceSession(str(tmp_path / "b/model.onnx"), providers=["CPUExecutionProvider"])
    out = session.run(None, {"input": (fashion.test_images[:16].unsqueeze(1).float() / 255).numpy()})[0]
    assert np.allclose(out.sum(1), 1.0, atol=1e-5) and (out >= 0).all()


def test_models_json_lists_the_zoo(cli):
    rows = {row["name"]: row for row in json.loads(cli("models", "--json").stdout)}
    assert set(rows) == set(model_names())
    assert rows["multivariate-regression"]["input_shape"] == [3] and rows["vgg16"]["input_shape"] == [3, 224, 224]
    assert rows["vgg16"]["trained_by_tk"] is False
    for row in rows.values():
        assert {"name", "task", "input_shape", "dataset"} <= set(row)
