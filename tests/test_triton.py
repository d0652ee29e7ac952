"""tk export --format triton: a Triton model repository whose config matches the ONNX graph.

The config is parsed with the ModelConfig protobuf from the tritonclient package, independently of
how tk writes it.
"""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

TRITON_TYPES = {onnx.TensorProto.FLOAT: model_config_pb2.TYPE_FP32}


def parse_config(path) -> model_config_pb2.ModelConfig:
    return text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())


@pytest.mark.parametrize("name, labels", [("fashion-mlp", 10), ("multivariate-regression", 0)])
def test_repository_matches_the_onnx_graph(cli, quick_run, tmp_path, name, labels):
    args = ["--checkpoint", quick_run / "checkpoint.pt"] if name == "fashion-mlp" else []
    result = cli("export", name, "--format", "triton", "--out", tmp_path / "repo", *args)
    assert result.exit_code == 0, result.output
    folder = tmp_path / "repo" / name
    config = parse_config(folder / "config.pbtxt")
    graph = onnx.load(folder / "1" / "model.onnx").graph
    assert config.name == name and config.platform == "onnxruntime_onnx"
    assert config.max_batch_size > 0 and config.HasField("dynamic_batching")
    for tensors, values in ((config.input, graph.input), (config.output, graph.output)):
        assert [t.name for t in tensors] == [v.name for v in values]
        for tensor, value in zip(tensors, values, strict=True):
            dims = value.type.tensor_type.shape.dim
            assert dims[0].dim_param  # the batch is the leading dynamic dim, left out of Triton's dims
            assert list(tensor.dims) == [d.dim_value for d in dims[1:]]
            assert tensor.data_type == TRITON_TYPES[value.type.tensor_type.elem_type]
    if labels:
        assert config.output[0].label_filename == "labels.txt"
        assert len((folder / "labels.txt").read_text().splitlines()) == labels
    else:
        assert not (folder / "labels.txt").exists()
    session = ort.InferenceSession(str(folder / "1" / "model.onnx"), providers=["CPUExecutionProvider"])
    batch = np.zeros((config.max_batch_size, *config.input[0].dims), np.float32)
    assert session.run(None, {config.input[0].name: batch})[0].shape[0] == config.max_batch_size


def test_triton_is_exported_on_its_own(cli, tmp_path):
    assert cli("export", "-f", "triton").exit_code == 2
    result = cli("export", "-f", "triton", "-f", "onnx", "--out", tmp_path)
    assert result.exit_code == 2 and "on its own" in result.stderr


def test_untrained_model_is_seeded_and_flagged(cli, tmp_path):
    """Without --weights, the same seeded random weights every time, and said so."""
    for repo in ("a", "b"):
        result = cli(
            "export",
            "linear-regression",
            "-f",
            "triton",
            "--out",
            tmp_path / repo,
            "--checkpoint",
            tmp_path / "none.pt",
        )
        assert result.exit_code == 1 and "none.pt: no such checkpoint file" in result.stderr
    arch = "torchvision/squeezenet1_1"
    outputs = [cli("export", arch, "-f", "triton", "--out", tmp_path / repo) for repo in ("c", "d")]
    assert all(r.exit_code == 0 and "UNTRAINED" in r.stdout for r in outputs)
    onnx_files = [
        (tmp_path / repo / "torchvision_squeezenet1_1" / "1" / "model.onnx").read_bytes() for repo in ("c", "d")
    ]
    assert onnx_files[0] == onnx_files[1]
