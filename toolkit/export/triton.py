"""Triton Inference Server model repository for an exported ONNX model: REPO/NAME/config.pbtxt,
REPO/NAME/1/model.onnx and REPO/NAME/labels.txt.

The config is written from the ONNX graph itself (names, data types, dims without the batch dim), so
it cannot drift from the model: platform onnxruntime_onnx, the batch as Triton's leading dynamic dim
(max_batch_size), and dynamic batching. Triton is the serving engine; tk makes the repository right.
"""

from pathlib import Path

import onnx
import torch

from toolkit.atomic import write_bytes, write_text
from toolkit.errors import ExportLintError, UsageError
from toolkit.export import lint
from toolkit.export.formats import build_artifacts
from toolkit.export.weights import load_model
from toolkit.runtime.bundle import default_bundle_dir
from toolkit.runtime.bundle import service_name as repository_name

ONNX_TO_TRITON = {
    onnx.TensorProto.FLOAT: "TYPE_FP32",
    onnx.TensorProto.FLOAT16: "TYPE_FP16",
    onnx.TensorProto.DOUBLE: "TYPE_FP64",
    onnx.TensorProto.UINT8: "TYPE_UINT8",
    onnx.TensorProto.INT8: "TYPE_INT8",
    onnx.TensorProto.INT32: "TYPE_INT32",
    onnx.TensorProto.INT64: "TYPE_INT64",
    onnx.TensorProto.BOOL: "TYPE_BOOL",
}
MAX_QUEUE_DELAY_US = 100  # how long Triton may hold a request to batch it with others


def max_batch_size(sample_values: int) -> int:
    return 512 if sample_values <= 10_000 else 32  # 224x224 photos: keep a full batch within GPU memory


def _tensor_config(value: onnx.ValueInfoProto, label_file: str | None = None) -> str:
    tensor = value.type.tensor_type
    dims = tensor.shape.dim
    if not dims or not dims[0].dim_param:
        raise ExportLintError(f"{value.name!r} has no dynamic batch dim: Triton's batching needs one")
    if any(d.dim_param for d in dims[1:]):
        raise ExportLintError(f"{value.name!r} has dynamic dims beyond the batch; give them fixed sizes for Triton")
    lines = [
        f'    name: "{value.name}"',
        f"    data_type: {ONNX_TO_TRITON[tensor.elem_type]}",
        f"    dims: [ {', '.join(str(d.dim_value) for d in dims[1:])} ]",
    ]
    if label_file:
        lines.append(f'    label_filename: "{label_file}"')
    return "  {\n" + "\n".join(lines) + "\n  }"


def config_text(name: str, model: onnx.ModelProto, labels: list) -> str:
    inputs = [_tensor_config(v) for v in model.graph.input]
    label_file = "labels.txt" if labels else None
    outputs = [_tensor_config(v, label_file) for v in model.graph.output]
    sample_values = 1
    for dim in model.graph.input[0].type.tensor_type.shape.dim[1:]:
        sample_values *= dim.dim_value
    separator = ",\n"
    return (
        f'name: "{name}"\nplatform: "onnxruntime_onnx"\nmax_batch_size: {max_batch_size(sample_values)}\n'
        f"input [\n{separator.join(inputs)}\n]\noutput [\n{separator.join(outputs)}\n]\n"
        f"dynamic_batching {{\n  max_queue_delay_microseconds: {MAX_QUEUE_DELAY_US}\n}}\n"
    )


def write_repository(repo_dir, model: str, onnx_bytes: bytes, labels: list) -> Path:
    """Write (atomically, file by file, config last) the model's folder in a Triton repository."""
    name = repository_name(model)
    folder = Path(repo_dir) / name
    write_bytes(folder / "1" / "model.onnx", onnx_bytes)
    if labels:
        write_text(folder / "labels.txt", "\n".join(labels) + "\n")
    write_text(folder / "config.pbtxt", config_text(name, onnx.load_from_string(onnx_bytes), labels))
    return folder


def export_triton(spec, repo_dir, checkpoint_file, runs_dir, options, log=print) -> dict:
    """--format triton: the model's ONNX graph as a Triton model repository entry, nothing else."""
    if repo_dir is None:
        raise UsageError("--format triton needs --out REPO, the model repository folder")
    # exported/<model>'s state_dict is a fallback source of weights
    net, weights, _ = load_model(spec, checkpoint_file, default_bundle_dir(spec.name), runs_dir, log)
    lint.check_module(net)
    with torch.no_grad():
        onnx_bytes = build_artifacts(net, spec, ["onnx"], options)["model.onnx"][0]
    folder = write_repository(repo_dir, spec.name, onnx_bytes, list(spec.labels))
    log(
        f"{spec.name}: Triton model repository entry -> {folder} (config.pbtxt, 1/model.onnx"
        f"{', labels.txt' if spec.labels else ''}; weights from {weights['source']})"
    )
    return {"repository": str(Path(repo_dir)), "model": repository_name(spec.name)}
