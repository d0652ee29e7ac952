"""The model registry: name -> ModelSpec, filled by the @register decorator on small factories.

A spec carries everything the pipeline needs to know about a model (its input, labels, dataset,
training recipes) so that train, export and verify never special-case a model by name.
"""

from dataclasses import dataclass, field
from typing import Callable

from toolkit.errors import UnknownModelError


@dataclass(frozen=True)
class Recipe:
    """How to train a model: optimizer, learning-rate schedule, batch size and epochs."""

    optimizer: str  # "adamw" or "sgd"
    lr: float
    batch_size: int
    epochs: int
    schedule: str = "constant"  # "constant" or "onecycle" (linear warm-up, cosine down)
    weight_decay: float = 0.0
    momentum: float = 0.0
    label_smoothing: float = 0.0
    warmup_fraction: float = 0.2


@dataclass(frozen=True)
class ImageInput:
    """An image model's input: float32 [batch, channels, size, size] scaled to [0, 1]."""

    channels: int
    size: int
    background: str  # the training images' background after preprocessing: "dark" or "light"
    mean: tuple = ()  # per-channel normalisation the model expects after scaling, if any
    std: tuple = ()

    @property
    def shape(self) -> tuple:
        return (self.channels, self.size, self.size)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    builder: Callable
    task: str  # "classification"
    input: ImageInput
    labels: tuple
    dataset: str
    recipes: dict = field(default_factory=dict)  # recipe name -> Recipe; "default" is required
    reference_accuracy: float | None = None  # the test accuracy the default recipe must reach
    description: str = ""

    def build(self):
        return self.builder()


_REGISTRY: dict = {}


def register(factory: Callable[[], ModelSpec]) -> Callable[[], ModelSpec]:
    spec = factory()
    if spec.name in _REGISTRY:
        raise ValueError(f"model {spec.name!r} registered twice")
    if "default" not in spec.recipes:
        raise ValueError(f"model {spec.name!r} has no default recipe")
    _REGISTRY[spec.name] = spec
    return factory


def get_spec(name: str) -> ModelSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownModelError(f"unknown model {name!r}; known models: {', '.join(model_names())}") from None


def model_names() -> list:
    return sorted(_REGISTRY)
