"""A text model's verification inputs: real snippets' ids, random ids and edge cases, int64 [batch, tokens].

Real: the test split's snippets one at a time (each as long as its own ids, so the token dim varies), in
batches of 7 (padded to the longest of the seven) and the whole split in batches of 512 with labels, for
accuracy. Random: ids drawn from the whole embedding table at random lengths, padded. Edge: a single word,
only unknown words, one snippet under a lot of padding, the longest input the tokenizer makes, all padding.
"""

import numpy as np

from toolkit.data import load_dataset
from toolkit.data.reviews import load_reviews
from toolkit.runtime.text import PAD_ID, UNK_ID


def trimmed(ids: np.ndarray) -> np.ndarray:
    """The batch without the padding columns every row has."""
    width = max(int((ids != PAD_ID).sum(axis=1).max(initial=0)), 1)
    return np.ascontiguousarray(ids[:, :width])


def real_batches(batch, data_dir, dataset="rotten-tomatoes") -> list:
    if dataset == "rotten-tomatoes":
        reviews = load_reviews(data_dir)
        ids, labels = reviews.test_ids.numpy(), reviews.test_labels.numpy()
    else:  # your own text lines (toolkit.data.own)
        data = load_dataset(dataset, data_dir)
        ids, labels = data.test_x.numpy(), data.test_y.numpy()
    found = [batch("real", trimmed(ids[i : i + 1])) for i in range(min(32, len(ids)))]
    found += [batch("real", trimmed(ids[i * 7 : i * 7 + 7])) for i in range(min(16, len(ids) // 7))]
    found += [batch("real", ids[i : i + 512], labels[i : i + 512], size=512) for i in range(0, len(ids), 512)]
    return found


def random_ids(rng, rows: int, size: int, longest: int) -> np.ndarray:
    lengths = rng.integers(1, longest + 1, size)
    ids = np.full((size, longest), PAD_ID, dtype=np.int64)
    for row, length in zip(ids, lengths, strict=True):
        row[:length] = rng.integers(UNK_ID, rows, length)
    return trimmed(ids)


def edge_ids(tokenizer) -> list:
    longest = tokenizer.max_words * (2 if tokenizer.bigrams else 1) - (1 if tokenizer.bigrams else 0)
    padded = np.full((1, 4 * longest), PAD_ID, dtype=np.int64)
    padded[0, :3] = [2, 3, 4]
    return [
        np.array([[2]], dtype=np.int64),
        np.full((1, 5), UNK_ID, dtype=np.int64),
        padded,
        (np.arange(longest, dtype=np.int64) % (tokenizer.rows - 2) + 2)[None],
        np.full((1, 3), PAD_ID, dtype=np.int64),
    ]


def text_batches(spec, batch, data_dir, rng) -> list:
    """`batch(kind, x, y=None, size=None)` makes one verify.inputs.Batch."""
    tokenizer = spec.input.tokenizer
    found = real_batches(batch, data_dir, spec.dataset) if spec.dataset is not None else []
    longest = tokenizer.max_words * 2
    found += [batch("random", random_ids(rng, tokenizer.rows, size, longest)) for size in (1, 7, 512)]
    found += [batch("edge", ids) for ids in edge_ids(tokenizer)]
    return found
