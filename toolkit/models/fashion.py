"""Fashion-MNIST classifiers from the tutorials and course notes."""

from dataclasses import replace

import torch.nn.functional as F
from torch import nn

from toolkit.models.registry import ImageInput, ModelSpec, Recipe, register

FASHION_LABELS = (
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

# Fashion-MNIST images are light items on a black background, 28x28 gray, scaled to [0, 1].
FASHION_INPUT = ImageInput(channels=1, size=28, background="dark")

# The "Learn the Basics" tutorial's own loop: plain SGD, lr 1e-3, batch 64 (~71% after 10 epochs).
TUTORIAL_RECIPE = Recipe(optimizer="sgd", lr=1e-3, batch_size=64, epochs=10)

# tk's recipe for the Fashion-MNIST networks: AdamW, one-cycle schedule, label smoothing, 10 epochs.
FASHION_RECIPE = Recipe(
    optimizer="adamw",
    lr=2e-3,
    batch_size=256,
    epochs=10,
    schedule="onecycle",
    weight_decay=0.05,
    label_smoothing=0.1,
    warmup_fraction=0.1,
)


class NeuralNetwork(nn.Module):
    """The tutorial's model, attribute names included, so state_dicts move both ways with strict=True."""

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


@register
def fashion_mlp() -> ModelSpec:
    return ModelSpec(
        name="fashion-mlp",
        builder=NeuralNetwork,
        task="classification",
        input=FASHION_INPUT,
        labels=FASHION_LABELS,
        dataset="fashion-mnist",
        recipes={
            # 8 epochs with a short warm-up (5% of the steps): >= 84% after the first epoch and
            # >= 89% in about 16 s on 2 CPU cores (BENCHMARKS.md has the seeds and the sweep).
            "default": replace(FASHION_RECIPE, epochs=8, warmup_fraction=0.05),
            # Few, large steps for GPUs, where a step's cost is mostly launches, not arithmetic:
            # 696 steps instead of 1,872; 89.74 / 89.75 / 89.43% for seeds 0-2 (measured on CPU).
            "large-batch": replace(FASHION_RECIPE, batch_size=1024, lr=6e-3, epochs=12),
            "tutorial": TUTORIAL_RECIPE,
        },
        reference_accuracy=0.89,
        description="Learn-the-Basics NeuralNetwork: Linear(784,512), ReLU, Linear(512,512), ReLU, Linear(512,10)",
    )


class SoftmaxRegression(nn.Module):
    """Lab 7-2's softmax regression: one Linear(784, 10) on flattened images (softmax lives in the loss)."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(28 * 28, 10)

    def forward(self, x):
        return self.linear(x.flatten(1))


class MyModel(nn.Module):
    """The course notes' MyModel: Linear(X_dim, 128), ReLU, Linear(128, y_dim) in `module`, softmax in forward.

    The notes fed this softmax output to CrossEntropyLoss, which applies log-softmax again: a classic
    mistake that flattens the gradients. tk trains on `logits` and keeps the softmax only in forward,
    so the exported graph still outputs probabilities, as the notes' model does.
    """

    def __init__(self, x_dim: int = 28 * 28, y_dim: int = 10):
        super().__init__()
        self.module = nn.Sequential(nn.Linear(x_dim, 128), nn.ReLU(), nn.Linear(128, y_dim))

    def logits(self, x):
        return self.module(x.flatten(1))

    def forward(self, x):
        return F.softmax(self.logits(x), dim=1)


class RegularizedMLP(nn.Module):
    """The regularization notes' MLP: (Linear -> BatchNorm1d -> ReLU -> Dropout) twice, then Linear.

    He (kaiming) initialisation for the ReLU layers, as Lab 7's tips recommend.
    """

    def __init__(self, hidden: int = 512, dropout: float = 0.2):
        super().__init__()
        self.flatten = nn.Flatten()
        self.layers = nn.Sequential(
            nn.Linear(28 * 28, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, 10),
        )
        for layer in self.layers:
            if isinstance(layer, nn.Linear):
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                nn.init.zeros_(layer.bias)

    def forward(self, x):
        return self.layers(self.flatten(x))


class FashionCNN(nn.Module):
    """The ConvNet from Fashion-MNIST's own benchmark table (91.6%)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, kernel_size=5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, kernel_size=5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(64 * 7 * 7, 1024), nn.ReLU(), nn.Dropout(0.4), nn.Linear(1024, 10)
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def _fashion_spec(name, builder, description, recipe, target, **extra) -> ModelSpec:
    return ModelSpec(
        name=name,
        builder=builder,
        task="classification",
        input=FASHION_INPUT,
        labels=FASHION_LABELS,
        dataset="fashion-mnist",
        recipes={"default": recipe, "tutorial": TUTORIAL_RECIPE},
        reference_accuracy=target,
        description=description,
        **extra,
    )


@register
def fashion_linear() -> ModelSpec:
    return _fashion_spec(
        "fashion-linear",
        SoftmaxRegression,
        "Lab 7-2 softmax regression: Linear(784, 10) on flattened images",
        Recipe(optimizer="adamw", lr=3e-3, batch_size=256, epochs=10, schedule="onecycle", warmup_fraction=0.1),
        target=0.83,
    )


@register
def fashion_mlp_small() -> ModelSpec:
    return _fashion_spec(
        "fashion-mlp-small",
        MyModel,
        "course notes' MyModel: Linear(784,128), ReLU, Linear(128,10), softmax in forward (trained on logits)",
        FASHION_RECIPE,
        target=0.87,
        output="probabilities",
        train_method="logits",
    )


@register
def fashion_mlp_bn() -> ModelSpec:
    return _fashion_spec(
        "fashion-mlp-bn",
        RegularizedMLP,
        "regularized MLP: (Linear, BatchNorm1d, ReLU, Dropout 0.2) x2, Linear; He init",
        FASHION_RECIPE,
        target=0.89,
    )


@register
def fashion_cnn() -> ModelSpec:
    return _fashion_spec(
        "fashion-cnn",
        FashionCNN,
        "Fashion-MNIST benchmark ConvNet: Conv5x5(32), pool, Conv5x5(64), pool, Linear(3136,1024), Dropout 0.4, Linear",
        FASHION_RECIPE,
        target=0.915,
    )
