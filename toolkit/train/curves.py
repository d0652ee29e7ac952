"""Training curves as a PNG: train loss and the test metric per epoch, the target as a line.

`tk train` writes `curves.png` beside metrics.json; `tk report` embeds the same picture. matplotlib
draws with its Agg backend (no display needed) and is imported only when a picture is drawn.
"""

import io
from pathlib import Path

from toolkit.atomic import write_bytes

CURVES_NAME = "curves.png"


def figure_to_png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(figure)
    return buffer.getvalue()


def plain_text(text) -> str:
    """Text for matplotlib to draw as it is: '$' escaped, since $...$ would be parsed as math (names
    and labels can come from untrusted bundles, and malformed math stops the drawing)."""
    return str(text).replace("$", r"\$")


def pyplot():
    """matplotlib.pyplot on the Agg backend, whatever the environment says."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def curves_png(history: list, metric: str, target=None, title: str = "") -> bytes:
    """Loss (left axis) and `metric` (right axis) by epoch; `target` drawn as a dashed line on the right."""
    plt = pyplot()
    epochs = [e["epoch"] for e in history]
    figure, loss_axis = plt.subplots(figsize=(7, 4))
    loss_axis.plot(epochs, [e["train_loss"] for e in history], "o-", color="tab:blue", label="train loss")
    loss_axis.set_xlabel("epoch")
    loss_axis.set_ylabel("train loss", color="tab:blue")
    metric_axis = loss_axis.twinx()
    accuracy = metric == "test_accuracy"
    values = [e[metric] * (100 if accuracy else 1) for e in history]
    label = "test accuracy (%)" if accuracy else "test mean abs error"
    metric_axis.plot(epochs, values, "s-", color="tab:orange", label=label)
    metric_axis.set_ylabel(label, color="tab:orange")
    if target is not None:
        metric_axis.axhline(target * (100 if accuracy else 1), color="tab:green", linestyle="--", label="target")
    seconds = sum(e["seconds"] for e in history)
    heading = f"{plain_text(title)}: " if title else ""
    loss_axis.set_title(f"{heading}{len(history)} epochs, {seconds:.1f} s of training")
    loss_axis.set_xticks(epochs if len(epochs) <= 20 else epochs[:: max(1, len(epochs) // 10)])
    lines = loss_axis.get_lines() + metric_axis.get_lines()
    loss_axis.legend(lines, [line.get_label() for line in lines], loc="center right")
    loss_axis.grid(alpha=0.3)
    return figure_to_png(figure)


def write_curves(run_dir: Path, history: list, metric: str, target, title: str) -> Path:
    path = Path(run_dir) / CURVES_NAME
    write_bytes(path, curves_png(history, metric, target, title))
    return path
