"""Reading a manifest that may come from anywhere: every field's type and range, then the fields against each other.

A bundle is untrusted input (a download, an attachment, a model registry): a malformed manifest must
give one line naming the field, never a traceback, and nothing in it may make the runtime allocate
without bound or touch a file outside the bundle. Standard library only.
"""

import math
import re

from toolkit.errors import BundleError

# Sizes a manifest may ask for. The largest image input is 3 x 2048 x 2048 float32, 48 MiB.
MAX_IMAGE_SIDE = 2048
MAX_RESIZE_TO = 4096
MAX_DIM = 1 << 16  # any other dim of a shape (tabular features, output width)
MAX_LABELS = MAX_DIM
MAX_TEXT = 10_000  # characters of one label, feature name or description
SHA256 = re.compile(r"^[0-9a-f]{64}$")


class Reader:
    """Typed access to one JSON object of the manifest; errors name the field's dotted path."""

    def __init__(self, data, where: str):
        if not isinstance(data, dict):
            raise invalid(where, f"must be an object, not {type(data).__name__}")
        self.data, self.where = data, where

    def path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def only(self, allowed) -> "Reader":
        unknown = sorted(str(k) for k in self.data if k not in allowed)
        if unknown:
            raise invalid(self.where or "manifest", f"has unknown field {unknown[0]!r}")
        return self

    def get(self, key: str, kind, optional: bool = False):
        value = self.data.get(key)
        if value is None:
            if optional:
                return None
            raise BundleError(f"manifest.json: missing {self.path(key)}")
        kinds = kind if isinstance(kind, tuple) else (kind,)
        # bool is an int in Python; a manifest that says `"size": true` is still wrong
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            names = " or ".join(k.__name__ for k in kinds)
            raise invalid(self.path(key), f"must be {names}, not {type(value).__name__}")
        if isinstance(value, str) and len(value) > MAX_TEXT:
            raise invalid(self.path(key), f"is longer than {MAX_TEXT} characters")
        return value

    def choice(self, key: str, choices: tuple, optional: bool = False):
        value = self.get(key, str, optional)
        if value not in choices and not (value is None and optional):
            raise invalid(self.path(key), f"{value!r} is not one of {', '.join(map(str, choices))}")
        return value

    def integer(self, key: str, low: int, high: int, optional: bool = False):
        value = self.get(key, int, optional)
        if value is not None and not low <= value <= high:
            raise invalid(self.path(key), f"{value} is outside {low}..{high}")
        return value

    def number(self, key: str, low: float, high: float = math.inf, optional: bool = False):
        value = self.get(key, (int, float), optional)
        if value is not None and not (math.isfinite(value) and low <= value <= high):
            raise invalid(self.path(key), f"{value} is outside {low:g}..{high:g}")
        return value

    def strings(self, key: str, most: int) -> tuple:
        values = self.get(key, list)
        if len(values) > most or not all(isinstance(v, str) and len(v) <= MAX_TEXT for v in values):
            raise invalid(self.path(key), f"must be a list of at most {most} strings")
        return tuple(values)

    def numbers(self, key: str, most: int, positive: bool = False) -> tuple:
        values = self.get(key, list)
        good = all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values)
        if len(values) > most or not good or (positive and not all(v > 0 for v in values)):
            kind = "positive numbers" if positive else "finite numbers"
            raise invalid(self.path(key), f"must be a list of at most {most} {kind}")
        return tuple(values)

    def child(self, key: str, optional: bool = False):
        value = self.get(key, dict, optional)
        return None if value is None else Reader(value, self.path(key))


def invalid(path: str, problem: str) -> BundleError:
    return BundleError(f"manifest.json: {path} {problem}")


def read_shape(reader: Reader, key: str = "shape") -> tuple:
    """["batch", d1, d2, ...] with every dim a positive int of bounded size."""
    shape = reader.get(key, list)
    dims = shape[1:]
    if not shape or shape[0] != "batch" or not dims or len(dims) > 3:
        raise invalid(reader.path(key), 'must be ["batch", then one to three sizes]')
    if not all(isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= MAX_DIM for d in dims):
        raise invalid(reader.path(key), f"sizes must be whole numbers in 1..{MAX_DIM}")
    return tuple(shape)


def read_files(reader: Reader, allowed_names) -> dict:
    """{file name: {"sha256", "bytes"}}, only for the file names a bundle may hold."""
    files = reader.get("files", dict)
    for name, entry in files.items():
        if name not in allowed_names:
            raise invalid(f"files[{name!r}]", "is not a file a bundle holds (only its fixed artifact names)")
        entry = Reader(entry, f"files[{name!r}]").only({"sha256", "bytes"})
        if not SHA256.match(entry.get("sha256", str)):
            raise invalid(entry.path("sha256"), "is not a sha256 hex digest")
        entry.integer("bytes", 0, 1 << 40)
    return files


def read_source(reader: Reader) -> dict | None:
    """Where a user's architecture came from: {"kind", "file" | "module", "symbol", "args", "sha256"}."""
    source = reader.child("source", optional=True)
    if source is None:
        return None
    source.only({"kind", "file", "module", "symbol", "args", "sha256"})
    kind = source.choice("kind", ("file", "module", "python"))
    source.get("file" if kind == "file" else "module", str)
    source.get("symbol", str)
    source.get("args", dict)
    if kind == "file" and not SHA256.match(source.get("sha256", str)):
        raise invalid(source.path("sha256"), "is not a sha256 hex digest")
    return source.data


def read_failures(reader: Reader, format_files: dict) -> dict:
    """{format: why it could not be exported}, for the formats a user's model could not be exported to."""
    failed = reader.get("failed_formats", dict, optional=True) or {}
    for fmt, reason in failed.items():
        if fmt not in format_files or not isinstance(reason, str) or len(reason) > MAX_TEXT:
            raise invalid(f"failed_formats[{fmt!r}]", "must name a format and say why, in a string")
    return failed


def read_formats(reader: Reader, format_files: dict, files: dict, failed=()) -> dict:
    """{format: file name}: each format's own fixed file name, listed in `files`."""
    formats = reader.get("formats", dict)
    for fmt, name in formats.items():
        if format_files.get(fmt) is None:
            raise invalid(f"formats[{fmt!r}]", f"is not a format; known: {', '.join(format_files)}")
        if name != format_files[fmt]:
            raise invalid(f"formats[{fmt!r}]", f"must be {format_files[fmt]!r}, not {name!r}")
        if name not in files:
            raise invalid(f"formats[{fmt!r}]", f"names {name!r}, which files does not list")
    if "onnx" not in formats and "onnx" not in failed:  # a failed ONNX export is said, not hidden
        raise invalid("formats", "has no onnx artifact (the runtime's model)")
    return formats


def check_consistency(manifest) -> None:
    """The fields against each other: labels and output width, input shape and preprocessing."""
    input_, output, prep = manifest.input, manifest.output, manifest.preprocessing
    width = output.shape[-1]
    if len(output.shape) != 2:
        raise invalid("output.shape", 'must be ["batch", width]')
    expected_labels = {"logits": width, "probabilities": width, "probability": 2, "value": 0}[output.kind]
    if output.kind == "probability" and width != 1:
        raise invalid("output.shape", f"must be [batch, 1] for a probability output, not width {width}")
    if len(manifest.labels) != expected_labels:
        raise invalid(
            "labels",
            f"has {len(manifest.labels)} names; a {output.kind} output of width {width} needs {expected_labels}",
        )
    if (input_.kind == "text") != (manifest.tokenizer is not None):
        raise invalid("tokenizer", "is needed by a text input, and only by one")
    if input_.kind == "text":
        if prep is not None or manifest.tokenizer.vocab not in manifest.files:
            raise invalid("input", "of a text model needs no preprocessing and its vocab.json listed in files")
        return
    if input_.kind == "tabular":
        if prep is not None or len(input_.shape) != 2 or len(input_.features) != input_.shape[1]:
            raise invalid("input", "of a tabular model needs shape [batch, n], n features and no preprocessing")
        return
    if prep is None:
        raise invalid("preprocessing", "is missing: an image model needs it")
    if input_.shape[1:] != (prep.channels, prep.size, prep.size):
        raise invalid(
            "input.shape", f"{list(input_.shape)} does not match preprocessing ({prep.channels} x {prep.size}^2)"
        )
    if prep.mean and (len(prep.mean) != prep.channels or len(prep.std) != prep.channels):
        raise invalid("preprocessing.mean", "and std need one value per channel")
    if prep.resize == "shorter-side-then-centre-crop" and (prep.resize_to or 0) < prep.size:
        raise invalid("preprocessing.resize_to", f"must be at least size ({prep.size}) to crop from")
