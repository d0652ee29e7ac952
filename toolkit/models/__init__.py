"""The model zoo. Importing this package registers every model."""

from toolkit.models import fashion, tabular, vision  # noqa: F401  (each registers its models)
from toolkit.models.registry import (
    ImageInput,
    ModelSpec,
    Recipe,
    TabularInput,
    describe,
    get_spec,
    image_input,
    model_names,
    register,
    register_family,
)

__all__ = [
    "ImageInput",
    "ModelSpec",
    "Recipe",
    "TabularInput",
    "describe",
    "get_spec",
    "image_input",
    "model_names",
    "register",
    "register_family",
]
