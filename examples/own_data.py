"""Your own data to try `tk train --data` on: a folder of images and a CSV table, from Fashion-MNIST's test split.

    python examples/own_data.py [OUT_DIR] [--per-class N]

OUT_DIR/clothes/<class>/<n>.png: N test images of each class (default 300), as PNG class folders.
OUT_DIR/clothes.csv: one row per image of the same images' shape (how bright, how wide and tall the
item is, how its brightness spreads), with its class in the column "class": a table to learn from.
"""

import argparse
import csv
from pathlib import Path

import numpy as np
from PIL import Image

from toolkit.data.fashion_mnist import load_fashion_mnist
from toolkit.models.fashion import FASHION_LABELS

COLUMNS = ["brightness", "contrast", "width", "height", "top", "bottom", "left", "right", "filled"]


def folder_name(label: int) -> str:
    return FASHION_LABELS[label].lower().replace("/", "-").replace(" ", "-")


def shape_of(pixels: np.ndarray) -> list:
    """The item's shape in nine numbers: mean, std, its width and height, the four halves' mean, the share lit."""
    lit = pixels > 40
    rows, cols = np.flatnonzero(lit.any(1)), np.flatnonzero(lit.any(0))
    width = int(cols[-1] - cols[0] + 1) if cols.size else 0
    height = int(rows[-1] - rows[0] + 1) if rows.size else 0
    values = pixels.astype(np.float64)
    halves = [values[:14].mean(), values[14:].mean(), values[:, :14].mean(), values[:, 14:].mean()]
    return [round(v, 2) for v in (values.mean(), values.std(), width, height, *halves, lit.mean())]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=Path("."))
    parser.add_argument("--per-class", type=int, default=300)
    args = parser.parse_args()
    data = load_fashion_mnist(download=False)
    images, labels = data.test_images.numpy(), data.test_labels.numpy()
    written = {label: 0 for label in range(10)}
    with open(args.out / "clothes.csv", "w", newline="") as table:
        rows = csv.writer(table)
        rows.writerow([*COLUMNS, "class"])
        for index, (pixels, label) in enumerate(zip(images, labels.tolist(), strict=True)):
            if written[label] == args.per_class:
                continue
            folder = args.out / "clothes" / folder_name(label)
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(folder / f"{index:05d}.png")
            rows.writerow([*shape_of(pixels), folder_name(label)])
            written[label] += 1
    print(f"{args.out / 'clothes'}: {sum(written.values()):,} images in 10 class folders; {args.out / 'clothes.csv'}")


if __name__ == "__main__":
    main()
