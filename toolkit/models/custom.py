"""A user's own model as a ModelSpec: built from what they say about it, or from a bundle's manifest.

The pipeline knows a model only through its spec, so a user's `FILE.py:Net` trains, exports and
verifies through the same code as the zoo once `custom_spec` has described it: its input (an image
C x S x S or a row of N features), its labels, what its forward returns, and the dataset it learns.
"""

import re
from dataclasses import dataclass, replace
from pathlib import Path

from toolkit.data.own.source import label_file
from toolkit.errors import UsageError
from toolkit.models import source as sources
from toolkit.models.fashion import FASHION_LABELS, FASHION_RECIPE, TUTORIAL_RECIPE
from toolkit.models.registry import ImageInput, ModelSpec, TabularInput, use
from toolkit.runtime.validation import MAX_IMAGE_SIDE, MAX_LABELS

NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
LABEL_SETS = ("fashion-mnist", "imagenet")
DATASETS = ("fashion-mnist",)
TASK_OF_OUTPUT = {
    "logits": "classification",
    "probabilities": "classification",
    "probability": "binary-classification",
    "value": "regression",
}
# What training minimises for each kind of output (toolkit.train.recipes.loss_function).
LOSS_OF_OUTPUT = {"logits": "cross_entropy", "probabilities": "nll", "probability": "bce", "value": "mse"}
RECIPES = {"default": FASHION_RECIPE, "tutorial": TUTORIAL_RECIPE}


@dataclass(frozen=True)
class ModelOptions:
    """What a user says about their model on the command line or to `toolkit.make_bundle`."""

    input_shape: tuple | None = None  # (C, S, S) for images, (N,) for rows; default 1x28x28 for Fashion-MNIST
    labels: object = None  # a known set's name, a file, a comma-separated string, or a list
    features: tuple = ()  # rows: the column names (default x0, x1, ...)
    output: str | None = None  # logits (default with labels), probabilities, probability, value (default without)
    dataset: str | None = None  # what tk trains on and verify scores on; fashion-mnist with --labels fashion-mnist
    mean: tuple = ()  # images: per channel, after scaling to [0, 1]
    std: tuple = ()
    background: str | None = None  # images: "dark" (light items on black, like Fashion-MNIST) or "photo"
    name: str | None = None  # default: the symbol in kebab case (NeuralNetwork -> neural-network)
    atol: float = 1e-4


def default_name(symbol: str) -> str:
    last = symbol.rsplit(".", 1)[-1]
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", last).replace("_", "-").lower()
    return name if NAME.fullmatch(name) else "my-model"


def resolve_labels(value) -> tuple:
    """A list, a known set (fashion-mnist, imagenet), a text file (one label a line) or 'a,b,c'."""
    if value is None:
        return ()
    if not isinstance(value, str):
        return tuple(str(label) for label in value)
    if value == "fashion-mnist":
        return FASHION_LABELS
    if value == "imagenet":
        from toolkit.models.vision import imagenet_labels

        return imagenet_labels()
    if Path(value).is_file():
        labels = label_file(value)
    elif "," in value:
        labels = tuple(label.strip() for label in value.split(","))
    else:
        raise UsageError(f"--labels {value!r}: not a file, a known set ({', '.join(LABEL_SETS)}) or a list a,b,c")
    if not labels or len(labels) > MAX_LABELS:
        raise UsageError(f"--labels {value}: expected 1 to {MAX_LABELS} labels, got {len(labels)}")
    return labels


def model_input(options: ModelOptions, dataset: str | None):
    """ImageInput for (C, S, S), TabularInput for (N,)."""
    shape = tuple(options.input_shape or ((1, 28, 28) if dataset == "fashion-mnist" else ()))
    if len(shape) == 1 and shape[0] >= 1:
        features = tuple(options.features) or tuple(f"x{i}" for i in range(shape[0]))
        if len(features) != shape[0]:
            raise UsageError(f"--features names {len(features)} columns but --input-shape has {shape[0]}")
        return TabularInput(features=features)
    if len(shape) != 3:
        raise UsageError(f"--input-shape {shape or 'missing'}: expected C,H,W (an image) or N (a row of N values)")
    channels, height, width = shape
    if channels not in (1, 3) or height != width or not 1 <= height <= MAX_IMAGE_SIDE:
        raise UsageError(
            f"--input-shape {channels},{height},{width}: images must have 1 or 3 channels and a square side "
            f"of 1..{MAX_IMAGE_SIDE}"
        )
    for name, values in (("--mean", options.mean), ("--std", options.std)):
        if values and len(values) != channels:
            raise UsageError(f"{name} needs {channels} values (one per channel), got {len(values)}")
    background = options.background or ("dark" if dataset == "fashion-mnist" else "photo")
    if background not in ("dark", "photo"):
        raise UsageError(f"--background must be dark or photo, got {background!r}")
    dark = background == "dark"
    std = tuple(options.std) or ((1.0,) * channels if options.mean else ())
    return ImageInput(channels, height, "dark" if dark else None, tuple(options.mean), std, None if dark else height)


def custom_spec(source, options: ModelOptions, builder=None) -> ModelSpec:
    """The spec of a user's model; `builder` makes a fresh module (default: calling the source)."""
    dataset = options.dataset or ("fashion-mnist" if options.labels == "fashion-mnist" else None)
    if dataset not in (None, *DATASETS):
        raise UsageError(f"--dataset {dataset!r}: tk trains on {', '.join(DATASETS)}")
    labels = resolve_labels(options.labels if options.labels is not None or not dataset else "fashion-mnist")
    output = options.output or ("logits" if labels else "value")
    if output not in TASK_OF_OUTPUT:
        raise UsageError(f"--output must be one of {', '.join(TASK_OF_OUTPUT)}, got {output!r}")
    if output == "probability" and not labels:
        labels = ("0", "1")
    if TASK_OF_OUTPUT[output] != "regression" and not labels:
        raise UsageError(f"--output {output} needs --labels (the class names)")
    name = options.name or default_name(source.symbol)
    if not NAME.fullmatch(name):
        raise UsageError(f"--name {name!r}: use lower-case letters, digits, '.', '-' and '_' (64 at most)")
    return ModelSpec(
        name=name,
        builder=builder or (lambda: sources.build(source)),
        task=TASK_OF_OUTPUT[output],
        input=model_input(options, dataset),
        labels=labels,
        dataset=dataset,
        recipes=RECIPES if dataset else {},
        description=f"your own model: {source.reference}",
        output=output,
        atol=options.atol,
        atol_reason="" if options.atol == 1e-4 else "set at export",
        loss=LOSS_OF_OUTPUT[output],
        source=source,
    )


def spec_from_manifest(manifest, builder=None) -> ModelSpec:
    """A user's model as its bundle describes it; `builder` None when its source is not at hand."""
    source = sources.Source.from_dict(manifest.source)
    spec = custom_spec(source, options_from_manifest(manifest), builder)
    return replace(spec, builder=builder, atol_reason=manifest.tolerance.get("reason", ""))


def options_from_manifest(manifest) -> ModelOptions:
    """The options that describe a bundle's model, as `tk export` would have been given them."""
    prep = manifest.preprocessing
    return ModelOptions(
        input_shape=manifest.input.sample_shape,
        labels=manifest.labels if manifest.task != "regression" else None,
        features=manifest.input.features,
        output=manifest.output.kind,
        dataset=manifest.dataset if manifest.dataset in DATASETS else None,  # own data: see models.own_runs
        mean=prep.mean if prep else (),
        std=prep.std if prep else (),
        background=(prep.background or "photo") if prep else None,
        name=manifest.model,
        atol=manifest.atol,
    )


def use_reference(reference: str, options: ModelOptions, args_json: str | None = None) -> ModelSpec:
    """Parse FILE.py:Symbol (or package.module:symbol), describe it, and make it known by its name here."""
    source = sources.parse_reference(reference, args_json)
    sources.load_symbol(source)  # a missing file or symbol, or an import that raises, is said first
    return use(custom_spec(source, options))
