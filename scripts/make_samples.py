"""Write the bundled sample images in samples/ from the Fashion-MNIST test split (MIT licence).

One 28x28 PNG per class (the first test image of each class, named by its label and test index),
plus a photo-like JPEG (a dark item on a white, wide-margined, upscaled canvas) that shows the
preprocessing at work. Run from the repo root: python scripts/make_samples.py
"""

from pathlib import Path

import numpy as np
from PIL import Image

from toolkit.data import load_fashion_mnist
from toolkit.models.fashion import FASHION_LABELS

OUT = Path("samples")


def slug(label: str) -> str:
    return label.lower().replace("/", "-").replace(" ", "-")


def main():
    data = load_fashion_mnist()
    images, labels = data.test_images.numpy(), data.test_labels.numpy()
    OUT.mkdir(exist_ok=True)
    for cls, label in enumerate(FASHION_LABELS):
        index = int(np.flatnonzero(labels == cls)[0])
        Image.fromarray(images[index]).save(OUT / f"{slug(label)}-{index}.png", optimize=True)

    # A "product photo": the first sneaker, dark on white, 10x larger, off-centre with wide margins.
    index = int(np.flatnonzero(labels == FASHION_LABELS.index("Sneaker"))[0])
    item = Image.fromarray(255 - images[index]).resize((280, 280), Image.Resampling.BICUBIC)
    canvas = Image.new("RGB", (640, 480), (255, 255, 255))
    canvas.paste(item.convert("RGB"), (60, 150))
    canvas.save(OUT / f"photo-{slug('Sneaker')}-{index}.jpg", quality=92)


if __name__ == "__main__":
    main()
