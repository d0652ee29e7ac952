"""The typer app `tk`, the options several commands share, and how errors reach the user.

A ToolkitError becomes one line on stderr and its exit code; file-system errors and Ctrl-C too. Anything
else is a bug in tk and keeps its traceback.
"""

import functools
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


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


ModelArg = Annotated[str, typer.Argument(help="Registered model name (see 'tk models').")]
DataDirOption = Annotated[Optional[Path], typer.Option(help="Folder with the four Fashion-MNIST idx .gz files.")]
PublicKeyOption = Annotated[
    Optional[Path],
    typer.Option(
        "--verify-signature",
        help="Refuse the bundle unless its manifest.sig is this Ed25519 public key's signature (tk export --sign).",
        show_default=False,
    ),
]


def fail(message: str, code: int = 1):
    typer.echo(f"tk: error: {message}", err=True)
    raise typer.Exit(code)


def register(function):
    """Make `function` a tk command whose ToolkitErrors, file-system errors and Ctrl-C become one line."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except ToolkitError as exc:
            fail(str(exc), exc.exit_code)
        except OSError as exc:  # a folder that is a file, no permission, a full disk: the user's to fix
            culprit = exc.filename if exc.filename is not None else ""
            fail(f"{culprit}: {exc.strerror or exc}" if culprit else str(exc), 1)
        except KeyboardInterrupt:
            fail("interrupted (checkpoints are whole: 'tk train --resume' continues a training run)", 130)

    return app.command()(wrapper)


def main():
    app(prog_name="tk")
