"""The report's pictures as PNG bytes: confusion matrix, most confident mistakes, residuals, and the
verification matrix drawn against its tolerance. matplotlib (Agg) draws all of them."""

import numpy as np

from toolkit.train.curves import figure_to_png, plain_text, pyplot

TICK_LABEL_CHARS = 14  # long label names are cut so that the axes stay readable


def _short(label: str) -> str:
    """Cut to fit, drawn as plain text (a bundle's labels are untrusted)."""
    return plain_text(label if len(label) <= TICK_LABEL_CHARS else label[: TICK_LABEL_CHARS - 1] + "…")


def confusion_png(confusion: np.ndarray, labels: list) -> bytes:
    """Counts per (true, predicted) class, shaded by the share of each true class."""
    plt = pyplot()
    classes = len(labels)
    side = min(max(4.0, 0.55 * classes + 2), 14.0)
    figure, axis = plt.subplots(figsize=(side, side))
    share = confusion / np.maximum(confusion.sum(1, keepdims=True), 1)
    axis.imshow(share, cmap="Blues", vmin=0, vmax=1)
    if classes <= 30:  # beyond that the numbers would not fit in their cells
        for (true, predicted), count in np.ndenumerate(confusion):
            color = "white" if share[true, predicted] > 0.5 else "black"
            axis.text(predicted, true, str(count), ha="center", va="center", fontsize=8, color=color)
        names = [_short(str(label)) for label in labels]
        axis.set_xticks(range(classes), names, rotation=45, ha="right")
        axis.set_yticks(range(classes), names)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title("confusion matrix (shade: share of the true class)")
    return figure_to_png(figure)


def mistakes_png(mistakes: list, stored: np.ndarray, labels: list) -> bytes:
    """The most confident mistakes as a grid of the test images, each titled true -> predicted (P)."""
    plt = pyplot()
    columns = 6
    rows = max(1, -(-len(mistakes) // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(columns * 1.9, rows * 2.2), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, (index, true, predicted, probability) in zip(axes.flat, mistakes, strict=False):
        picture = stored[index]
        picture = picture.transpose(1, 2, 0) if picture.ndim == 3 else picture  # RGB [3, S, S] (your own photos)
        axis.imshow(picture, cmap="gray", vmin=0, vmax=255)
        axis.set_title(
            f"{_short(str(labels[true]))}\n→ {_short(str(labels[predicted]))} ({probability:.0%})", fontsize=8
        )
    figure.suptitle("most confident mistakes: true → predicted (probability)")
    return figure_to_png(figure)


def residuals_png(targets: np.ndarray, predictions: np.ndarray) -> bytes:
    """Predicted against true (the diagonal is perfect), and the residuals against the prediction."""
    plt = pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    t, p = targets.reshape(-1), predictions.reshape(-1)
    left.scatter(t, p, s=12, alpha=0.7)
    low, high = float(min(t.min(), p.min())), float(max(t.max(), p.max()))
    left.plot([low, high], [low, high], "--", color="gray")
    left.set_xlabel("true")
    left.set_ylabel("predicted")
    left.set_title("predicted vs true")
    right.scatter(p, p - t, s=12, alpha=0.7, color="tab:orange")
    right.axhline(0, color="gray", linestyle="--")
    right.set_xlabel("predicted")
    right.set_ylabel("residual (predicted - true)")
    right.set_title("residuals")
    return figure_to_png(figure)


def verification_png(rows: list, atol: float | None) -> bytes | None:
    """Each exact row's largest difference from the reference on a log axis, the tolerance as a line;
    reduced-precision rows (judged on accuracy) in their own colour. None when no row ran."""
    ran = [r for r in rows if r["max_abs"] is not None]
    if not ran:
        return None
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(9, 0.45 * len(ran) + 1.5))
    floor = (atol or 1e-4) * 1e-4  # an exact 0 still gets a visible bar on the log axis
    values = [max(r["max_abs"], floor) for r in ran]
    colors = ["tab:red" if r["passed"] is False else "tab:blue" if r["rule"] == "exact" else "tab:purple" for r in ran]
    names = [plain_text(f"{r['artifact']} on {r['runtime']}") for r in ran]
    axis.barh(range(len(ran)), values, color=colors)
    axis.set_yticks(range(len(ran)), names)
    axis.invert_yaxis()
    axis.set_xscale("log")
    if atol:
        axis.axvline(atol, color="tab:green", linestyle="--", label=f"atol {atol:g}")
        axis.legend(loc="lower right")
    axis.set_xlabel("max abs difference from the reference (blue: exact rule, purple: task or e2e rule, red: failed)")
    axis.set_title(f"verification: how far each artifact strays (a difference of 0 is drawn at {floor:.0e})")
    return figure_to_png(figure)
