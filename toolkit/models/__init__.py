"""The model zoo. Importing this package registers every model."""

from toolkit.models import fashion  # noqa: F401  (registers the Fashion-MNIST models)
from toolkit.models.registry import ImageInput, ModelSpec, Recipe, get_spec, model_names, register

__all__ = ["ImageInput", "ModelSpec", "Recipe", "get_spec", "model_names", "register"]
