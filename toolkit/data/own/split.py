"""The held-out part of a dataset that has none: a seeded split, stratified by class for classification.

The split is recomputed from (the samples in order, the fraction, the seed), which the run and the
bundle record: export, verify and report score exactly the samples training held out.
"""

import numpy as np

from toolkit.errors import UsageError


def check_fraction(fraction: float) -> float:
    if not 0.0 <= fraction < 1.0:
        raise UsageError(f"--test-split must be at least 0 and below 1, got {fraction}")
    return fraction


def split(classes, fraction: float, seed: int) -> tuple:
    """(train indices, test indices), each ascending. `classes`: int [N] class per sample (stratified: each
    class gives round(n * fraction), at least one of two or more). A fraction of 0 holds nothing out: both
    parts are every sample (scored on its training rows)."""
    check_fraction(fraction)
    classes = np.asarray(classes)
    everything = np.arange(len(classes))
    if fraction == 0.0:
        return everything, everything
    rng = np.random.default_rng(seed)
    held = []
    for value in np.unique(classes):
        members = everything[classes == value]
        count = round(len(members) * fraction)
        count = max(count, 1) if len(members) >= 2 else 0
        held.append(rng.permutation(members)[:count])
    test = np.sort(np.concatenate(held)) if held else everything[:0]
    return np.setdiff1d(everything, test, assume_unique=True), test


def random_split(count: int, fraction: float, seed: int) -> tuple:
    """The same for samples without classes (regression): one class holding every sample."""
    return split(np.zeros(count, np.int64), fraction, seed)
