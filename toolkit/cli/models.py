"""`tk models`: the registered models, as a table or as JSON."""

import json
from typing import Annotated

import typer


def models(json_output: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False):
    """List the registered models."""
    from toolkit.models import describe, get_spec, model_names

    rows = [describe(get_spec(name)) for name in model_names()]
    if json_output:
        typer.echo(json.dumps(rows, indent=2))
        return
    typer.echo(f"{'name':<24} {'task':<22} {'input':<10} {'dataset':<17} target")
    for row in rows:
        shape = "x".join(map(str, row["input_shape"]))
        typer.echo(f"{row['name']:<24} {row['task']:<22} {shape:<10} {row['dataset'] or '-':<17} {_target(row)}")
    family = "any torchvision classifier, export with --weights"
    typer.echo(f"{'torchvision/<arch>':<24} {'classification':<22} {'3x224x224':<10} {'-':<17} {family}")


def _target(row: dict) -> str:
    if row["reference_accuracy"] is not None:
        return f"accuracy >= {row['reference_accuracy']:.1%}"
    if row["reference_mae"] is not None:
        return f"mean abs error <= {row['reference_mae']:g}"
    return "not trained by tk (export with --weights)"
