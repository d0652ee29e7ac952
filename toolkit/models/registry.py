"""The model registry: name -> ModelSpec, filled by the @register decorator on small factories.

A spec carries everything the pipeline needs to know about a model (its input, output, loss, labels,
dataset, training recipes, verification tolerance) so that train, export, verify and infer never
special-case a model by name. Names of the form "torchvision/<arch>" are resolved on demand.
"""

from dataclasses import dataclass, field
from typing import Callable

from toolkit.errors import UnknownModelError, UsageError


@dataclass(frozen=True)
class Recipe:
    """How to train a model: optimizer, learning-rate schedule, batch size and epochs."""

    optimizer: str  # "adamw" or "sgd"
    lr: float
    batch_size: int | None  # None: the whole (tiny) dataset in every step
    epochs: int
    schedule: str = "constant"  # "constant" or "onecycle" (linear warm-up, cosine down)
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    warmup_fraction: float = 0.2
    passes_per_epoch: int = 1  # tiny tables: many passes make one reported (and checkpointed) epoch


@dataclass(frozen=True)
class ImageInput:
    """An image model's input: float32 [batch, channels, size, size] scaled to [0, 1], then (x - mean) / std."""

    channels: int
    size: int
    background: str | None  # the training images' background after preprocessing: "dark", or None for photos
    mean: tuple = ()
    std: tuple = ()
    resize_to: int | None = None  # photos: shorter side resized to this, then centre-cropped to `size`
    kind = "image"

    @property
    def shape(self) -> tuple:
        return (self.channels, self.size, self.size)


@dataclass(frozen=True)
class TabularInput:
    """A tabular model's input: float32 [batch, len(features)]."""

    features: tuple
    kind = "tabular"

    @property
    def shape(self) -> tuple:
        return (len(self.features),)


@dataclass(frozen=True)
class TextInput:
    """A text model's input: int64 token ids [batch, tokens], made from text by the tokenizer (runtime.text)."""

    tokenizer: object  # toolkit.runtime.text.TokenizerSpec
    kind = "text"

    @property
    def shape(self) -> tuple:
        return ("tokens",)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    builder: Callable
    task: str  # "classification", "binary-classification" or "regression"
    input: object  # ImageInput, TabularInput or TextInput
    labels: tuple  # class names; empty for regression
    dataset: str | None  # a name known to toolkit.data, or None (not trained by tk)
    recipes: dict = field(default_factory=dict)  # recipe name -> Recipe; "default" is required if trainable
    reference_accuracy: float | None = None  # classification: the test accuracy the default recipe must reach
    reference_mae: float | None = None  # regression: the mean absolute error it must get under
    description: str = ""
    output: str = "logits"  # what forward returns: "logits", "probabilities", "probability" (P(class 1)), "value"
    train_method: str | None = None  # train on this method's output instead of forward's (e.g. "logits")
    atol: float = 1e-4  # verification tolerance against eager
    atol_reason: str = ""  # why a model needs another tolerance than the default
    loss: str = "cross_entropy"  # "cross_entropy" (logits), "nll" (probabilities), "bce" or "mse"
    source: object = None  # a user's model: its models.source.Source (None for the zoo's)

    @property
    def trainable(self) -> bool:
        return self.dataset is not None

    @property
    def data_record(self) -> dict | None:
        """Where your own data came from (toolkit.data.own's record), or None for a dataset tk names."""
        from toolkit.data.own.source import OwnData  # here: importing the data stage imports torch

        return self.dataset.record if isinstance(self.dataset, OwnData) else None

    @property
    def target_std(self) -> float:
        """What mse measures errors in: a regression's own target is learnt standardised (by its std), else 1."""
        target = ((self.data_record or {}).get("normalisation") or {}).get("target")
        return target["std"] if target else 1.0

    def build(self):
        return self.builder()


_REGISTRY: dict = {}
_IN_USE: dict = {}  # this process's own models (a user's FILE.py:Symbol), by name; see `use`
_RESOLVERS: dict = {}  # prefix -> function(name) -> ModelSpec, for on-demand families


def register(factory: Callable[[], ModelSpec]) -> Callable[[], ModelSpec]:
    spec = factory()
    if spec.name in _REGISTRY:
        raise ValueError(f"model {spec.name!r} registered twice")
    if spec.trainable and "default" not in spec.recipes:
        raise ValueError(f"model {spec.name!r} has no default recipe")
    _REGISTRY[spec.name] = spec
    return factory


def register_family(prefix: str, resolver: Callable[[str], ModelSpec]) -> None:
    _RESOLVERS[prefix] = resolver


def use(spec: ModelSpec) -> ModelSpec:
    """Make a user's model known by its name to this process, so train, export and verify find it like any other."""
    if spec.name in _REGISTRY:
        raise UsageError(f"{spec.name!r} is a registered model's name; give your model another (--name)")
    _IN_USE[spec.name] = spec
    return spec


def get_spec(name: str) -> ModelSpec:
    if name in _IN_USE:
        return _IN_USE[name]
    if name in _REGISTRY:
        return _REGISTRY[name]
    prefix, _, rest = name.partition("/")
    if rest and prefix in _RESOLVERS:
        return _RESOLVERS[prefix](rest)
    families = "".join(f", {p}/<name>" for p in _RESOLVERS)
    raise UnknownModelError(f"unknown model {name!r}; known models: {', '.join(model_names())}{families}")


def model_names() -> list:
    return sorted(_REGISTRY)


def example_input(spec: ModelSpec, batch: int):
    """A batch the model takes: zeros for images and rows; for text, 7 token ids per snippet (2, 3, ...)."""
    import torch

    if spec.input.kind == "text":
        ids = torch.arange(batch * 7, dtype=torch.int64).reshape(batch, 7)
        return ids % (spec.input.tokenizer.rows - 2) + 2
    return torch.zeros((batch, *spec.input.shape))


def dynamic_dims(spec: ModelSpec) -> dict:
    """The input's dims that vary: the batch, and a text model's number of tokens."""
    import torch

    dims = {0: torch.export.Dim("batch", min=1)}
    if spec.input.kind == "text":
        dims[1] = torch.export.Dim("tokens", min=1)
    return dims


def image_input(spec: ModelSpec):
    """The spec's ImageInput (what load_dataset adapts Fashion-MNIST to), or None for a tabular model."""
    return spec.input if spec.input.kind == "image" else None


def describe(spec: ModelSpec) -> dict:
    """What `tk models` shows of a model (the --json keys)."""
    return {
        "name": spec.name,
        "task": spec.task,
        "input_shape": list(spec.input.shape),
        "dataset": spec.dataset,
        "reference_accuracy": spec.reference_accuracy,
        "reference_mae": spec.reference_mae,
        "trained_by_tk": spec.trainable,
        "description": spec.description,
    }
