"""`tk report`: a bundle's one-page HTML model card."""

from pathlib import Path
from typing import Annotated

import typer

from toolkit.cli.app import DataDirOption

BUNDLE_HELP = "The bundle folder (e.g. exported/fashion-mlp)."
OUT_HELP = "Where the page goes (written whole or not at all)."
BENCH_HELP = "Folder of tk bench JSON reports; the newest with figures for this model is shown."


def report(
    bundle: Annotated[Path, typer.Argument(help=BUNDLE_HELP, show_default=False)],
    out: Annotated[Path, typer.Option("--out", help=OUT_HELP)] = Path("report.html"),
    bench_dir: Annotated[Path, typer.Option("--bench-dir", help=BENCH_HELP)] = Path("runs/bench"),
    data_dir: DataDirOption = None,
):
    """Write one self-contained HTML page about a bundle: origin, training, quality, faithfulness, speed, usage."""
    from toolkit.report import write_report

    data = write_report(bundle, out, bench_dir, data_dir)
    for reason in data["missing"]:
        typer.echo(f"report: not shown: {reason}", err=True)
    typer.echo(f"{data['model']}: report -> {out}")
