"""`tk image`: bundles -> a small, locked-down OCI image serving them, and its Kubernetes/KServe manifests."""

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from toolkit.cli.app import PublicKeyOption

BUNDLES_HELP = "Bundle folders to serve; each is checked against its manifest's hashes before it goes in."
TAG_HELP = "The image's name (default localhost/tk-<first model>:latest)."
OUT_HELP = (
    "Also save the image as an archive that 'podman load' and 'docker load' take (.tar or .tar.gz); "
    "deploy/ goes beside it."
)
TOKEN_HELP = (
    "Where the container reads its token: a path inside it (e.g. /run/secrets/tk/token) where you mount a secret "
    "file at run time. The image never holds the token."
)
BASE_HELP = "Start from this image (e.g. python:3.11-slim, pulled if missing) instead of the Debian base made here."


class Engine(str, Enum):
    podman = "podman"
    docker = "docker"


def image(
    bundles: Annotated[list[Path], typer.Argument(help=BUNDLES_HELP, show_default=False)],
    tag: Annotated[Optional[str], typer.Option(help=TAG_HELP, show_default=False)] = None,
    out: Annotated[Optional[Path], typer.Option(help=OUT_HELP, metavar="FILE.tar", show_default=False)] = None,
    engine: Annotated[Engine, typer.Option(help="The container engine that builds and saves it.")] = Engine.podman,
    token_file: Annotated[Optional[str], typer.Option(help=TOKEN_HELP, metavar="PATH", show_default=False)] = None,
    public_key: PublicKeyOption = None,
    base: Annotated[Optional[str], typer.Option(help=BASE_HELP, metavar="IMAGE", show_default=False)] = None,
):
    """Build an OCI image that serves the bundles (tk serve on 0.0.0.0, REST 8080, gRPC 8081), non-root and
    read-only, with deploy/k8s.yaml and deploy/kserve.yaml beside it."""
    from toolkit.deploy.image import build_image

    log = lambda line: typer.echo(line, err=True)  # noqa: E731
    built = build_image(bundles, tag, out, engine.value, token_file, public_key, base, log=log)
    typer.echo(
        f"{built.tag}: {built.image_id[:19]}, {built.size / 1e6:.0f} MB unpacked, serving {', '.join(built.models)}"
    )
    if built.archive is not None:
        load = (
            f"gunzip -c {built.archive} | podman load"
            if built.archive.suffix == ".gz"
            else f"podman load -i {built.archive}"
        )
        typer.echo(
            f"{built.archive}: {built.archive.stat().st_size / 1e6:.0f} MB ({load}; docker load -i takes it as it is)"
        )
    typer.echo(f"{built.deploy}/k8s.yaml, {built.deploy}/kserve.yaml: kubectl apply -f ...")
    typer.echo(f"run it: {run_line(built, token_file)}")


def run_line(built, token_file) -> str:
    """The locked-down `podman run` a user pastes."""
    from toolkit.deploy.context import LOCKED_DOWN

    line = f"podman run --rm -p 8080:8080 -p 8081:8081 {' '.join(LOCKED_DOWN)}"
    if token_file:
        line += f" -v ./token:{token_file}:ro"
    return f"{line} {built.tag}"
