"""The typer app `tk`, the options several commands share, and how errors reach the user.

A ToolkitError becomes one line on stderr and its exit code; file-system errors and Ctrl-C too. Anything
else is a bug in tk and keeps its traceback.
"""

import functools
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

try:  # typer 0.28 carries its own copy of click; older ones depend on click itself
    from typer._click.exceptions import NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover
    from click.exceptions import NoArgsIsHelpError, UsageError

import toolkit
from toolkit.errors import ToolkitError

app = typer.Typer(
    name="tk",
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish and PowerShell
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


ModelArg = Annotated[
    str,
    typer.Argument(help="A registered model (see 'tk models'), or your own: FILE.py:Symbol or package.module:symbol."),
]
DataDirOption = Annotated[Optional[Path], typer.Option(help="Folder with the four Fashion-MNIST idx .gz files.")]
PublicKeyOption = Annotated[
    Optional[Path],
    typer.Option(
        "--verify-signature",
        help="Refuse the bundle unless its manifest.sig is this Ed25519 public key's signature (tk export --sign).",
        show_default=False,
    ),
]


def show_version(value: bool):
    if value:
        typer.echo(f"tk {toolkit.__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=show_version, is_eager=True, help="Print tk's version and exit.")
    ] = False,
):
    """Train the classic PyTorch tutorial models, export them, prove the exports, and serve them."""


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
        except BrokenPipeError:  # `tk ... | head -1`: the reader left; stop quietly
            quiet_stdout()
            raise typer.Exit(PIPE_CLOSED) from None
        except OSError as exc:  # a folder that is a file, no permission, a full disk: the user's to fix
            culprit = exc.filename if exc.filename is not None else ""
            fail(f"{culprit}: {exc.strerror or exc}" if culprit else str(exc), 1)
        except KeyboardInterrupt:
            fail("interrupted (checkpoints are whole: 'tk train --resume' continues a training run)", 130)

    return app.command()(wrapper)


PIPE_CLOSED = 141  # what a shell reports for a process ended by SIGPIPE


def quiet_stdout():
    """Point stdout at /dev/null, so the interpreter's last flush into a closed pipe says nothing."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def main():
    """`tk`: every usage mistake (an unknown option, a bad value) is one line and exit 2, like every other error."""
    try:
        code = app(prog_name="tk", standalone_mode=False)
    except NoArgsIsHelpError:  # `tk` alone: the help has been shown
        code = 2
    except UsageError as exc:
        where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        typer.echo(f"tk: error: {' '.join(exc.format_message().split())}{where}", err=True)
        code = 2
    except KeyboardInterrupt:
        code = 130
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        quiet_stdout()
        code = PIPE_CLOSED
    sys.exit(code if isinstance(code, int) else 0)
