"""The torch formats of an eval-mode eager module as bytes: state_dict, TorchScript, ExportedProgram, AOTInductor.

Each builder returns bytes so that export can write every file atomically at the end. The bytes
depend only on the weights (and library versions), never on the machine or the checkout path:
source paths that torch embeds for debugging are dropped, so re-exporting the same weights gives
byte-identical files.
"""

import contextlib
import hashlib
import inspect
import io
import logging
import re
import tempfile
import warnings
import zipfile
from pathlib import Path

import torch

from toolkit.errors import ExportLintError

SERIALIZATION_ID = ".data/serialization_id"
FINAL_CONSTANT = re.compile(r"^  \w+ : Final\[.*\] = .*$")


def state_dict_bytes(module: torch.nn.Module) -> bytes:
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}, buffer)
    return buffer.getvalue()


def safetensors_bytes(module: torch.nn.Module) -> bytes:
    """The same tensors as state_dict.pth in safetensors: plain data that no loader can mistake for code."""
    from safetensors.torch import save

    tensors, storages = {}, set()
    for key, value in module.state_dict().items():
        tensor = value.detach().cpu().contiguous()
        storage = tensor.untyped_storage().data_ptr()
        # Tied weights (one Parameter under two names) share storage, which safetensors refuses: the second
        # name gets its own copy, and load_state_dict writes the same values into the one Parameter again.
        tensors[key] = tensor.clone() if storage in storages else tensor
        storages.add(storage)
    return save(tensors)


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
    """Canonical TorchScript bytes: no .debug_pkl records, constants in a fixed order, a derived id.

    torch writes each class's `Final` constants in set order, which changes with the process's string
    hash seed, and computes the serialization id partly from the debug records (so it moves with any
    source line). Sorting the constants and deriving the id from the kept records makes the file
    depend on the weights and the code alone.
    """
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        records = {info.filename: src.read(info) for info in src.infolist() if not info.filename.endswith(".debug_pkl")}
        for name, data in records.items():
            if "/code/" in name and name.endswith(".py"):
                records[name] = _sorted_constants(data.decode()).encode()
        digest = hashlib.sha256()
        for name, data in records.items():
            if not name.endswith(SERIALIZATION_ID):
                digest.update(name.encode() + b"\0" + data)
        for name, data in records.items():
            if name.endswith(SERIALIZATION_ID):
                data = str(int(digest.hexdigest(), 16))[:40].zfill(40).encode()  # same form as torch's: 40 digits
            dst.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return out.getvalue()


def _sorted_constants(code: str) -> str:
    """Sort each run of `  name : Final[...] = value` declarations (their order carries no meaning)."""
    lines, result, run = code.split("\n"), [], []
    for line in lines:
        if FINAL_CONSTANT.match(line):
            run.append(line)
            continue
        result += sorted(run) + [line]
        run = []
    return "\n".join(result + sorted(run))


def forward_arg_names(module):
    return [name for name in inspect.signature(module.forward).parameters if name != "self"]


def exported_program(module: torch.nn.Module, example: torch.Tensor, dims: dict):
    """torch.export with the dynamic `dims` (batch, tokens); source stack traces dropped (they hold this
    checkout's paths). `example` has a batch of 2: a batch of 1 would specialise."""
    first_arg = next(iter(forward_arg_names(module)))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.export.export(module, (example,), dynamic_shapes={first_arg: dims})
    except (torch._dynamo.exc.UserError, RuntimeError) as exc:
        # A specialised batch shows as a constraint violation, or as a shape clash with the symbolic batch s<N>.
        if "specialized" in str(exc) or "Constraints violated" in str(exc) or re.search(r"\bs\d+\b", str(exc)):
            raise ExportLintError(
                "the batch dim came out fixed: forward specialises the batch size (a reshape or view with a "
                "hard-coded batch?); use x.flatten(1) or x.reshape(x.shape[0], -1)"
            ) from None
        raise
    for node in program.graph.nodes:
        node.meta.pop("stack_trace", None)
    return program


def exported_program_bytes(program) -> bytes:
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    return buffer.getvalue()


def aoti_package_bytes(program) -> bytes:
    """An AOTInductor package compiled for the CPU (this machine's compiler; loads with aoti_load_package)."""
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(), quiet_torch_logs():
        warnings.simplefilter("ignore")
        path = torch._inductor.aoti_compile_and_package(program, package_path=str(Path(tmp) / "model.aoti.pt2"))
        return Path(path).read_bytes()


@contextlib.contextmanager
def quiet_torch_logs():
    """torch's CPU compiles log that no CUDA runtime exists; on a CPU machine that is not news."""
    logger = logging.getLogger("torch.utils.cpp_extension")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
