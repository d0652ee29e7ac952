"""The options that describe a user's own model (`tk train FILE.py:Net ...`, `tk export FILE.py:Net ...`).

A MODEL argument holding a colon is a reference to the user's code; these options say what the
registry says for the zoo's models: input shape, labels, what forward returns, preprocessing.
"""

from typing import Annotated, Optional

import typer

from toolkit.errors import UsageError

PANEL = "Your own model (MODEL = FILE.py:Symbol or package.module:symbol)"


def _option(*names, help: str):
    return typer.Option(*names, help=help, rich_help_panel=PANEL, show_default=False)


NameOption = Annotated[Optional[str], _option("--name", help="The model's name (default: the symbol in kebab case).")]
ArgsOption = Annotated[
    Optional[str], _option("--args", help="Keyword arguments for the class or factory, as JSON: '{\"hidden\": 256}'.")
]
InputShapeOption = Annotated[
    Optional[str],
    _option("--input-shape", help="One sample's shape: C,H,W for images (e.g. 3,32,32), N for rows of N values."),
]
LabelsOption = Annotated[
    Optional[str], _option("--labels", help="Class names: fashion-mnist, imagenet, a file (one a line) or a,b,c.")
]
FeaturesOption = Annotated[Optional[str], _option("--features", help="Rows: the column names, comma-separated.")]
OutputOption = Annotated[
    Optional[str],
    _option("--output", help="What forward returns: logits (default with labels), probabilities, probability, value."),
]
DatasetOption = Annotated[
    Optional[str], _option("--dataset", help="What it learns: fashion-mnist (the default with --labels fashion-mnist).")
]
MeanOption = Annotated[Optional[str], _option("--mean", help="Images: per-channel mean after scaling to [0, 1].")]
StdOption = Annotated[Optional[str], _option("--std", help="Images: per-channel std after scaling to [0, 1].")]
BackgroundOption = Annotated[
    Optional[str],
    _option("--background", help="Images: dark (light items on black, like Fashion-MNIST) or photo."),
]


def numbers(option: str, text: str | None, kind=float) -> tuple:
    if text is None:
        return ()
    try:
        return tuple(kind(part) for part in text.split(","))
    except ValueError:
        raise UsageError(f"{option} {text!r}: expected comma-separated numbers") from None


def use_model(model: str, *, args=None, **described) -> str:
    """The model's name; a reference (FILE.py:Symbol) is described by the options and made known by that name.
    Options describing a model given with a registered name are refused."""
    given = {option: value for option, value in described.items() if value is not None}
    from toolkit.models.source import is_reference

    if not is_reference(model):
        if given or args is not None:
            option = "--" + next(iter(given), "args").replace("_", "-")
            raise UsageError(f"{option} describes your own model (FILE.py:Symbol); {model!r} is registered")
        return model
    from toolkit.models.custom import ModelOptions, use_reference

    options = ModelOptions(
        input_shape=numbers("--input-shape", described.get("input_shape"), int) or None,
        labels=described.get("labels"),
        features=tuple(described["features"].split(",")) if described.get("features") else (),
        output=described.get("output"),
        dataset=described.get("dataset"),
        mean=numbers("--mean", described.get("mean")),
        std=numbers("--std", described.get("std")),
        background=described.get("background"),
        name=described.get("name"),
    )
    return use_reference(model, options, args).name
