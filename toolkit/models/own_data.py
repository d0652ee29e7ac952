"""A model fitted to a user's own data: its labels, its class count, a table's features and standardisation.

`fitted(spec, data, name)` is the spec of `spec`'s architecture learning `data` (toolkit.data.own): the
labels are the data's, the output layer follows the class count (the last Linear layer is replaced
where its width differs), a table's first Linear layer takes its feature count, and a table's rows (and
a regression's target) are standardised inside the model, so every runtime takes raw rows and answers
in the target's units. Images keep the model's input: the data is prepared to it, exactly as the
runtime prepares a file (the manifest's preprocessing).
"""

import re
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

from toolkit.errors import UsageError
from toolkit.models.registry import ModelSpec, Recipe, TabularInput

# A user's own model on a table (the zoo's keep their own recipes): small batches, one-cycle AdamW.
TABLE_RECIPE = Recipe("adamw", lr=1e-2, batch_size=64, epochs=40, schedule="onecycle", weight_decay=1e-4)
INPUT_KIND = {"images": "image", "table": "tabular", "text": "text"}


class Standardized(nn.Module):
    """rows -> the model on (rows - mean) / std: the training split's statistics, carried as buffers."""

    def __init__(self, net: nn.Module, mean, std):
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32))

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return self.net((rows - self.mean) / self.std)


class StandardizedRegression(Standardized):
    """A regression's too: the model's output is a z-score of the target, answered as `out * std + mean`, so
    the weights learn values near 1 whatever the target's units (house prices as easily as grades)."""

    def __init__(self, net: nn.Module, mean, std, target: dict):
        super().__init__(net, mean, std)
        self.register_buffer("target_mean", torch.tensor(target["mean"], dtype=torch.float32))
        self.register_buffer("target_std", torch.tensor(target["std"], dtype=torch.float32))

    def forward(self, rows: torch.Tensor) -> torch.Tensor:  # written out: TorchScript has no super()
        return self.net((rows - self.mean) / self.std) * self.target_std + self.target_mean


def standardized(net: nn.Module, norm: dict) -> nn.Module:
    if norm.get("target"):
        return StandardizedRegression(net, norm["mean"], norm["std"], norm["target"])
    return Standardized(net, norm["mean"], norm["std"])


def replace_linear(net: nn.Module, name: str, in_features: int, out_features: int) -> None:
    old = net.get_submodule(name)
    parent_name, _, child = name.rpartition(".")
    parent = net.get_submodule(parent_name) if parent_name else net
    setattr(parent, child, nn.Linear(in_features, out_features, bias=old.bias is not None))


def fit_layers(net: nn.Module, outputs: int, features: int | None = None) -> nn.Module:
    """`net` with its last Linear layer `outputs` wide and (tables) its first taking `features` values."""
    linears = [(name, m) for name, m in net.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        return net  # nothing to fit: export's check says so if its output is not as wide as the labels
    first_name, first = linears[0]
    if features is not None and first.in_features != features:
        out = outputs if len(linears) == 1 else first.out_features
        replace_linear(net, first_name, features, out)
    last_name, last = [(n, m) for n, m in net.named_modules() if isinstance(m, nn.Linear)][-1]
    if last.out_features != outputs:
        replace_linear(net, last_name, last.in_features, outputs)
    return net


def output_width(spec: ModelSpec, labels: tuple) -> int:
    return 1 if spec.output in ("probability", "value") else len(labels)


def check_fits(spec: ModelSpec, data) -> None:
    """A model that cannot learn this data is refused in one line naming both."""
    kind, wanted = data.kind, INPUT_KIND[data.kind]
    if spec.input.kind != wanted:
        raise UsageError(f"{spec.name} takes {spec.input.kind} input; --data {data.record['path']} is {kind}")
    task = data.record.get("task", "classification")
    if (spec.task == "regression") != (task == "regression"):
        raise UsageError(f"{spec.name} is a {spec.task} model; the data's {data.record.get('target')!r} is {task}")
    if spec.task == "binary-classification" and len(data.labels) != 2:
        raise UsageError(f"{spec.name} tells two classes apart; the data has {len(data.labels)}")


def fitted(spec: ModelSpec, data, name: str, architecture: str | None) -> ModelSpec:
    """The spec of `spec` learning `data`, known as `name`; `architecture`: the zoo model's name (recorded)."""
    check_fits(spec, data)
    data.record["architecture"] = architecture
    data.record["labels"] = list(data.labels)
    data.float_targets = spec.loss in ("bce", "mse")
    outputs = output_width(spec, data.labels)
    norm = data.record.get("normalisation")
    features = data.record.get("features")
    build = spec.builder

    def builder():
        net = fit_layers(build(), outputs, len(features) if features else None)
        return standardized(net, norm) if norm else net

    changes = {"input": TabularInput(features=tuple(features))} if features else {}
    target = norm.get("target") if norm else None
    if target and not spec.atol_reason and target["std"] > 1:  # tk's default tolerance, in the target's units
        reason = f"{spec.atol:g} of the target's standard deviation ({target['std']:.4g}), in its units"
        changes.update(atol=spec.atol * target["std"], atol_reason=reason)
    return replace(
        spec,
        name=name,
        builder=builder if build is not None else None,  # verify without the architecture's code: none
        labels=tuple(data.labels) if spec.task != "regression" else (),
        dataset=data,
        reference_accuracy=None,
        reference_mae=None,
        description=f"{spec.description or spec.name}, trained on {data.record['path']}",
        **changes,
    )


def default_name(model: str, data_path: str) -> str:
    """<model>-<data>: fashion-mlp on ./photos is fashion-mlp-photos."""
    stem = re.sub(r"[^a-z0-9._-]+", "-", Path(data_path).resolve().stem.lower()).strip("-._") or "data"
    return f"{model}-{stem}"[:64].rstrip("-._")
