"""Typed errors for user mistakes and bad inputs.

The CLI turns a ToolkitError into one line on stderr and the error's exit code; anything else is a
bug in tk and keeps its traceback. Messages name the thing at fault (a path, a model, a backend).
"""


class ToolkitError(Exception):
    """A problem the user can fix; printed as one line, never as a traceback."""

    exit_code = 1


class UsageError(ToolkitError):
    """The command line asks for something that cannot exist (missing model dir, bad option value)."""

    exit_code = 2


class DataError(ToolkitError):
    """The dataset is missing, corrupt or truncated."""


class UnknownModelError(UsageError):
    """A model name that is not in the registry."""


class CheckpointError(ToolkitError):
    """A checkpoint or state_dict that cannot be loaded into the model."""


class BundleError(ToolkitError):
    """An exported bundle that is missing files, has a bad manifest, or fails its hash check."""


class InputError(ToolkitError):
    """An inference input (image file, array) that cannot be used."""


class VerificationError(ToolkitError):
    """One or more exported artifacts do not compute what the eager model computes."""

    def __init__(self, message: str, report: dict | None = None):
        super().__init__(message)
        self.report = report  # the failing verification.json, for `tk verify --json`


class ExportLintError(ToolkitError):
    """The model would export into something that does not compute what eval-mode eager computes."""


class ModelSourceError(UsageError):
    """A user's model reference (FILE.py:Symbol, package.module:factory) that cannot be imported or built."""


class PartialExportError(ToolkitError):
    """Some formats could not be exported; the others were written. Exit 3 tells a script so."""

    exit_code = 3


class ImageError(ToolkitError):
    """An image that cannot be built or saved: the engine, mmdebstrap or pip failed, or a bundle was refused."""
