"""Turn an eval-mode eager module into artifact bytes: state_dict, TorchScript, ONNX.

Each builder returns bytes so that export can write every file atomically at the end. The bytes
depend only on the weights (and library versions), never on the machine or the checkout path:
source paths that torch embeds for debugging are dropped, so re-exporting the same weights gives
byte-identical files.
"""

import contextlib
import hashlib
import inspect
import io
import warnings
import zipfile

import onnx
import torch

ONNX_INPUT, ONNX_OUTPUT = "input", "logits"
PATH_METADATA = ("pkg.torch.onnx.stack_trace",)  # node metadata that holds absolute source paths
SERIALIZATION_ID = ".data/serialization_id"


def state_dict_bytes(module: torch.nn.Module) -> bytes:
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}, buffer)
    return buffer.getvalue()


def torchscript_bytes(module: torch.nn.Module) -> bytes:
    """torch.jit.script, saved without its debug records (they hold this checkout's source paths)."""
    with warnings.catch_warnings():
        # TorchScript is deprecated in torch 2.14; the docs say so once, users' terminals need not.
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.script(module)
        buffer = io.BytesIO()
        torch.jit.save(scripted, buffer)
    return _without_debug_records(buffer.getvalue())


def _without_debug_records(archive: bytes) -> bytes:
    """Drop the .debug_pkl records, and derive the archive's serialization id from what is kept.

    torch computes that id partly from a checksum of every record, debug records included, so it
    would change whenever a source line moves; an id made from the kept records changes only with them.
    """
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        kept = [info for info in src.infolist() if not info.filename.endswith(".debug_pkl")]
        digest = hashlib.sha256()
        for info in kept:
            if not info.filename.endswith(SERIALIZATION_ID):
                digest.update(info.filename.encode() + b"\0" + src.read(info))
        for info in kept:
            data = src.read(info)
            if info.filename.endswith(SERIALIZATION_ID):
                data = str(int(digest.hexdigest(), 16))[:40].zfill(40).encode()  # same form as torch's: 40 digits
            dst.writestr(zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return out.getvalue()


def onnx_model(module: torch.nn.Module, example: torch.Tensor, opset: int | None = None) -> onnx.ModelProto:
    """torch.onnx (dynamo) export with a dynamic batch dim named "batch" and weights inside."""
    batch = torch.export.Dim("batch", min=1)
    first_arg = next(iter(_forward_arg_names(module)))
    sink = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            module, (example,), None,
            input_names=[ONNX_INPUT], output_names=[ONNX_OUTPUT],
            dynamic_shapes={first_arg: {0: batch}},
            opset_version=opset, dynamo=True, external_data=False, verbose=False,
        )  # fmt: skip
    model = program.model_proto
    for node in model.graph.node:
        keep = [p for p in node.metadata_props if p.key not in PATH_METADATA]
        del node.metadata_props[:]
        node.metadata_props.extend(keep)
    return model


def onnx_bytes(model: onnx.ModelProto) -> bytes:
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString(deterministic=True)


def _forward_arg_names(module):
    return [name for name in inspect.signature(module.forward).parameters if name != "self"]
