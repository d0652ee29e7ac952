"""`tk train`: train a model on its dataset with its recipe."""

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from toolkit.cli import own_model as own
from toolkit.cli.app import DataDirOption, Device, ModelArg
from toolkit.runtime.bundle import DEFAULT_MODEL
from toolkit.train import COMPILE_MODES

CompileMode = Enum("CompileMode", {mode: mode for mode in COMPILE_MODES}, type=str)  # the library's own list

RECIPE_HELP = (
    "Training recipe: 'default', 'tutorial' (the tutorial's own SGD settings), "
    "or 'large-batch' (fashion-mlp, for GPUs)."
)
COMPILE_HELP = "torch.compile the model (default: on for CUDA, off for CPU)."
MODE_HELP = "torch.compile mode; implies --compile. reduce-overhead replays CUDA graphs."


def train(
    model: ModelArg = DEFAULT_MODEL,
    recipe: Annotated[Optional[str], typer.Option(help=RECIPE_HELP, show_default="default")] = None,
    epochs: Annotated[Optional[int], typer.Option(help="Epochs (default: the recipe's).")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Batch size (default: the recipe's).")] = None,
    lr: Annotated[Optional[float], typer.Option(help="Peak learning rate (default: the recipe's).")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed (default 0).")] = None,
    device: Annotated[Device, typer.Option(help="Where to train.")] = Device.auto,
    compile: Annotated[Optional[bool], typer.Option("--compile/--no-compile", help=COMPILE_HELP)] = None,
    compile_mode: Annotated[Optional[CompileMode], typer.Option(help=MODE_HELP, show_default="default")] = None,
    limit: Annotated[
        Optional[int], typer.Option(help="Train on the first N training images only (quick runs).")
    ] = None,
    run_dir: Annotated[
        Optional[Path], typer.Option(help="Where checkpoint.pt, metrics.json and curves.png go (default runs/<model>).")
    ] = None,
    resume: Annotated[bool, typer.Option(help="Continue the run in --run-dir from its last checkpoint.")] = False,
    force: Annotated[bool, typer.Option(help="Train a new run over the one already in --run-dir.")] = False,
    data_dir: DataDirOption = None,
    name: own.NameOption = None,
    args: own.ArgsOption = None,
    input_shape: own.InputShapeOption = None,
    labels: own.LabelsOption = None,
    dataset: own.DatasetOption = None,
    mean: own.MeanOption = None,
    std: own.StdOption = None,
):
    """Train a model on its dataset with its recipe; checkpoints after every epoch (yours: FILE.py:Net --dataset)."""
    from toolkit.train import train as run_training

    described = dict(name=name, input_shape=input_shape, labels=labels, mean=mean, std=std)
    model = own.use_model(model, args=args, dataset=dataset, **described)

    run_training(
        model,
        recipe=recipe,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        limit=limit,
        device=device.value,
        compile=compile,
        compile_mode=compile_mode.value if compile_mode else None,
        run_dir=run_dir,
        resume=resume,
        force=force,
        data_dir=data_dir,
    )
