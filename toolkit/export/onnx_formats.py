"""The ONNX formats: model.onnx from torch's dynamo exporter, and its reduced-precision variants.

model.onnx has a dynamic batch dim named "batch", its weights inside, and no node metadata holding
this checkout's source paths, so re-exporting the same weights gives the same bytes. The fp16 (weights
and compute) and int8 (static QDQ) variants keep float32 inputs and outputs, so a bundle's input
contract does not change with precision; verify judges them on the task (accuracy within 0.5 points
of fp32 on the whole test split), not on atol.
"""

import contextlib
import io
import logging
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch

from toolkit.export.torch_formats import forward_arg_names

ONNX_INPUT, ONNX_OUTPUT = "input", "logits"
PATH_METADATA = ("pkg.torch.onnx.stack_trace",)  # node metadata that holds absolute source paths
CALIBRATION_IMAGES = 1024  # training images ONNX Runtime calibrates activation ranges on
CALIBRATION_BATCH = 128


def onnx_model(module: torch.nn.Module, example, dims: dict, opset: int | None = None, max_ir: int | None = None):
    """torch.onnx (dynamo) export with the dynamic `dims` (named "batch", "tokens") and weights inside."""
    first_arg = next(iter(forward_arg_names(module)))
    sink = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            module,
            (example,),
            None,
            input_names=[ONNX_INPUT],
            output_names=[ONNX_OUTPUT],
            dynamic_shapes={first_arg: dims},
            opset_version=opset,
            dynamo=True,
            external_data=False,
            verbose=False,
        )
    model = program.model_proto
    for node in model.graph.node:
        keep = [p for p in node.metadata_props if p.key not in PATH_METADATA]
        del node.metadata_props[:]
        node.metadata_props.extend(keep)
    if max_ir is not None and model.ir_version > max_ir:
        model.ir_version = max_ir  # the graph uses nothing newer: only the stamp would stop an older runtime
    return model


def onnx_bytes(model: onnx.ModelProto) -> bytes:
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString(deterministic=True)


def fp16_bytes(model: onnx.ModelProto) -> bytes:
    from onnxruntime.transformers.float16 import convert_float_to_float16

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        half = convert_float_to_float16(model, keep_io_types=True)
    _sort_topologically(half.graph)  # the converter appends its input casts after their consumers
    onnx.checker.check_model(half, full_check=True)
    return half.SerializeToString(deterministic=True)


def _sort_topologically(graph: onnx.GraphProto) -> None:
    """Reorder nodes so each comes after the producers of its inputs (stable for an already sorted graph)."""
    available = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    pending, ordered = list(graph.node), []
    while pending:
        ready = [n for n in pending if all(name in available for name in n.input)]
        if not ready:
            raise ValueError("graph has a cycle or an input no node produces")
        for node in ready:
            ordered.append(node)
            available.update(node.output)
        pending = [n for n in pending if n not in ready]
    del graph.node[:]
    graph.node.extend(ordered)


@contextlib.contextmanager
def _no_root_warnings():
    """The quantizer logs generic advice on the root logger; the user asked for int8, not for advice."""
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


class _Calibration:
    """The CalibrationDataReader interface over a float32 array of inputs."""

    def __init__(self, input_name: str, samples: np.ndarray):
        self.batches = iter(
            [{input_name: samples[i : i + CALIBRATION_BATCH]} for i in range(0, len(samples), CALIBRATION_BATCH)]
        )

    def get_next(self):
        return next(self.batches, None)


def int8_bytes(model_bytes: bytes, input_name: str, calibration: np.ndarray) -> bytes:
    """Static quantization: int8 weights (per channel) and uint8 activations, ranges from calibration data."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    CalibrationDataReader.register(_Calibration)
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(), _no_root_warnings():
        warnings.simplefilter("ignore")
        source, target = Path(tmp) / "model.onnx", Path(tmp) / "model.int8.onnx"
        source.write_bytes(model_bytes)
        quantize_static(
            str(source),
            str(target),
            _Calibration(input_name, np.ascontiguousarray(calibration)),  # float32 pixels or int64 ids
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            weight_type=QuantType.QInt8,
            activation_type=QuantType.QUInt8,
        )
        model = onnx.load(target)
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString(deterministic=True)
