"""Export lint: refuse, with a one-line reason, what would not compute what eval-mode eager computes.

A module handed over in train mode is not refused: export puts it in eval mode (and back afterwards)
and says so. These checks are for what eval mode cannot fix.
"""

import onnx
from torch import nn

from toolkit.errors import ExportLintError
from toolkit.models.forward_check import check_forward  # noqa: F401 (export's check, also training's)

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
