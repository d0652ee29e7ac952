"""Core ML's row: Core ML runs only on macOS and iOS, so its model is not run here, and no parity is
claimed for it. What is checked instead is its spec, read from the bundle's zipped model.mlpackage: one
input and one output with the manifest's names, the input's type (token ids are int32 in Core ML, which has
no int64 arrays) and its shape, the batch from 1 (and a text model's words from 1) up.
"""

from pathlib import Path

from toolkit.errors import BundleError
from toolkit.export import device_formats
from toolkit.runtime import bundle
from toolkit.runtime.schema import Manifest

NOT_RUN = "Core ML runs on macOS/iOS only"


def structure_note(bundle_dir: Path, manifest: Manifest) -> str:
    """The row's note: what was checked in place of a run; a BundleError if the spec disagrees."""
    path, data = bundle.read_artifact(bundle_dir, manifest, "coreml")
    try:
        inputs, outputs = device_formats.coreml_io(data)
    except Exception as exc:  # not a zip, no spec in it, a spec that does not parse
        raise BundleError(f"{path}: not a Core ML package tk wrote ({type(exc).__name__}: {exc})") from None
    wanted_in = manifest.input
    dtype = device_formats.COREML_DTYPES[wanted_in.dtype]
    if [(name, kind) for name, kind, _ in inputs] != [(wanted_in.name, dtype)]:
        raise BundleError(f"{path}: its inputs {inputs} are not the manifest's {wanted_in.name!r} ({dtype})")
    ranges = inputs[0][2]
    fixed = [d if isinstance(d, int) else None for d in wanted_in.shape]
    fits = len(ranges) == len(fixed) and all(
        (low, high) == (size, size) if size is not None else low == 1 and high > 1
        for (low, high), size in zip(ranges, fixed, strict=True)
    )
    if not fits:
        raise BundleError(f"{path}: its input shape ranges {ranges} do not fit the manifest's {list(wanted_in.shape)}")
    if [name for name, _ in outputs] != [manifest.output.name] or outputs[0][1] != "FLOAT32":
        raise BundleError(f"{path}: its outputs {outputs} are not the manifest's {manifest.output.name!r} (FLOAT32)")
    shape = ", ".join(f"{low}..{high}" if low != high else str(low) for low, high in ranges)
    return f"{NOT_RUN}; checked instead: {wanted_in.name} {dtype} [{shape}] -> {manifest.output.name} FLOAT32"
