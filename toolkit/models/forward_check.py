"""Does a model take its spec's input and give what its labels need? Asked before training and before export.

A user's model (or a zoo model fitted to a user's data) that does not is refused in one line naming the
input it got and the output it gave, before any epoch runs or any format is written.
"""

from torch import nn

from toolkit.errors import ExportLintError
from toolkit.models.registry import example_input
from toolkit.models.source import describe_exception


def check_forward(module: nn.Module, spec) -> None:
    """The eval-mode module takes the spec's input and gives one output row per sample, as wide as the labels."""
    import torch

    shape = [2, *spec.input.shape]
    try:
        with torch.no_grad():
            out = module(example_input(spec, 2))
    except Exception as exc:  # the user's forward: whatever it raises, name it and the input it got
        detail = describe_exception(exc)
        if _takes_one(module, spec):
            raise ExportLintError(
                f"{spec.name}: the batch dim came out fixed at 1: forward takes a batch of 1 but a batch of 2 "
                f"raises {detail} (a reshape or view with a hard-coded batch?)"
            ) from None
        raise ExportLintError(
            f"{spec.name}: forward on an input of shape {shape} raised {detail} (is --input-shape right?)"
        ) from None
    width = 1 if spec.output in ("probability", "value") else len(spec.labels)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, width):
        got = list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        need = f"{len(spec.labels)} labels" if spec.output in ("logits", "probabilities") else f"a {spec.output}"
        raise ExportLintError(f"{spec.name}: forward gives {got} for a batch of 2; {need} need [2, {width}]")


def _takes_one(module: nn.Module, spec) -> bool:
    import torch

    try:
        with torch.no_grad():
            module(example_input(spec, 1))
        return True
    except Exception:  # any failure: the model does not take this input either
        return False
