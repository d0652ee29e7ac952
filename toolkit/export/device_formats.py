"""The device formats, built in memory like the others: ExecuTorch (model.pte) for phones and boards,
OpenVINO IR (model.xml + model.bin) for Intel edge machines, and Core ML (model.mlpackage, zipped) for
Apple's.

- ExecuTorch: torch.export -> to_edge_transform_and_lower with the XNNPACK partitioner. The batch is dynamic
  within 1..MAX_BATCH. The example batch matters: exported with one under 16, the CNN's program
  silently capped its largest batch at 15 (batch 512 then failed at run time); with 16 or more it took the
  whole range. So the example is EXECUTORCH_EXAMPLE_BATCH, and the program is run at both ends of the
  range before it is accepted.
- OpenVINO: converted from the bundle's model.onnx, weights kept in fp32 (save_model compresses them to
  fp16 unless told otherwise); verify runs it with the CPU plugin's f32 precision hint (on a CPU with
  AVX512_BF16 it otherwise computes in bfloat16).
- Core ML: coremltools converts the ExportedProgram into an ML program computing in fp32, batch 1..1024. A
  .mlpackage is a folder; the bundle holds it as one zip (fixed names, times and order: reproducible), which
  Xcode takes once unzipped. Core ML runs only on Apple's systems: here its spec is checked instead,
  read straight from the zip (nothing extracted), its input and output against the manifest's.

Each converter is imported only when its format is asked for; `available()` says which are installed.
"""

import contextlib
import importlib.util
import io
import os
import tempfile
from pathlib import Path

import numpy as np

MAX_BATCH = 1024  # the largest batch of ExecuTorch's program and Core ML's model
MAX_TOKENS = 4096  # a text model's most words there
EXECUTORCH_EXAMPLE_BATCH = 16
# format -> the package it needs (LiteRT's converter lives in a venv of its own: litert.py)
CONVERTERS = {"executorch": "executorch", "openvino": "openvino", "coreml": "coremltools", "litert": "litert-torch"}
COREML_SPEC = "model.mlpackage/Data/com.apple.CoreML/model.mlmodel"  # the spec inside the zip
MAX_COREML_SPEC_BYTES = 64 * 2**20
COREML_DTYPES = {"float32": "FLOAT32", "int64": "INT32"}  # Core ML has no int64 arrays: token ids as int32


RUNTIMES = {"executorch": "executorch", "openvino": "openvino", "litert": "ai-edge-litert"}  # what runs them


def runs_here(fmt: str) -> bool:
    """Verify needs the runtime only (LiteRT's interpreter, not its converter's venv)."""
    return importlib.util.find_spec(RUNTIMES[fmt].replace("-", "_")) is not None


def available(fmt: str) -> bool:
    """A device format is offered only where its converter is installed (the `edge` extra)."""
    if fmt == "litert":
        from toolkit.export import litert

        return litert.available()
    return importlib.util.find_spec(CONVERTERS[fmt]) is not None


def executorch_bytes(module, example_input) -> bytes:
    """model.pte: the eval-mode module through torch.export and XNNPACK, with a bounded dynamic batch."""
    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    example = example_input(EXECUTORCH_EXAMPLE_BATCH)
    dims = {0: torch.export.Dim("batch", min=1, max=MAX_BATCH)}
    if example.dtype == torch.int64:  # a text model's token ids: the number of words varies too
        dims[1] = torch.export.Dim("tokens", min=1, max=MAX_TOKENS)
    program = torch.export.export(module, (example,), dynamic_shapes=(dims,))
    data = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()]).to_executorch().buffer
    run = executorch_runner(data)
    for batch in (1, MAX_BATCH):  # the guard: the whole promised range runs
        if not runs(run, example_input(batch).numpy()):  # raised out here: the reason is this line, not ET's
            raise RuntimeError(f"the program refuses a batch of {batch}; its bounds are 1..{MAX_BATCH}")
    return data


def runs(run, batch: np.ndarray) -> bool:
    try:
        run(batch)
    except RuntimeError:
        return False
    return True


def executorch_runner(data: bytes):
    """model.pte loaded once in ExecuTorch's Python runtime (its C++ runtime under pybind): batch -> output."""
    import torch

    with quiet_native_logs():
        from executorch.runtime import Runtime

        program = Runtime.get().load_program(data)  # it reads `data` in place: both live as long as `run`
        method = program.load_method("forward")

    def run(batch: np.ndarray, keep=(data, program)) -> np.ndarray:
        with quiet_native_logs():
            return method.execute([torch.from_numpy(np.ascontiguousarray(batch))])[0].numpy()

    return run


def openvino_files(onnx_bytes: bytes) -> dict:
    """{"model.xml": ..., "model.bin": ...}: model.onnx as OpenVINO IR, fp32 weights."""
    import openvino as ov

    with tempfile.TemporaryDirectory(prefix="tk-openvino-") as folder:
        source = Path(folder) / "model.onnx"
        source.write_bytes(onnx_bytes)
        model = ov.convert_model(str(source))
        ov.save_model(model, str(Path(folder) / "model.xml"), compress_to_fp16=False)
        return {name: (Path(folder) / name).read_bytes() for name in ("model.xml", "model.bin")}


def coreml_bytes(program, example) -> bytes:
    """model.mlpackage as one zip: the ExportedProgram (what torch.export captured, data-dependent control
    flow refused) as an fp32 ML program, the batch (and a text model's words) dynamic."""
    import warnings
    import zipfile

    import torch

    ct = quiet_coremltools()
    batch = ct.RangeDim(1, MAX_BATCH, default=1)
    if example.dtype == torch.int64:
        shape, dtype = ct.Shape((batch, ct.RangeDim(1, MAX_TOKENS, default=7))), np.int32
    else:
        shape, dtype = ct.Shape((batch, *example.shape[1:])), np.float32
    with warnings.catch_warnings(), tempfile.TemporaryDirectory(prefix="tk-coreml-") as folder:
        warnings.simplefilter("ignore")  # coremltools' untested-torch note
        model = ct.convert(
            program.run_decompositions({}),
            inputs=[ct.TensorType(name="input", shape=shape, dtype=dtype)],
            outputs=[ct.TensorType(name="logits")],
            convert_to="mlprogram",
            compute_precision=ct.precision.FLOAT32,
        )
        package = Path(folder) / "model.mlpackage"
        model.save(str(package))
        make_reproducible(package)
        packed = io.BytesIO()
        with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(p for p in package.rglob("*") if p.is_file()):
                entry = zipfile.ZipInfo(str(path.relative_to(folder)), date_time=(1980, 1, 1, 0, 0, 0))
                entry.external_attr, entry.compress_type = 0o644 << 16, zipfile.ZIP_DEFLATED
                archive.writestr(entry, path.read_bytes())
        return packed.getvalue()


def make_reproducible(package: Path) -> None:
    """The same model, the same bytes: the package's Manifest.json names its items by random UUIDs (each
    becomes a UUID made from the item's path), and the spec holds the conversion date and a map that
    protobuf writes in any order (the date goes, the spec is written again in a fixed order)."""
    import json
    import uuid

    Model_pb2 = quiet_coremltools().proto.Model_pb2
    manifest = package / "Manifest.json"
    text = manifest.read_text()
    for identifier, item in json.loads(text)["itemInfoEntries"].items():
        text = text.replace(identifier, str(uuid.uuid5(uuid.NAMESPACE_URL, f"tk:{item['path']}")))
    manifest.write_text(text)
    spec_path = package / COREML_SPEC.split("/", 1)[1]
    spec = Model_pb2.Model.FromString(spec_path.read_bytes())
    spec.description.metadata.userDefined.pop("com.github.apple.coremltools.conversion_date", None)
    spec_path.write_bytes(spec.SerializeToString(deterministic=True))


def quiet_coremltools():
    """coremltools, imported without its notes (an untested torch, scikit-learn, the macOS-only native
    library that Linux lacks), which it logs and prints at import."""
    import logging
    import warnings

    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), quiet_native_logs():
            warnings.simplefilter("ignore")
            import coremltools
            from coremltools.proto import Model_pb2  # noqa: F401
    finally:
        logging.disable(logging.NOTSET)
    return coremltools


def coreml_io(data: bytes) -> tuple:
    """([(name, dtype, shape ranges)] of the inputs, [(name, dtype)] of the outputs) from the zipped spec."""
    import zipfile

    Model_pb2 = quiet_coremltools().proto.Model_pb2

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        entry = archive.getinfo(COREML_SPEC)  # KeyError: not a package tk wrote
        if entry.file_size > MAX_COREML_SPEC_BYTES:
            raise ValueError(f"{COREML_SPEC} is larger than {MAX_COREML_SPEC_BYTES >> 20} MiB")
        spec = Model_pb2.Model.FromString(archive.read(entry)[:MAX_COREML_SPEC_BYTES])
    arrays = Model_pb2.ArrayFeatureType.ArrayDataType
    inputs = []
    for feature in spec.description.input:
        array = feature.type.multiArrayType
        ranges = [(r.lowerBound, r.upperBound) for r in array.shapeRange.sizeRanges]
        inputs.append((feature.name, arrays.Name(array.dataType), ranges))
    outputs = [(f.name, arrays.Name(f.type.multiArrayType.dataType)) for f in spec.description.output]
    return inputs, outputs


def openvino_runner(xml: bytes, weights: bytes):
    """The IR compiled on the CPU plugin, computing in fp32: batch -> output."""
    import openvino as ov

    core = ov.Core()
    model = core.read_model(model=xml, weights=ov.Tensor(np.frombuffer(weights, dtype=np.uint8).copy()))
    compiled = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    output = compiled.output(0)
    return lambda batch: compiled([np.ascontiguousarray(batch)])[output]


@contextlib.contextmanager
def quiet_native_logs():
    """ExecuTorch's C++ code writes notes about the CPU (cpuinfo) straight to fd 2, past Python's sys.stderr:
    fd 2 points at a scratch file meanwhile (an error still reaches the user as a Python exception)."""
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
