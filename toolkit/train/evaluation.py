"""How good a model is on its dataset's test split: accuracy, or mean absolute error for regression."""

import torch

EVAL_BATCH = 2048


def metric_name(spec) -> str:
    return "test_mae" if spec.task == "regression" else "test_accuracy"


@torch.no_grad()
def evaluate(spec, model, data) -> float:
    """Test accuracy (classification) or mean absolute error (regression), in eval mode."""
    was_training = model.training
    model.eval()
    score = 0.0
    for start in range(0, len(data.test_x), EVAL_BATCH):
        out = model(data.to_input(data.test_x[start : start + EVAL_BATCH]))
        y = data.test_y[start : start + EVAL_BATCH]
        if spec.task == "regression":
            score += (out - y).abs().sum().item() / out.shape[1]
        elif spec.task == "binary-classification":
            score += ((out > 0.5).float() == y).sum().item()
        else:
            score += (out.argmax(1) == y).sum().item()
    model.train(was_training)
    return score / len(data.test_x)


def describe(metric: str, score: float) -> str:
    return f"test accuracy {score:.2%}" if metric == "test_accuracy" else f"mean abs error {score:.4g}"
