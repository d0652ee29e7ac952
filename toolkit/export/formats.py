"""Which formats a model gets, and building each one's bytes in memory (nothing is written here).

Every format of the bundle is built before anything is written, so a failure part-way leaves the
previous bundle alone. model.onnx and the ExportedProgram are built once and shared by the formats
derived from them (fp16, int8 and e2e ONNX; AOTInductor).
"""

import contextlib
import io
import json
import logging
import re

from toolkit.errors import ExportLintError, UsageError
from toolkit.export import device_formats, e2e, lint, litert, onnx_formats, torch_formats
from toolkit.export.torch_formats import quiet_torch_logs
from toolkit.models import dynamic_dims, example_input, image_input
from toolkit.runtime.bundle import FORMAT_FILES
from toolkit.runtime.onnx_compat import LOWEST_EXPORTER_OPSET, limits_for
from toolkit.runtime.text import VOCAB_FILE

FORMATS = tuple(FORMAT_FILES)
DEFAULT_ONNX_OPSET = 20  # torch.onnx's, when no --opset or --min-ort asks for another
WEIGHT_FORMATS = ("state-dict", "safetensors")
DERIVED_FROM = {
    "aoti": "exported-program",
    "onnx-fp16": "onnx",
    "onnx-int8": "onnx",
    "onnx-e2e": "onnx",
    "openvino": "onnx",
    "litert": "exported-program",
    "coreml": "exported-program",
}
REDUCED_PRECISION_DATASETS = ("fashion-mnist", "rotten-tomatoes")  # a classification test split to judge them on
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")  # torch colours its error messages


class OnnxOptions:
    """Opset and IR version (from --opset / --min-ort), and where int8 calibration images come from."""

    def __init__(self, opset=None, min_ort=None, data_dir=None):
        if opset is not None and opset < LOWEST_EXPORTER_OPSET:
            raise UsageError(f"--opset {opset}: torch's exporter emits opset {LOWEST_EXPORTER_OPSET} at the lowest")
        self.max_opset, self.max_ir = limits_for(min_ort) if min_ort else (None, None)
        if opset is not None and self.max_opset is not None and opset > self.max_opset:
            raise UsageError(
                f"--opset {opset} is newer than ONNX Runtime {min_ort} loads (opset {self.max_opset} at most)"
            )
        self.opset = opset if opset is not None else self.max_opset
        self.data_dir = data_dir


def applicable_formats(spec) -> list:
    """The formats that make sense for a model (and whose converter is installed)."""
    found = [f for f in FORMATS if f not in device_formats.CONVERTERS or device_formats.available(f)]
    return [f for f in found if not_applicable(spec, f) is None]


def not_applicable(spec, fmt: str) -> str | None:
    """Why `fmt` makes no sense for this model, or None."""
    own_images = getattr(spec.dataset, "kind", None) == "images"  # your own images: a test split too
    if fmt in ("onnx-fp16", "onnx-int8") and spec.dataset not in REDUCED_PRECISION_DATASETS and not own_images:
        return "reduced precision is judged on a classification test split and calibrated on its training images"
    if fmt == "onnx-e2e" and (
        spec.input.kind != "image" or spec.input.background != "dark" or spec.input.channels != 1 or spec.input.mean
    ):
        return "its in-graph preprocessing is Fashion-MNIST's: gray, light on dark"
    if fmt == "litert" and spec.input.kind == "text":
        return "LiteRT converts fixed shapes only, and a text model takes any number of words"
    return None


def resolve_formats(spec, formats) -> list:
    """The formats to build, the weights first: model.safetensors is what tk reads back (verify rebuilds the
    eager model from it), state_dict.pth what the tutorials' own torch.load reads; and model.onnx, which the
    runtime serves, in every bundle."""
    chosen = []
    for fmt in formats:
        if fmt == "all":
            chosen += applicable_formats(spec)
        elif fmt not in FORMATS:
            raise UsageError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}, all or triton")
        elif fmt == "litert" and not device_formats.available(fmt):
            raise UsageError(f"--format litert needs {litert.NEEDS}")
        elif fmt in device_formats.CONVERTERS and not device_formats.available(fmt):
            package = device_formats.CONVERTERS[fmt]
            raise UsageError(f"--format {fmt} needs the {package} package: pip install '.[edge]'")
        elif not_applicable(spec, fmt):
            raise UsageError(f"--format {fmt} does not apply to {spec.name} ({not_applicable(spec, fmt)})")
        else:
            chosen.append(fmt)
    weights = list(WEIGHT_FORMATS)
    if "onnx" not in chosen:  # every bundle holds the runtime's model: a manifest without one is refused
        chosen.append("onnx")
    return weights + [f for f in dict.fromkeys(chosen) if f not in weights]


def build_artifacts(module, spec, formats, options: OnnxOptions, progress=None, failed=None) -> dict:
    """file name -> (bytes, format), all in memory before anything is written; `progress(file name)` is
    called as each one starts. With a `failed` dict, a format that cannot be exported (an op ONNX lacks,
    Python TorchScript cannot compile) is recorded there with its reason and the others are still built."""
    cache = {}

    def program():  # shared by exported-program and aoti
        if "program" not in cache:
            cache["program"] = torch_formats.exported_program(module, example_input(spec, 2), dynamic_dims(spec))
        return cache["program"]

    def onnx_model():  # shared by onnx and its reduced-precision and e2e variants
        if "onnx" not in cache:
            example = example_input(spec, 1)
            proto = onnx_formats.onnx_model(module, example, dynamic_dims(spec), options.opset, options.max_ir)
            lint.check_onnx(proto)
            cache["onnx"] = (proto, onnx_formats.onnx_bytes(proto))
        return cache["onnx"]

    builders = {
        "state-dict": lambda: torch_formats.state_dict_bytes(module),
        "safetensors": lambda: torch_formats.safetensors_bytes(module),
        "torchscript": lambda: torch_formats.torchscript_bytes(module),
        "exported-program": lambda: torch_formats.exported_program_bytes(program()),
        "aoti": lambda: torch_formats.aoti_package_bytes(program()),
        "onnx": lambda: onnx_model()[1],
        "onnx-fp16": lambda: onnx_formats.fp16_bytes(onnx_model()[0]),
        "onnx-int8": lambda: onnx_formats.int8_bytes(
            onnx_model()[1], onnx_formats.ONNX_INPUT, _calibration(spec, options)
        ),
        "onnx-e2e": lambda: e2e.e2e_bytes(onnx_model()[0], spec.input.size, spec.output),
        "executorch": lambda: device_formats.executorch_bytes(module, lambda batch: example_input(spec, batch)),
        "openvino": lambda: device_formats.openvino_files(onnx_model()[1]),
        "coreml": lambda: device_formats.coreml_bytes(program(), example_input(spec, 2)),
        "litert": lambda: litert.litert_files(torch_formats.exported_program_bytes(program())),
    }
    built = _build_each(formats, builders, options, progress, failed)
    if "onnx" in cache and "model.onnx" not in built:
        built["model.onnx"] = (cache["onnx"][1], "onnx")  # the variants' fp32 reference travels with them
    return built


def data_files(spec, options: OnnxOptions) -> dict:
    """Files a bundle needs besides its artifacts (format None): a text model's vocab.json, from the training split."""
    if spec.input.kind != "text":
        return {}
    from toolkit.data import vocabulary

    vocab = vocabulary(spec.dataset, options.data_dir)
    return {VOCAB_FILE: ((json.dumps(vocab, ensure_ascii=False) + "\n").encode("utf-8"), None)}


def _build_each(formats, builders: dict, options: OnnxOptions, progress, failed) -> dict:
    built = {}
    for fmt in formats:
        if progress is not None:
            progress(FORMAT_FILES[fmt])
        if failed is not None and DERIVED_FROM.get(fmt) in failed:
            failed[fmt] = f"needs {FORMAT_FILES[DERIVED_FROM[fmt]]}, which could not be exported"
            continue
        try:
            with quiet_torch_logs(), _no_warnings_logged():  # a failing export logs its graph as a warning
                made = builders[fmt]()
            # one file, or {file: bytes} for a format of several (its companions are listed, not formats)
            for name, data in (made if isinstance(made, dict) else {FORMAT_FILES[fmt]: made}).items():
                built[name] = (data, fmt if name == FORMAT_FILES[fmt] else None)
        except ExportLintError:
            raise  # a graph that would compute something else than eager: refused, never half-exported
        except Exception as exc:
            if failed is None or fmt in WEIGHT_FORMATS:
                raise
            failed[fmt] = failure_reason(fmt, exc, options)
    return built


@contextlib.contextmanager
def _no_warnings_logged():
    logging.disable(logging.WARNING)
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        logging.disable(logging.NOTSET)


def failure_reason(fmt: str, exc: Exception, options: OnnxOptions) -> str:
    """One line: the innermost cause's first words (torch's exporters wrap it; it names the op or the
    construct), with the opset for ONNX."""
    while (exc.__cause__ or exc.__context__) is not None:
        exc = exc.__cause__ or exc.__context__
    lines = [ANSI_ESCAPE.sub("", line).strip() for line in str(exc).splitlines()]
    first = next((line for line in lines if line), "")
    reason = f"{type(exc).__name__}: {' '.join(first.split())[:300]}".rstrip(": ")
    if fmt.startswith("onnx"):
        reason += f" (opset {options.opset or DEFAULT_ONNX_OPSET})"
    return reason


def _calibration(spec, options):
    from toolkit.data import load_dataset

    data = load_dataset(spec.dataset, options.data_dir, image=image_input(spec))
    return data.to_input(data.train_x[: onnx_formats.CALIBRATION_IMAGES]).numpy()
