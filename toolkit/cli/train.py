"""`tk train`: train a model on its dataset with its recipe."""

from enum import Enum
from functools import partial
from pathlib import Path
from typing import Annotated, Optional

import typer

from toolkit.cli import own_data
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
LimitOption = Annotated[Optional[int], typer.Option(help="Train on the first N training samples only (quick runs).")]
RunDirOption = Annotated[
    Optional[Path], typer.Option(help="Where checkpoint.pt, metrics.json and curves.png go (default runs/<model>).")
]


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
    limit: LimitOption = None,
    run_dir: RunDirOption = None,
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
    background: own.BackgroundOption = None,
    output: own.OutputOption = None,
    data: own_data.DataOption = None,
    images: own_data.ImagesOption = None,
    target: own_data.TargetOption = None,
    task: own_data.TaskOption = None,
    test_split: own_data.TestSplitOption = 0.1,
    normalise: own_data.NormaliseOption = True,
):
    """Train a model on its dataset with its recipe, or on yours (--data); checkpoints after every epoch."""
    from toolkit.train import train as run_training

    described = dict(name=name, input_shape=input_shape, labels=labels, mean=mean, std=std, background=background)
    found = own_data.data_options(data, images, target, task, labels, test_split, seed, normalise)
    use = own.use_model if found is None else partial(own.use_own_data, options=found)
    model = use(model, args=args, dataset=dataset, output=output, **described)
    config = dict(recipe=recipe, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, limit=limit)
    mode = compile_mode.value if compile_mode else None
    config.update(device=device.value, compile=compile, compile_mode=mode, run_dir=run_dir, resume=resume, force=force)
    run_training(model, **config, data_dir=data_dir)
