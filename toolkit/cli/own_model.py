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


def use_own_data(model: str, *, options, args=None, dataset=None, **described) -> str:
    """The name of `model` fitted to the data `options` name (toolkit.models.own_runs); a zoo model takes
    only --name (and --labels, an annotations CSV's) beside them."""
    from toolkit.models.own_runs import use_data
    from toolkit.models.source import is_reference

    if dataset is not None:
        raise UsageError("--dataset names tk's datasets; --data names your own (give one of them)")
    given = {option: value for option, value in described.items() if value is not None}
    if not is_reference(model):
        extra = [option for option in given if option not in ("name", "labels")] + (["args"] * (args is not None))
        if extra:
            raise UsageError(
                f"--{extra[0].replace('_', '-')} describes your own model (FILE.py:Symbol); {model!r} is registered"
            )
    shape = numbers("--input-shape", given.get("input_shape"), int) or None
    found = {k: v for k, v in given.items() if k in ("name", "output", "background")}
    found.update(mean=numbers("--mean", given.get("mean")), std=numbers("--std", given.get("std")), input_shape=shape)
    return use_data(model, options, found, args)


def use_trained(model: str, checkpoint=None, *, args=None, **described) -> str:
    """export's model: one a run fitted to own data (its data.json says how; nothing else to give but --name),
    else as use_model."""
    from toolkit.models.own_runs import adopt_run

    adopted = adopt_run(model, described.get("name"), args, checkpoint)
    if adopted is None:
        return use_model(model, args=args, **described)
    given = [option for option, value in described.items() if value is not None and option != "name"]
    if given:
        raise UsageError(f"--{given[0].replace('_', '-')}: {adopted} learnt its input and labels from its data")
    return adopted
