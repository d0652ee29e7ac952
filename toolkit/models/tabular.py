"""The regression and classification labs on tiny tables ("deep learning zero to all", Labs 2-6).

Each keeps the lab's attribute names (`linear`, `sigmoid`) so the labs' state_dicts load strictly.
"""

from torch import nn

from toolkit.data.tables import TABLES
from toolkit.models.registry import ModelSpec, Recipe, TabularInput, register


class LinearRegression(nn.Module):
    """Labs 2-4: H(x) = Wx + b."""

    def __init__(self, features: int):
        super().__init__()
        self.linear = nn.Linear(features, 1)

    def forward(self, x):
        return self.linear(x)


class BinaryClassifier(nn.Module):
    """Lab 5: sigmoid(Wx + b) = P(class 1)."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        return self.sigmoid(self.linear(x))


class SoftmaxClassifierModel(nn.Module):
    """Lab 6: logits of three classes (softmax lives in the loss and the runtime)."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 3)

    def forward(self, x):
        return self.linear(x)


def _features(table: str) -> TabularInput:
    return TabularInput(features=TABLES[table]["features"])


@register
def linear_regression() -> ModelSpec:
    return ModelSpec(
        name="linear-regression",
        builder=lambda: LinearRegression(1),
        task="regression",
        input=_features("lab2-linear"),
        labels=(),
        dataset="lab2-linear",
        output="value",
        loss="mse",
        # 2,000 full-batch steps of plain SGD, as in the lab
        recipes={"default": Recipe(optimizer="sgd", lr=0.01, batch_size=None, epochs=10, passes_per_epoch=200)},
        reference_mae=0.1,
        description="Lab 2/3 H(x) = Wx + b: Linear(1, 1) on x=[1,2,3] -> y=[2,4,6]",
    )


@register
def multivariate_regression() -> ModelSpec:
    return ModelSpec(
        name="multivariate-regression",
        builder=lambda: LinearRegression(3),
        task="regression",
        input=_features("lab4-quiz-scores"),
        labels=(),
        dataset="lab4-quiz-scores",
        output="value",
        loss="mse",
        recipes={"default": Recipe(optimizer="sgd", lr=1e-5, batch_size=None, epochs=10, passes_per_epoch=100)},
        reference_mae=3.0,
        description="Lab 4-1: Linear(3, 1) from three quiz scores to the final score",
    )


@register
def logistic_regression() -> ModelSpec:
    return ModelSpec(
        name="logistic-regression",
        builder=BinaryClassifier,
        task="binary-classification",
        input=_features("lab5-binary"),
        labels=("0", "1"),
        dataset="lab5-binary",
        output="probability",
        loss="bce",
        recipes={"default": Recipe(optimizer="sgd", lr=1.0, batch_size=None, epochs=10, passes_per_epoch=100)},
        reference_accuracy=1.0,
        description="Lab 5 BinaryClassifier: sigmoid(Linear(2, 1)), output P(class 1)",
    )


@register
def softmax_classifier() -> ModelSpec:
    return ModelSpec(
        name="softmax-classifier",
        builder=SoftmaxClassifierModel,
        task="classification",
        input=_features("lab6-softmax"),
        labels=("0", "1", "2"),
        dataset="lab6-softmax",
        recipes={"default": Recipe(optimizer="sgd", lr=0.1, batch_size=None, epochs=10, passes_per_epoch=100)},
        reference_accuracy=1.0,
        description="Lab 6 SoftmaxClassifierModel: Linear(4, 3), cross entropy",
    )
