"""The options that name a user's own data (`tk train MODEL --data ...`); see toolkit.data.own."""

from typing import Annotated, Optional

import typer

from toolkit.errors import UsageError

PANEL = "Your own data"


def _option(*names, help: str, **extra):
    return typer.Option(*names, help=help, rich_help_panel=PANEL, show_default=False, **extra)


DataOption = Annotated[
    Optional[str],
    _option(
        "--data",
        help="Learn from your data: a folder of class folders (or train/ + test/), labels.csv with --images DIR, "
        "table.csv with --target COLUMN, or lines.tsv (text, a tab, the label).",
    ),
]
ImagesOption = Annotated[Optional[str], _option("--images", help="The folder an annotations CSV's file names are in.")]
TargetOption = Annotated[Optional[str], _option("--target", help="A table's column to predict.")]
TaskOption = Annotated[
    Optional[str], _option("--task", help="A table's task: classification or regression (default: from the target).")
]
TestSplitOption = Annotated[
    float,
    _option("--test-split", help="Held out (stratified, seeded by --seed) when the data has no test part; 0: none."),
]
NormaliseOption = Annotated[
    bool, _option("--normalise/--no-normalise", help="Standardise a table's features with the training split's.")
]


def data_options(data, images, target, task, labels, test_split, seed, normalise):
    """DataOptions for --data, or None; the data options without --data are refused."""
    from toolkit.data.own import DataOptions

    if data is None:
        given = [name for name, value in (("--images", images), ("--target", target), ("--task", task)) if value]
        if given or test_split != 0.1 or not normalise:
            raise UsageError(f"{given[0] if given else '--test-split/--no-normalise'} needs --data")
        return None
    return DataOptions(data, images, target, task, labels, test_split, 0 if seed is None else seed, normalise)
