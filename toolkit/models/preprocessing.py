"""How the runtime turns an image file into a model's input (the manifest's `preprocessing`), from its spec.

Training on a user's own images prepares every file with exactly this (toolkit.data.own), and the
bundle's manifest carries it (toolkit.export.manifest): one definition, so there is no train/serve skew.
"""

from toolkit.runtime.schema import Preprocessing


def preprocessing(spec) -> Preprocessing | None:
    """How the runtime turns an image file into the model's input; None for tabular and text models."""
    return input_preprocessing(spec.input)


def input_preprocessing(image) -> Preprocessing | None:
    """The same, from the model's input alone (a spec's `input`: ImageInput, TabularInput or TextInput)."""
    if image.kind != "image":
        return None
    common = {"size": image.size, "channels": image.channels, "scale": 1 / 255, "mean": image.mean, "std": image.std}
    if image.background == "dark":  # Fashion-MNIST style: gray, light item on black, trimmed and centred
        return Preprocessing(
            **common,
            background="dark",
            invert="auto",
            trim=True,
            resize="longest-side-keep-aspect",
            resample="bicubic-antialias",
        )
    return Preprocessing(
        **common,
        background=None,
        invert="never",
        trim=False,
        resize="shorter-side-then-centre-crop",
        resample="bilinear",
        resize_to=image.resize_to,
    )
