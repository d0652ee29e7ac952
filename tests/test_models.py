"""The registry, and the promise that fashion-mlp *is* the tutorial's NeuralNetwork."""

import json

import pytest
import torch
from torch import nn

from toolkit.errors import UnknownModelError
from toolkit.models import example_input, get_spec, model_names


class TutorialNeuralNetwork(nn.Module):
    """Copied from the "Learn the Basics" tutorial, unchanged."""

    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28 * 28, 512),
            nn.ReLU(),
            nn.Linear(512, 512),
            nn.ReLU(),
            nn.Linear(512, 10),
        )

    def forward(self, x):
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return logits


def test_state_dicts_move_both_ways_strictly():
    ours, theirs = get_spec("fashion-mlp").build(), TutorialNeuralNetwork()
    theirs.load_state_dict(ours.state_dict(), strict=True)
    ours.load_state_dict(TutorialNeuralNetwork().state_dict(), strict=True)
    x = torch.rand(4, 1, 28, 28)
    theirs.load_state_dict(ours.state_dict(), strict=True)
    assert torch.equal(ours(x), theirs(x))


def test_labels():
    assert get_spec("fashion-mlp").labels == (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    )


def test_unknown_model_lists_known_ones():
    with pytest.raises(UnknownModelError, match="unknown model 'resnet9000'; known models: .*fashion-mlp"):
        get_spec("resnet9000")


@pytest.mark.parametrize("name", model_names())
def test_every_model_builds_and_runs(name):
    spec = get_spec(name)
    x = example_input(spec, 3) if spec.input.kind == "text" else torch.rand(3, *spec.input.shape)
    out = spec.build().eval()(x)
    width = 1 if spec.output in ("value", "probability") else len(spec.labels)
    assert out.shape == (3, width)
    assert "default" in spec.recipes or not spec.trainable


def test_models_command(cli):
    result = cli("models", "--json")
    assert result.exit_code == 0
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["fashion-mlp"]["input_shape"] == [1, 28, 28]
    assert rows["fashion-mlp"]["dataset"] == "fashion-mnist"
    assert "fashion-mlp" in cli("models").stdout
