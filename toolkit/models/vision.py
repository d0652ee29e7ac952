"""torchvision classification architectures: `vgg16` (the save/load tutorial's model) and any
`torchvision/<arch>`. tk does not train them (no ImageNet here, no hub downloads): they are exported
from weights you pass with `tk export NAME --weights FILE.pth`, or from seeded random weights, in
which case the manifest says loudly that the model is untrained.
"""

import functools

from toolkit.errors import UnknownModelError
from toolkit.models.registry import ImageInput, ModelSpec, register, register_family

IMAGENET_INPUT = ImageInput(
    channels=3,
    size=224,
    background=None,
    resize_to=256,
    mean=(0.485, 0.456, 0.406),
    std=(0.229, 0.224, 0.225),
)


@functools.cache
def classification_architectures() -> tuple:
    import torchvision

    return tuple(torchvision.models.list_models(module=torchvision.models))


def _imagenet_labels(arch: str) -> tuple:
    """ImageNet class names from torchvision's weight metadata (shipped in the package, no download)."""
    from torchvision.models import get_model_weights

    try:
        return tuple(get_model_weights(arch).DEFAULT.meta["categories"])
    except (ValueError, KeyError, AttributeError):
        return tuple(str(i) for i in range(1000))


def imagenet_labels() -> tuple:
    """The 1,000 ImageNet-1k class names (`--labels imagenet` for a user's own model)."""
    return _imagenet_labels("resnet18")


def _builder(arch: str):
    def build():
        import torchvision

        return torchvision.models.get_model(arch, weights=None)

    return build


def torchvision_spec(arch: str, name: str | None = None) -> ModelSpec:
    if arch not in classification_architectures():
        raise UnknownModelError(
            f"torchvision has no classification architecture {arch!r}; "
            f"for example: {', '.join(classification_architectures()[:8])}, ..."
        )
    return ModelSpec(
        name=name or f"torchvision/{arch}",
        builder=_builder(arch),
        task="classification",
        input=IMAGENET_INPUT,
        labels=_imagenet_labels(arch),
        dataset=None,
        description=f"torchvision.models.{arch} (ImageNet-1k head); not trained by tk",
        atol=1e-3,
        atol_reason="deep convnets accumulate float32 reordering error over many layers",
    )


@register
def vgg16() -> ModelSpec:
    return torchvision_spec("vgg16", name="vgg16")


register_family("torchvision", torchvision_spec)
