"""manifest.json as dataclasses: export writes it with `to_dict()`, the runtime reads it with `from_dict()`.

One piece of code for both directions, so a field cannot be written without being read (a test
round-trips every committed manifest). `from_dict` checks the type of every field it reads and names
the field at fault in a BundleError. Standard library only: the runtime reads bundles without torch.
"""

from dataclasses import dataclass, field, fields

from toolkit.errors import BundleError

SCHEMA_VERSION = 1
BATCH = "batch"  # the name of the dynamic leading dim in every shape
VERIFICATION = "verification.json"  # the report `tk verify` writes into the bundle, summarised in the manifest


class Reader:
    """Typed access to one JSON object of the manifest; errors name the field's dotted path."""

    def __init__(self, data, where: str):
        if not isinstance(data, dict):
            raise BundleError(f"manifest.json: {where} must be an object, not {type(data).__name__}")
        self.data, self.where = data, where

    def path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

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
            raise BundleError(f"manifest.json: {self.path(key)} must be {names}, not {type(value).__name__}")
        return value

    def choice(self, key: str, choices: tuple, optional: bool = False):
        value = self.get(key, str, optional)
        if value not in choices and not (value is None and optional):
            raise BundleError(f"manifest.json: {self.path(key)} {value!r} is not one of {', '.join(map(str, choices))}")
        return value

    def child(self, key: str, optional: bool = False):
        value = self.get(key, dict, optional)
        return None if value is None else Reader(value, self.path(key))


NUMBER = (int, float)
RESIZE_MODES = ("longest-side-keep-aspect", "shorter-side-then-centre-crop")
RESAMPLE_MODES = ("bicubic-antialias", "bilinear")
INVERT_MODES = ("auto", "never")


@dataclass(frozen=True)
class InputSchema:
    """The graph input: float32 [batch, *sample_shape]; image or tabular (with its column names)."""

    name: str
    kind: str  # "image" or "tabular"
    dtype: str
    shape: tuple  # ("batch", *sample dims)
    features: tuple = ()  # tabular: the column names, in order
    value_range: tuple | None = None  # images fed as-is: [0.0, 1.0]; None when normalised by mean/std

    @property
    def sample_shape(self) -> tuple:
        return tuple(self.shape[1:])

    def to_dict(self) -> dict:
        data = {"name": self.name, "kind": self.kind, "dtype": self.dtype, "shape": list(self.shape)}
        if self.kind == "tabular":
            data["features"] = list(self.features)
        if self.value_range is not None:
            data["range"] = list(self.value_range)
        return data

    @classmethod
    def from_dict(cls, reader: Reader) -> "InputSchema":
        features = reader.get("features", list, optional=True)
        value_range = reader.get("range", list, optional=True)
        return cls(
            name=reader.get("name", str),
            kind=reader.get("kind", str),
            dtype=reader.get("dtype", str),
            shape=tuple(reader.get("shape", list)),
            features=tuple(features or ()),
            value_range=None if value_range is None else tuple(value_range),
        )


@dataclass(frozen=True)
class OutputSchema:
    """The graph output and what it means: logits, probabilities, probability (P(class 1)) or value."""

    name: str
    kind: str
    dtype: str
    shape: tuple

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "dtype": self.dtype, "shape": list(self.shape)}

    @classmethod
    def from_dict(cls, reader: Reader) -> "OutputSchema":
        return cls(
            name=reader.get("name", str),
            kind=reader.get("kind", str),
            dtype=reader.get("dtype", str),
            shape=tuple(reader.get("shape", list)),
        )


@dataclass(frozen=True)
class Preprocessing:
    """How an image file becomes the model's input; toolkit.runtime.preprocess follows it step by step."""

    size: int  # the model's square input side
    channels: int  # 1: gray (ITU-R 601 luma); 3: RGB, transparency on white
    scale: float  # pixel values 0..255 are multiplied by this (1/255: [0, 1])
    background: str | None  # "dark": the training items are light on black; None: photos as they are
    invert: str  # "auto": invert images with a light border (dark backgrounds only); "never"
    trim: bool  # crop to the item before resizing (dark backgrounds only)
    resize: str  # "longest-side-keep-aspect" (then centred) or "shorter-side-then-centre-crop"
    resample: str  # "bicubic-antialias" or "bilinear"
    mean: tuple = ()  # per channel, after scaling; () for none
    std: tuple = ()
    resize_to: int | None = None  # "shorter-side-then-centre-crop": the shorter side before the crop

    def to_dict(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["mean"], data["std"] = list(self.mean), list(self.std)
        if self.resize_to is None:
            del data["resize_to"]
        return data

    @classmethod
    def from_dict(cls, reader: Reader) -> "Preprocessing":
        return cls(
            size=reader.get("size", int),
            channels=reader.get("channels", int),
            scale=reader.get("scale", NUMBER),
            background=reader.choice("background", ("dark",), optional=True),
            invert=reader.choice("invert", INVERT_MODES),
            trim=reader.get("trim", bool),
            resize=reader.choice("resize", RESIZE_MODES),
            resample=reader.choice("resample", RESAMPLE_MODES),
            mean=tuple(reader.get("mean", list)),
            std=tuple(reader.get("std", list)),
            resize_to=reader.get("resize_to", int, optional=True),
        )


def verification_summary(report: dict) -> dict:
    """What the manifest records of a verification.json report: the verdict and each row's key figures."""
    keys = ("artifact", "runtime", "max_abs", "argmax_agreement", "accuracy", "passed")
    rows = [{k: row.get(k) for k in keys} for row in report["rows"]]
    return {"passed": report["passed"], "atol": report["atol"], "file": VERIFICATION, "rows": rows}


@dataclass
class Manifest:
    """Everything the runtime needs to know about a bundle, and the record of how it was made."""

    model: str
    task: str  # "classification", "binary-classification" or "regression"
    description: str
    dataset: str | None
    input: InputSchema
    output: OutputSchema
    labels: tuple
    preprocessing: Preprocessing | None  # None for tabular models
    files: dict  # file name -> {"sha256", "bytes"}
    formats: dict  # format name -> file name
    onnx: dict | None  # {"opset", "ir_version", "min_onnxruntime"} when there is an ONNX file
    versions: dict  # library versions at export
    weights: dict  # {"source": checkpoint|run|bundle|random-init, "path", ...}
    trained: bool
    training: dict | None  # {"recipe", "epochs", "train_seconds", "test_accuracy" | "test_mae"}
    tolerance: dict  # {"atol", "reason"}: what verify holds every exact artifact to
    verification: dict | None = None  # the summary of verification.json for exactly these files
    warning: str | None = None  # e.g. an untrained model's, repeated by every `tk infer`
    schema_version: int = field(default=SCHEMA_VERSION)

    @property
    def atol(self) -> float:
        return float(self.tolerance["atol"])

    def to_dict(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data.update(input=self.input.to_dict(), output=self.output.to_dict(), labels=list(self.labels))
        data["preprocessing"] = self.preprocessing.to_dict() if self.preprocessing else None
        if self.warning is None:
            del data["warning"]
        return data

    @classmethod
    def from_dict(cls, data) -> "Manifest":
        top = Reader(data, "")
        version = data.get("schema_version") if isinstance(data, dict) else None
        if version != SCHEMA_VERSION:
            raise BundleError(f"manifest.json: schema_version {version!r} is not supported (expected {SCHEMA_VERSION})")
        tolerance = top.child("tolerance")
        tolerance.get("atol", NUMBER)
        preprocessing = top.child("preprocessing", optional=True)
        return cls(
            model=top.get("model", str),
            task=top.get("task", str),
            description=top.get("description", str),
            dataset=top.get("dataset", str, optional=True),
            input=InputSchema.from_dict(top.child("input")),
            output=OutputSchema.from_dict(top.child("output")),
            labels=tuple(top.get("labels", list)),
            preprocessing=Preprocessing.from_dict(preprocessing) if preprocessing else None,
            files=top.get("files", dict),
            formats=top.get("formats", dict),
            onnx=top.get("onnx", dict, optional=True),
            versions=top.get("versions", dict),
            weights=top.get("weights", dict),
            trained=top.get("trained", bool),
            training=top.get("training", dict, optional=True),
            tolerance=tolerance.data,
            verification=top.get("verification", dict, optional=True),
            warning=top.get("warning", str, optional=True),
        )
