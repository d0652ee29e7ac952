"""Fashion-MNIST classifiers from the tutorials."""

from torch import nn

from toolkit.models.registry import ImageInput, ModelSpec, Recipe, register

FASHION_LABELS = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip

# Fashion-MNIST images are light items on a black background, 28x28 gray, scaled to [0, 1].
FASHION_INPUT = ImageInput(channels=1, size=28, background="dark")

# The "Learn the Basics" tutorial's own loop: plain SGD, lr 1e-3, batch 64 (~71% after 10 epochs).
TUTORIAL_RECIPE = Recipe(optimizer="sgd", lr=1e-3, batch_size=64, epochs=10)


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
            "default": Recipe(
                optimizer="adamw", lr=2e-3, batch_size=256, epochs=10, schedule="onecycle",
                weight_decay=0.05, label_smoothing=0.1,
            ),
            "tutorial": TUTORIAL_RECIPE,
        },
        reference_accuracy=0.89,
        description="Learn-the-Basics NeuralNetwork: Linear(784,512), ReLU, Linear(512,512), ReLU, Linear(512,10)",
    )
