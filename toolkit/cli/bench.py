"""`tk bench`: training, inference and cold start measured side by side."""

from pathlib import Path
from typing import Annotated, Optional

import typer

from toolkit.cli.app import DataDirOption, Device

QUICK_HELP = "A CPU-sized subset: fashion-mlp only, one tutorial epoch, fewer repeats (under two minutes on 2 cores)."
MODEL_HELP = (
    "Measure only this model (repeatable; default: fashion-mlp and fashion-cnn for training, "
    "every trained model for inference)."
)
SERVING_HELP = (
    "Instead: tk serve against KServe, MLServer and a plain FastAPI server (scripts/serve_peers.sh), "
    "fashion-mlp requests as JSON, binary and PNG at 1, 8 and 64 clients, with wrk."
)
IMAGE_HELP = (
    "Instead: tk image's fashion-mlp image (built with podman) against tk serve run directly: sizes, start to "
    "ready, memory and batch-1 latency with wrk."
)
BENCHMARKS_HELP = "Markdown file whose generated section for this kind of run is replaced (created if missing)."


def bench(
    quick: Annotated[bool, typer.Option(help=QUICK_HELP)] = False,
    model: Annotated[Optional[list[str]], typer.Option("--model", help=MODEL_HELP, show_default=False)] = None,
    device: Annotated[Device, typer.Option(help="Where tk's training variants run.")] = Device.auto,
    seeds: Annotated[
        Optional[int],
        typer.Option(help="Seeds per tk training variant (default 5 on a GPU, else 1).", show_default=False),
    ] = None,
    tutorial_epochs: Annotated[
        Optional[int],
        typer.Option(
            help="Epochs of the tutorial loop (default 10, the tutorial's; 1 with --quick).", show_default=False
        ),
    ] = None,
    json_out: Annotated[
        Optional[Path],
        typer.Option(
            "--json-out", help="Where the JSON report goes (default runs/bench/<kind>.json).", show_default=False
        ),
    ] = None,
    benchmarks: Annotated[Path, typer.Option(help=BENCHMARKS_HELP)] = Path("BENCHMARKS.md"),
    no_benchmarks: Annotated[bool, typer.Option("--no-benchmarks", help="Leave the Markdown file alone.")] = False,
    data_dir: DataDirOption = None,
    serving: Annotated[bool, typer.Option("--serving", help=SERVING_HELP)] = False,
    image: Annotated[bool, typer.Option("--image", help=IMAGE_HELP)] = False,
    peers: Annotated[Path, typer.Option(help="Where scripts/serve_peers.sh made the peers' venvs.")] = Path(
        "runs/peers"
    ),
    seconds: Annotated[int, typer.Option(min=1, help="--serving, --image: how long wrk runs per cell.")] = 10,
):
    """Measure training, inference and cold start side by side; print tables, write JSON, update BENCHMARKS.md."""
    if image or serving:
        side_by_side(image, peers, seconds, None if no_benchmarks else benchmarks)
        return
    from toolkit.bench.suite import run_bench

    run_bench(
        quick=quick,
        models=model,
        device=device.value,
        seeds=seeds,
        tutorial_epochs=tutorial_epochs,
        json_out=json_out,
        benchmarks=None if no_benchmarks else benchmarks,
        data_dir=data_dir,
        log=typer.echo,
    )


def side_by_side(image: bool, peers: Path, seconds: int, benchmarks: Path | None):
    """--image or --serving: exported/fashion-mlp served by tk and by what it is compared with."""
    bundle = Path("exported/fashion-mlp").resolve()
    if image:
        from toolkit.bench.image import run_image_bench

        run_image_bench(bundle, seconds, benchmarks, log=typer.echo)
    else:
        from toolkit.bench.serving import run_serving_bench

        run_serving_bench(bundle, peers, seconds, benchmarks, log=typer.echo)
