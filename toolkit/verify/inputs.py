"""The inputs verify feeds every artifact: real data, seeded random inputs and edge inputs, in batches.

Real data where the model has a dataset (the whole Fashion-MNIST test split, for accuracy; a lab's
rows), seeded random inputs, and edge inputs (all zeros, all ones, a single bright pixel), at batch
sizes 1, 7 and 512 (16 for inputs as large as 224x224 photos). A text model's are in text_inputs.
"""

from dataclasses import dataclass

import numpy as np

from toolkit.data import load_dataset
from toolkit.models import image_input
from toolkit.verify.text_inputs import text_batches

LARGE_INPUT = 10_000  # values per sample above which the big batch shrinks to 16 (224x224 photos on a CPU)


@dataclass
class Batch:
    kind: str  # "real", "random" or "edge"
    x: np.ndarray
    y: np.ndarray | None = None  # labels or targets: the batch counts for accuracy / error
    size: int | None = None  # the batch size it stands for (a split's last chunk may be smaller)

    def __post_init__(self):
        self.size = self.size or len(self.x)


def edge_inputs(shape: tuple) -> np.ndarray:
    """All zeros, all ones, and a single bright value in the middle."""
    pixel = np.zeros(shape, np.float32)
    pixel.reshape(-1)[pixel.size // 2] = 1.0
    return np.stack([np.zeros(shape, np.float32), np.ones(shape, np.float32), pixel])


def verification_batches(spec, data_dir=None, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    if spec.input.kind == "text":
        return text_batches(spec, Batch, data_dir, rng)
    shape = spec.input.shape
    big = 16 if int(np.prod(shape)) > LARGE_INPUT else 512
    batches = []
    if spec.input.kind == "image" and spec.dataset is not None:  # Fashion-MNIST, or your own images
        data = load_dataset(spec.dataset, data_dir, image=image_input(spec))
        x, y = data.to_input(data.test_x).numpy(), data.test_y.numpy()
        batches += [Batch("real", x[i : i + 1]) for i in range(min(32, len(x)))]
        batches += [Batch("real", x[i * 7 : i * 7 + 7]) for i in range(min(16, len(x) // 7))]
        batches += [Batch("real", x[i : i + 512], y[i : i + 512], size=512) for i in range(0, len(x), 512)]
        low, high = np.zeros(shape, np.float32), np.ones(shape, np.float32)
    elif spec.dataset is not None:  # a lab's table: its rows, then random rows around them
        data = load_dataset(spec.dataset, data_dir)
        rows, targets = data.test_x.numpy(), data.test_y.numpy()
        span = np.maximum(rows.max(0) - rows.min(0), 1.0)
        low, high = rows.min(0) - span / 2, rows.max(0) + span / 2
        batches.append(Batch("real", rows, targets))
    else:  # an untrained architecture: images in [0, 1], normalised as the model expects
        low, high = np.zeros(shape, np.float32), np.ones(shape, np.float32)

    def normalise(x):
        if spec.input.kind != "image" or not spec.input.mean:
            return x.astype(np.float32)
        mean = np.array(spec.input.mean, np.float32).reshape(-1, 1, 1)
        std = np.array(spec.input.std, np.float32).reshape(-1, 1, 1)
        return ((x - mean) / std).astype(np.float32)

    for size in (1, 7, big):
        batches.append(Batch("random", normalise(rng.uniform(low, high, (size, *shape)))))
    edges = normalise(edge_inputs(shape))
    batches += [Batch("edge", edges[i : i + 1]) for i in range(len(edges))]
    batches.append(Batch("edge", np.concatenate([edges, edges, edges[:1]])))  # a batch of 7
    return batches
