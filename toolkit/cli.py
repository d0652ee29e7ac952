"""The `tk` command line: each command parses its options and calls ONE library function.

Library modules are imported inside the commands, so `tk infer` never pays for importing torch.
A ToolkitError becomes one line on stderr and its exit code; no traceback for a user's mistake.
"""

import functools
import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from toolkit.errors import ToolkitError

app = typer.Typer(
    name="tk",
    help="Train the classic PyTorch tutorial models, export them, prove the exports, and serve them.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

DEFAULT_MODEL = "fashion-mlp"


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class CompileMode(str, Enum):
    default = "default"
    reduce_overhead = "reduce-overhead"
    max_autotune = "max-autotune"


class ExportFormat(str, Enum):
    all = "all"
    state_dict = "state-dict"
    torchscript = "torchscript"
    exported_program = "exported-program"
    aoti = "aoti"
    onnx = "onnx"
    onnx_fp16 = "onnx-fp16"
    onnx_int8 = "onnx-int8"
    onnx_e2e = "onnx-e2e"
    triton = "triton"


class Precision(str, Enum):
    fp16 = "fp16"


class Quantization(str, Enum):
    int8 = "int8"


def fail(message: str, code: int = 1):
    typer.echo(f"tk: error: {message}", err=True)
    raise typer.Exit(code)


def user_errors(command):
    """Turn ToolkitError, file-system errors and Ctrl-C into one line and an exit code."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except ToolkitError as exc:
            fail(str(exc), exc.exit_code)
        except OSError as exc:  # a folder that is a file, no permission, a full disk: the user's to fix
            culprit = exc.filename if exc.filename is not None else ""
            fail(f"{culprit}: {exc.strerror or exc}" if culprit else str(exc), 1)
        except KeyboardInterrupt:
            fail("interrupted (checkpoints are whole: 'tk train --resume' continues a training run)", 130)

    return wrapper


ModelArg = Annotated[str, typer.Argument(help="Registered model name (see 'tk models').")]


@app.command()
@user_errors
def train(
    model: ModelArg = DEFAULT_MODEL,
    recipe: Annotated[Optional[str], typer.Option(help="Training recipe: 'default', 'tutorial' (the tutorial's own SGD settings), or 'large-batch' (fashion-mlp, for GPUs).", show_default="default")] = None,
    epochs: Annotated[Optional[int], typer.Option(help="Epochs (default: the recipe's).")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Batch size (default: the recipe's).")] = None,
    lr: Annotated[Optional[float], typer.Option(help="Peak learning rate (default: the recipe's).")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed (default 0).")] = None,
    device: Annotated[Device, typer.Option(help="Where to train.")] = Device.auto,
    compile: Annotated[Optional[bool], typer.Option("--compile/--no-compile", help="torch.compile the model (default: on for CUDA, off for CPU).")] = None,
    compile_mode: Annotated[Optional[CompileMode], typer.Option(help="torch.compile mode; implies --compile. reduce-overhead replays CUDA graphs.", show_default="default")] = None,
    limit: Annotated[Optional[int], typer.Option(help="Train on the first N training images only (quick runs).")] = None,
    run_dir: Annotated[Optional[Path], typer.Option(help="Where checkpoint.pt and metrics.json go (default runs/<model>).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the run in --run-dir from its last checkpoint.")] = False,
    data_dir: Annotated[Optional[Path], typer.Option(help="Folder with the four Fashion-MNIST idx .gz files.")] = None,
):
    """Train a model on its dataset with its recipe; checkpoints after every epoch."""
    from toolkit.errors import UsageError
    from toolkit.train import train as run_training

    if compile_mode is not None:
        if compile is False:
            raise UsageError("--compile-mode needs torch.compile; drop --no-compile")
        compile = True
    mode = compile_mode.value if compile_mode else "default"
    run_training(model, recipe=recipe, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, limit=limit,
                 device=device.value, compile=compile, compile_mode=mode, run_dir=run_dir, resume=resume,
                 data_dir=data_dir)  # fmt: skip


@app.command()
@user_errors
def export(
    model: ModelArg = DEFAULT_MODEL,
    format: Annotated[list[ExportFormat], typer.Option("--format", "-f", help="Format to write; repeat for several ('all': every format that applies).")] = [ExportFormat.all],  # noqa: B006
    out: Annotated[Optional[Path], typer.Option(help="Bundle folder (default exported/<model>); with --format triton, the model repository.")] = None,
    checkpoint: Annotated[Optional[Path], typer.Option("--checkpoint", "--weights", help="Weights: a tk checkpoint or a state_dict file (default: runs/<model>/checkpoint.pt, else the bundle's own state_dict.pth; for models tk does not train, seeded random weights flagged as untrained).")] = None,
    precision: Annotated[Optional[Precision], typer.Option(help="Also write a reduced-precision ONNX file (model.fp16.onnx).")] = None,
    quantize: Annotated[Optional[Quantization], typer.Option(help="Also write an int8 ONNX file calibrated on training images (model.int8.onnx).")] = None,
    opset: Annotated[Optional[int], typer.Option(help="ONNX opset to emit (default: torch's, or the newest --min-ort loads).")] = None,
    min_ort: Annotated[Optional[str], typer.Option("--min-ort", help="Oldest ONNX Runtime that must load the ONNX files, e.g. 1.17.")] = None,
    data_dir: Annotated[Optional[Path], typer.Option(help="Folder with the Fashion-MNIST idx .gz files (int8 calibration).")] = None,
):
    """Export the eager model in eval mode to every deployment format, with manifest.json."""
    from toolkit.export import export as run_export

    formats = [f.value for f in format]
    formats += ["onnx-fp16"] if precision else []
    formats += ["onnx-int8"] if quantize else []
    run_export(model, formats=formats, out_dir=out, checkpoint_file=checkpoint, opset=opset, min_ort=min_ort, data_dir=data_dir)


@app.command()
@user_errors
def verify(
    model: ModelArg = DEFAULT_MODEL,
    bundle: Annotated[Optional[Path], typer.Option(help="Bundle folder (default exported/<model>).")] = None,
    atol: Annotated[Optional[float], typer.Option(help="Largest allowed absolute difference from the eager model (default: the model's own, 1e-4 for most).", show_default=False)] = None,
    data_dir: Annotated[Optional[Path], typer.Option(help="Folder with the four Fashion-MNIST idx .gz files.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print verification.json instead of the table.")] = False,
    skip: Annotated[Optional[list[str]], typer.Option(help="Leave a runtime out of the matrix (listed as not run), e.g. torch.compile.", show_default=False)] = None,
):
    """The parity matrix: every artifact on every runtime against eager; exit 1 listing every failing row."""
    from toolkit.verify import verify as run_verify

    log = (lambda _line: None) if json_output else typer.echo
    try:
        report = run_verify(model, bundle_dir=bundle, atol=atol, data_dir=data_dir, skip=tuple(skip or ()), log=log)
    finally:
        if json_output:
            from toolkit.bundle import VERIFICATION

            path = (bundle or Path("exported") / model) / VERIFICATION
            if path.is_file():
                typer.echo(path.read_text(), nl=False)
    return report


@app.command()
@user_errors
def infer(
    paths: Annotated[Optional[list[Path]], typer.Argument(help="Image files (PNG, JPEG, GIF, WEBP, BMP, ...); CSV files for tabular models.", show_default=False)] = None,
    model: Annotated[Path, typer.Option(help="Exported bundle folder.")] = Path("exported") / DEFAULT_MODEL,
    values: Annotated[Optional[list[str]], typer.Option("--values", help="Tabular models: one row of comma-separated features, e.g. 73,80,75 (repeatable).", show_default=False)] = None,
    top_k: Annotated[int, typer.Option(min=1, help="How many of the most likely labels to report.")] = 1,
    json_output: Annotated[bool, typer.Option("--json", help="JSON Lines: one object per input, in order.")] = False,
    invert: Annotated[Optional[bool], typer.Option("--invert/--no-invert", help="Force inverting (or not) the image's polarity; default: detect light backgrounds.")] = None,
    device: Annotated[Device, typer.Option(help="ONNX Runtime provider.")] = Device.auto,
):
    """Answer images (or tabular rows) with the exported ONNX model (no torch needed)."""
    from toolkit.errors import UsageError
    from toolkit.runtime import Predictor

    paths, values = paths or [], values or []
    predictor = Predictor(model, device=device.value, threads=1)
    if predictor.warning:
        typer.echo(f"tk: warning: {model}: {predictor.warning}", err=True)
    if predictor.manifest["input"]["kind"] == "tabular":
        from toolkit.tabular import rows_from_csv, rows_from_values

        if not paths and not values:
            raise UsageError(f"{model}: give a row with --values ({','.join(predictor.features)}) or CSV files")
        rows = rows_from_values(values, predictor.features)
        for path in paths:
            rows += rows_from_csv(path, predictor.features)
        results = predictor.predict_rows(rows, top_k=top_k)
    else:
        if values:
            raise UsageError(f"{model}: this model takes images, not --values")
        if not paths:
            raise UsageError("give one or more image files")
        results = predictor.predict_files(paths, top_k=top_k, invert=invert)
    failed = 0
    for result in results:
        failed += "error" in result
        if json_output:
            typer.echo(json.dumps(result))
        elif "error" in result:
            typer.echo(f"tk: error: {result['error']}", err=True)
        else:
            typer.echo(_human_answer(result))
    if failed:
        raise typer.Exit(1)


def _human_answer(result: dict) -> str:
    if "path" in result:
        subject = result["path"]
    else:
        given = ",".join(f"{v:g}" for v in result["input"])
        subject = given if result["row"].startswith("--values") else f"{result['row']}: {given}"
    if "value" in result:
        answer = ", ".join(f"{v:.6g}" for v in result["value"])
    else:
        answer = ", ".join(f"{t['label']} ({t['probability']:.1%})" for t in result["top"])
    return f"{subject}: {answer}" if "path" in result else f"{subject} -> {answer}"


@app.command()
@user_errors
def bench(
    quick: Annotated[bool, typer.Option(help="A CPU-sized subset: fashion-mlp only, one tutorial epoch, fewer repeats (under two minutes on 2 cores).")] = False,
    model: Annotated[Optional[list[str]], typer.Option("--model", help="Measure only this model (repeatable; default: fashion-mlp and fashion-cnn for training, every trained model for inference).", show_default=False)] = None,
    device: Annotated[Device, typer.Option(help="Where tk's training variants run.")] = Device.auto,
    seeds: Annotated[Optional[int], typer.Option(help="Seeds per tk training variant (default 5 on a GPU, else 1).", show_default=False)] = None,
    tutorial_epochs: Annotated[Optional[int], typer.Option(help="Epochs of the tutorial loop (default 10, the tutorial's; 1 with --quick).", show_default=False)] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json-out", help="Where the JSON report goes (default runs/bench/<kind>.json).", show_default=False)] = None,
    benchmarks: Annotated[Path, typer.Option(help="Markdown file whose generated section for this kind of run is replaced (created if missing).")] = Path("BENCHMARKS.md"),
    no_benchmarks: Annotated[bool, typer.Option("--no-benchmarks", help="Leave the Markdown file alone.")] = False,
    data_dir: Annotated[Optional[Path], typer.Option(help="Folder with the four Fashion-MNIST idx .gz files.")] = None,
):
    """Measure training, inference and cold start side by side; print tables, write JSON, update BENCHMARKS.md."""
    from toolkit.bench.suite import run_bench

    run_bench(quick=quick, models=model, device=device.value, seeds=seeds, tutorial_epochs=tutorial_epochs,
              json_out=json_out, benchmarks=None if no_benchmarks else benchmarks, data_dir=data_dir, log=typer.echo)  # fmt: skip


@app.command()
@user_errors
def models(json_output: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False):
    """List the registered models."""
    from toolkit.models import get_spec, model_names

    rows = []
    for name in model_names():
        spec = get_spec(name)
        rows.append({"name": name, "task": spec.task, "input_shape": list(spec.input.shape), "dataset": spec.dataset,
                     "reference_accuracy": spec.reference_accuracy, "reference_mae": spec.reference_mae,
                     "trained_by_tk": spec.trainable, "description": spec.description})  # fmt: skip
    if json_output:
        typer.echo(json.dumps(rows, indent=2))
        return
    typer.echo(f"{'name':<24} {'task':<22} {'input':<10} {'dataset':<17} target")
    for row in rows:
        shape = "x".join(map(str, row["input_shape"]))
        if row["reference_accuracy"] is not None:
            target = f"accuracy >= {row['reference_accuracy']:.1%}"
        elif row["reference_mae"] is not None:
            target = f"mean abs error <= {row['reference_mae']:g}"
        else:
            target = "not trained by tk (export with --weights)"
        typer.echo(f"{row['name']:<24} {row['task']:<22} {shape:<10} {row['dataset'] or '-':<17} {target}")
    typer.echo(f"{'torchvision/<arch>':<24} {'classification':<22} {'3x224x224':<10} {'-':<17} any torchvision classifier, export with --weights")


def main():
    app(prog_name="tk")


if __name__ == "__main__":
    sys.exit(main())
