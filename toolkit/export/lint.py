"""Export lint: refuse, with a one-line reason, what would not compute what eval-mode eager computes.

A module handed over in train mode is not refused: export puts it in eval mode (and back afterwards)
and says so. These checks are for what eval mode cannot fix.
"""

import onnx
from torch import nn

from toolkit.errors import ExportLintError
from toolkit.models.registry import example_input
from toolkit.models.source import describe_exception

RANDOM_OPS = {
    "Dropout",
    "RandomUniform",
    "RandomUniformLike",
    "RandomNormal",
    "RandomNormalLike",
    "Bernoulli",
    "Multinomial",
}


def check_module(module: nn.Module) -> None:
    for name, layer in module.named_modules():
        if isinstance(layer, nn.modules.batchnorm._BatchNorm) and (
            not layer.track_running_stats or layer.running_mean is None
        ):
            raise ExportLintError(
                f"{name or 'model'} ({type(layer).__name__}) has no running statistics: in eval mode it would "
                "still normalise by each batch's own statistics, so outputs would depend on the batch"
            )


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


def check_onnx(model: onnx.ModelProto) -> None:
    random_nodes = sorted({node.op_type for node in model.graph.node if node.op_type in RANDOM_OPS})
    if random_nodes:
        raise ExportLintError(
            f"the exported graph still holds {', '.join(random_nodes)}: dropout left active in eval mode "
            "(e.g. F.dropout(x, training=True)); use nn.Dropout or F.dropout(x, training=self.training)"
        )
    for value in (*model.graph.input, *model.graph.output):
        first = value.type.tensor_type.shape.dim[0]
        if not first.dim_param:
            raise ExportLintError(
                f"the batch dim of {value.name!r} came out fixed at {first.dim_value}: forward specialises the batch "
                "size (a reshape or view with a hard-coded batch?)"
            )
