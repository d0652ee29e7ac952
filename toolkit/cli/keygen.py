"""`tk keygen`: a new Ed25519 key pair for signing bundles."""

from pathlib import Path
from typing import Annotated

import typer


def keygen(
    key: Annotated[
        Path, typer.Argument(help="The private key (its folder made if missing); the public key goes to KEY.pub.")
    ],
):
    """Make an Ed25519 key pair: KEY (private, mode 600) signs with tk export --sign, KEY.pub checks."""
    from toolkit.runtime.signing import generate

    public = generate(key)
    typer.echo(f"private key -> {key} (keep it secret); public key -> {public} (give it to whoever checks)")
