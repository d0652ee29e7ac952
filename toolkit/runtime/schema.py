"""manifest.json as dataclasses: export writes it with `to_dict()`, the runtime reads it with `from_dict()`.

One piece of code for both directions, so a field cannot be written without being read (a test
round-trips every committed manifest). `from_dict` checks the type of every field it reads and names
the field at fault in a BundleError. Standard library only: the runtime reads bundles without torch.
"""

from dataclasses import dataclass, field, fields

from toolkit.errors import BundleError
from toolkit.runtime import validation
from toolkit.runtime.text import VOCAB_FILE, TokenizerSpec
from toolkit.runtime.validation import MAX_IMAGE_SIDE, MAX_LABELS, MAX_RESIZE_TO, Reader, read_shape

SCHEMA_VERSION = 1
BATCH = "batch"  # the name of the dynamic leading dim in every shape
TOKENS = "tokens"  # a text input's second dim: as many ids as the longest snippet of the batch has
VERIFICATION = "verification.json"  # the report `tk verify` writes into the bundle, summarised in the manifest
# format name (as on the command line) -> its file in the bundle: the only artifact names a bundle may hold
FORMAT_FILES = {
    "state-dict": "state_dict.pth",
    "safetensors": "model.safetensors",
    "torchscript": "model.ts",
    "exported-program": "model.pt2",
    "aoti": "model.aoti.pt2",
    "onnx": "model.onnx",
    "onnx-fp16": "model.fp16.onnx",
    "onnx-int8": "model.int8.onnx",
    "onnx-e2e": "model.e2e.onnx",
    "executorch": "model.pte",
    "openvino": "model.xml",
    "coreml": "model.mlpackage.zip",
    "litert": "model.tflite",
}
# The other files of a format whose artifact is more than one file: OpenVINO's weights beside its graph,
# LiteRT's batch-64 model beside its batch-1 one (a .tflite file takes one fixed batch).
FORMAT_COMPANIONS = {"openvino": ("model.bin",), "litert": ("model.b64.tflite",)}


def companion_files() -> list:
    return [name for names in FORMAT_COMPANIONS.values() for name in names]


TASKS = ("classification", "binary-classification", "regression")
OUTPUT_KINDS = ("logits", "probabilities", "probability", "value")
RESIZE_MODES = ("longest-side-keep-aspect", "shorter-side-then-centre-crop")
RESAMPLE_MODES = ("bicubic-antialias", "bilinear")
INVERT_MODES = ("auto", "never")


@dataclass(frozen=True)
class InputSchema:
    """The graph input: float32 [batch, *sample_shape], image or tabular (with its column names); or a text
    model's int64 token ids [batch, tokens] (the manifest's `tokenizer` makes them from text)."""

    name: str
    kind: str  # "image", "tabular" or "text"
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
        reader.only({"name", "kind", "dtype", "shape", "features", "range"})
        kind = reader.choice("kind", ("image", "tabular", "text"))
        if kind == "text":
            if reader.get("shape", list) != [BATCH, TOKENS]:
                raise validation.invalid(reader.path("shape"), f'of a text input must be ["{BATCH}", "{TOKENS}"]')
            return cls(reader.get("name", str), kind, reader.choice("dtype", ("int64",)), (BATCH, TOKENS))
        return cls(
            name=reader.get("name", str),
            kind=kind,
            dtype=reader.choice("dtype", ("float32",)),
            shape=read_shape(reader),
            features=reader.strings("features", validation.MAX_DIM) if kind == "tabular" else (),
            value_range=reader.numbers("range", 2) if "range" in reader.data else None,
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
        reader.only({"name", "kind", "dtype", "shape"})
        return cls(
            name=reader.get("name", str),
            kind=reader.choice("kind", OUTPUT_KINDS),
            dtype=reader.choice("dtype", ("float32",)),
            shape=read_shape(reader),
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
        reader.only({f.name for f in fields(cls)})
        channels = reader.integer("channels", 1, 3)
        if channels == 2:
            raise validation.invalid(reader.path("channels"), "must be 1 (gray) or 3 (RGB)")
        return cls(
            size=reader.integer("size", 1, MAX_IMAGE_SIDE),
            channels=channels,
            scale=reader.number("scale", 1e-6, 1.0),
            background=reader.choice("background", ("dark",), optional=True),
            invert=reader.choice("invert", INVERT_MODES),
            trim=reader.get("trim", bool),
            resize=reader.choice("resize", RESIZE_MODES),
            resample=reader.choice("resample", RESAMPLE_MODES),
            mean=reader.numbers("mean", 3),
            std=reader.numbers("std", 3, positive=True),
            resize_to=reader.integer("resize_to", 1, MAX_RESIZE_TO, optional=True),
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
    training: dict | None  # {"recipe", "epochs", "train_seconds", "test_accuracy" | "test_mae", "history"}
    tolerance: dict  # {"atol", "reason"}: what verify holds every exact artifact to
    verification: dict | None = None  # the summary of verification.json for exactly these files
    warning: str | None = None  # e.g. an untrained model's, repeated by every `tk infer`
    source: dict | None = None  # a user's model: where its architecture came from (toolkit.models.source)
    failed_formats: dict | None = None  # format -> why it could not be exported (the others were)
    tokenizer: TokenizerSpec | None = None  # text models: how text becomes the input's ids (runtime.text)
    data: dict | None = None  # a model that learnt a user's own data: where from, its digest, the split
    schema_version: int = field(default=SCHEMA_VERSION)

    @property
    def atol(self) -> float:
        return float(self.tolerance["atol"])

    def to_dict(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data.update(input=self.input.to_dict(), output=self.output.to_dict(), labels=list(self.labels))
        data["preprocessing"] = self.preprocessing.to_dict() if self.preprocessing else None
        data["tokenizer"] = self.tokenizer.to_dict() if self.tokenizer else None
        for optional in ("warning", "source", "failed_formats", "tokenizer", "data"):
            if data[optional] is None:
                del data[optional]
        return data

    @classmethod
    def from_dict(cls, data) -> "Manifest":
        top = Reader(data, "")
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise BundleError(f"manifest.json: schema_version {version!r} is not supported (expected {SCHEMA_VERSION})")
        top.only({f.name for f in fields(cls)})
        tolerance = top.child("tolerance")
        tolerance.number("atol", 0.0)
        preprocessing = top.child("preprocessing", optional=True)
        tokenizer = top.child("tokenizer", optional=True)
        files = validation.read_files(top, {*FORMAT_FILES.values(), *companion_files(), VOCAB_FILE})
        failed = validation.read_failures(top, FORMAT_FILES)
        manifest = cls(
            model=top.get("model", str),
            task=top.choice("task", TASKS),
            description=top.get("description", str),
            dataset=top.get("dataset", str, optional=True),
            input=InputSchema.from_dict(top.child("input")),
            output=OutputSchema.from_dict(top.child("output")),
            labels=top.strings("labels", MAX_LABELS),
            preprocessing=Preprocessing.from_dict(preprocessing) if preprocessing else None,
            files=files,
            formats=validation.read_formats(top, FORMAT_FILES, files, failed),
            onnx=top.get("onnx", dict, optional=True),
            versions=top.get("versions", dict),
            weights=top.get("weights", dict),
            trained=top.get("trained", bool),
            training=top.get("training", dict, optional=True),
            tolerance=tolerance.data,
            verification=top.get("verification", dict, optional=True),
            warning=top.get("warning", str, optional=True),
            source=validation.read_source(top),
            failed_formats=failed or None,
            tokenizer=TokenizerSpec.from_dict(tokenizer) if tokenizer else None,
            data=top.get("data", dict, optional=True),
        )
        validation.check_consistency(manifest)
        return manifest
