"""`tk infer`: answer images, tabular rows or text with a bundle's ONNX model (no torch)."""

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from toolkit.cli.app import Device, PublicKeyOption
from toolkit.runtime.bundle import DEFAULT_MODEL, default_bundle_dir

PATHS_HELP = (
    "Image files (PNG, JPEG, GIF, WEBP, BMP, ...); CSV files for tabular models; UTF-8 text files with one "
    "snippet a line for text models."
)
TEXT_HELP = "Text models: a snippet to classify (repeatable)."
SIMILAR_HELP = "Text models: list the words whose learned vectors are nearest to WORD's (cosine), instead."
VALUES_HELP = "Tabular models: one row of comma-separated features, e.g. 73,80,75 (repeatable)."
DEFAULT_BUNDLE = default_bundle_dir(DEFAULT_MODEL)
INVERT_HELP = "Force inverting (or not) the image's polarity; default: detect light backgrounds."
RAY_HELP = "Score the inputs (image files or folders, CSV files, text files) on this Ray cluster ('auto': the Ray way)."
OUT_HELP = "--ray: where the results go, .jsonl (the lines of --json) or .parquet; written whole or not at all."


def infer(
    paths: Annotated[Optional[list[Path]], typer.Argument(help=PATHS_HELP, show_default=False)] = None,
    model: Annotated[Path, typer.Option(help="Exported bundle folder.")] = DEFAULT_BUNDLE,
    values: Annotated[Optional[list[str]], typer.Option("--values", help=VALUES_HELP, show_default=False)] = None,
    top_k: Annotated[int, typer.Option(min=1, help="How many of the most likely labels to report.")] = 1,
    json_output: Annotated[bool, typer.Option("--json", help="JSON Lines: one object per input, in order.")] = False,
    invert: Annotated[Optional[bool], typer.Option("--invert/--no-invert", help=INVERT_HELP)] = None,
    device: Annotated[Device, typer.Option(help="ONNX Runtime provider.")] = Device.auto,
    public_key: PublicKeyOption = None,
    texts: Annotated[Optional[list[str]], typer.Option("--text", help=TEXT_HELP, show_default=False)] = None,
    similar: Annotated[Optional[str], typer.Option(help=SIMILAR_HELP, metavar="WORD", show_default=False)] = None,
    ray: Annotated[Optional[str], typer.Option("--ray", help=RAY_HELP, metavar="ADDRESS", show_default=False)] = None,
    out: Annotated[Optional[Path], typer.Option(help=OUT_HELP, show_default=False)] = None,
    actors: Annotated[int, typer.Option(min=1, max=10_000, help="--ray: actors scoring at once.")] = 2,
):
    """Answer images, tabular rows or text with the exported ONNX model (no torch needed)."""
    from toolkit.runtime import Predictor

    if ray is not None or out is not None:
        return score_on_ray(ray, paths or [], model, out, dict(top_k=top_k, invert=invert, actors=actors), public_key)

    predictor = Predictor(model, device=device.value, threads=1, public_key=public_key)
    if predictor.warning:
        typer.echo(f"tk: warning: {model}: {predictor.warning}", err=True)
    if similar is not None:
        return print_similar(predictor, similar, top_k if top_k > 1 else 10, json_output)
    failed = 0
    for result in predictor.answer(paths or [], values or [], top_k=top_k, invert=invert, texts=texts or []):
        failed += "error" in result
        if json_output:
            typer.echo(json.dumps(result))
        elif "error" in result:
            typer.echo(f"tk: error: {result['error']}", err=True)
        else:
            typer.echo(human_answer(result))
    if failed:
        raise typer.Exit(1)


def score_on_ray(address, paths, model, out, options: dict, public_key):
    from toolkit.errors import UsageError

    if address is None or out is None:
        raise UsageError("--ray ADDRESS and --out FILE go together (batch scoring on a Ray cluster)")
    from toolkit.deploy.ray_data import score_on_ray as score

    if score(address, paths, model, out, options, public_key, log=lambda line: typer.echo(line, err=True)):
        raise typer.Exit(1)


def print_similar(predictor, word: str, count: int, json_output: bool) -> None:
    from toolkit.runtime.embeddings import nearest_words

    found = nearest_words(predictor, word, count)
    if json_output:
        typer.echo(json.dumps({"word": word, "nearest": [{"word": w, "cosine": c} for w, c in found]}))
        return
    for neighbour, cosine in found:
        typer.echo(f"{neighbour}\t{cosine:.3f}")


def human_answer(result: dict) -> str:
    """One line per input: `path: Label (p%)` for images, `row -> answer` for tabular rows, `source: answer`
    and what the tokenizer left out for text."""
    if "source" in result:
        answer = ", ".join(f"{t['label']} ({t['probability']:.1%})" for t in result["top"])
        notes = [f"{result['unknown']} of {result['words']} words unknown"] if result["unknown"] else []
        notes += [f"{result['cut']} words past the first {result['words']} left out"] if result["cut"] else []
        return f"{result['source']}: {answer}" + (f"  ({'; '.join(notes)})" if notes else "")
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
