"""The model zoo. Importing this package registers every model."""

from toolkit.models import fashion, tabular, text, vision  # noqa: F401  (each registers its models)
from toolkit.models.registry import (
    ImageInput,
    ModelSpec,
    Recipe,
    TabularInput,
    TextInput,
    describe,
    dynamic_dims,
    example_input,
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
    "TextInput",
    "describe",
    "dynamic_dims",
    "example_input",
    "get_spec",
    "image_input",
    "model_names",
    "register",
    "register_family",
]
