"""Datasets as tensors: Fashion-MNIST from its idx .gz files, the labs' tutorial tables, critics' snippets.

`load_dataset(name)` is what training and verification use; `to_input` turns stored samples into
the model's float32 input (images stay uint8 until a batch is sliced, to keep them small on the device).
"""

from dataclasses import dataclass

import torch

from toolkit.data.fashion_mnist import images_to_input, input_function, load_fashion_mnist, resize_images
from toolkit.data.reviews import load_reviews
from toolkit.data.tables import TABLES, table_tensors
from toolkit.errors import DataError


@dataclass(frozen=True)
class Dataset:
    """Train and test samples on one device; `to_input(samples)` gives the model's float32 input."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    to_input: object

    def to(self, device) -> "Dataset":
        moved = {k: getattr(self, k).to(device) for k in ("train_x", "train_y", "test_x", "test_y")}
        return Dataset(name=self.name, to_input=self.to_input, **moved)


def rows_to_input(rows: torch.Tensor) -> torch.Tensor:
    return rows


def ids_to_input(ids: torch.Tensor) -> torch.Tensor:
    return ids


def vocabulary(name, data_dir=None) -> list:
    """A text dataset's vocabulary (id -> word), built from its training split: what vocab.json holds."""
    if getattr(name, "vocab", None) is not None:  # own text lines (toolkit.data.own)
        return name.vocab()
    if name != "rotten-tomatoes":
        raise DataError(f"dataset {name!r} has no vocabulary")
    return load_reviews(data_dir).vocab


def load_dataset(name: str, data_dir=None, download: bool = True, image=None) -> Dataset:
    """`image`: the model's image input (channels, size, mean, std), when it is not Fashion-MNIST's own
    1x28x28 in [0, 1]: the images are resized once, then repeated per channel and normalised per batch.
    `name` may also be a user's own data (toolkit.data.own.OwnData), prepared for the model already."""
    from toolkit.data.own.source import OwnData

    if isinstance(name, OwnData):
        return Dataset(name.name, *name.samples())
    if name == "fashion-mnist":
        data = load_fashion_mnist(data_dir, download=download)
        train_x, test_x, to_input = data.train_images, data.test_images, images_to_input
        if image is not None and image.size != train_x.shape[-1]:
            train_x, test_x = resize_images(train_x, image.size), resize_images(test_x, image.size)
        if image is not None:
            to_input = input_function(image.channels, image.mean, image.std)
        return Dataset(name, train_x, data.train_labels, test_x, data.test_labels, to_input)
    if name == "rotten-tomatoes":
        reviews = load_reviews(data_dir)
        return Dataset(
            name, reviews.train_ids, reviews.train_labels, reviews.test_ids, reviews.test_labels, ids_to_input
        )
    if name in TABLES:
        x, y = table_tensors(name)
        return Dataset(name, x, y, x, y, rows_to_input)  # the labs score on their training rows
    raise DataError(f"unknown dataset {name!r}")


def manifest_dataset(manifest):
    """What a bundle's model learnt from, for load_dataset: its dataset's name, or its own data's record."""
    if manifest.data is None:
        return manifest.dataset
    from toolkit.data.own import recorded

    return recorded(manifest.data, manifest.labels, manifest.preprocessing)
