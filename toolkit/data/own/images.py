"""A folder of labelled images -> OwnData: scanned, decoded once into the cache, checked, split.

What is wrong with the files is reported (first few by name, then counts) and skipped where it can
be: unreadable, empty, truncated, too large, not images, duplicates, links leaving the folder, names
that are not UTF-8. What cannot be skipped is an error: no images at all, a single class.
"""

from pathlib import Path

import numpy as np
import torch

from toolkit.data.fashion_mnist import input_function
from toolkit.data.own import cache, scan
from toolkit.data.own.problems import Problems, held_out
from toolkit.data.own.source import OwnData, label_names
from toolkit.data.own.split import split
from toolkit.errors import DataError, UsageError

IMBALANCE = 10  # a largest class over ten times the smallest is reported


def entries_of(options, problems: Problems) -> tuple:
    """(the folder file names are relative to, entries, layout)."""
    if options.images is None:
        if options.labels is not None:
            raise UsageError("--labels names an annotations CSV's integer labels; class folders name their own")
        root = Path(options.data)
        return (root, *scan.scan_folder(root, problems))
    root = Path(options.images)
    return root, scan.scan_annotations(Path(options.data), root, problems), "annotations-csv"


def class_names(raw: list, labels_option) -> tuple:
    """(sorted class names, each entry's class index): integers sort as numbers, and --labels names them."""
    found = sorted(set(raw))
    numeric = all(label.lstrip("-").isdigit() for label in found)
    if numeric:
        found = sorted(found, key=int)
    if labels_option is None:
        position = {name: i for i, name in enumerate(found)}
        return tuple(found), np.array([position[label] for label in raw])
    if not numeric:
        raise UsageError("--labels names integer labels; this CSV's labels are names already")
    names = label_names(labels_option)
    outside = [label for label in found if not 0 <= int(label) < len(names)]
    if outside:
        raise DataError(f"label {outside[0]} has no name: --labels gives {len(names)} names (0..{len(names) - 1})")
    used = sorted({int(label) for label in found})
    position = {number: i for i, number in enumerate(used)}
    return tuple(names[i] for i in used), np.array([position[int(label)] for label in raw])


def usable(entries: list, decoded, problems: Problems) -> np.ndarray:
    """Indices of the entries to learn from: decoded, and not the same bytes as an earlier file."""
    for i, why in sorted(decoded.failed.items()):
        problems.add("unreadable images, skipped", f"{entries[i].path} ({why})")
    for i, mode in sorted(decoded.modes.items()):
        problems.add("images in an unusual mode, converted", f"{entries[i].path} ({mode})")
    first, keep = {}, []
    for i in range(len(entries)):
        if i in decoded.failed:
            continue
        key = decoded.sha1[i].tobytes()
        if key in first:
            problems.add("duplicate files (the same bytes as another), skipped", f"{entries[i].path} = {first[key]}")
            continue
        first[key] = entries[i].path
        keep.append(i)
    return np.array(keep, dtype=np.int64)


def open_images(options, prep, log=print, expect_digest: str | None = None) -> OwnData:
    """The images `options` names, prepared by `prep` (the bundle's preprocessing); with `expect_digest`,
    the data must be what a model was trained on."""
    problems, where = Problems(), options.data
    root, entries, layout = entries_of(options, problems)
    if not entries:
        for line in problems.lines(where):
            log(line)
        raise DataError(f"{where}: no images found (one sub-folder per class, or --images with an annotations CSV)")
    key = cache.digest(entries, prep)
    if expect_digest is not None and key != expect_digest:
        raise DataError(f"{where} has changed since the model was trained (its files' names, sizes or mtimes differ)")
    decoded = cache.decoded(root, entries, prep, f"{where}:")
    keep = usable(entries, decoded, problems)
    if len(keep) == 0:
        raise DataError(f"{where}: none of its {len(entries):,} image files could be used")
    names, classes = class_names([entries[i].label for i in keep], options.labels)
    if len(names) < 2:
        raise DataError(f"{where}: only one class ({names[0]!r}); a classifier needs two or more")
    counts = np.bincount(classes, minlength=len(names))
    train, test, described = _split(entries, keep, classes, options)
    for line in problems.lines(where):
        log(line)
    imbalance = _report_imbalance(names, counts, where, log)
    cached = "from the cache" if decoded.seconds == 0 else f"decoded in {decoded.seconds:.1f}s"
    record = {
        "kind": "images",
        "path": str(Path(options.data).resolve()),
        "layout": layout,
        "files": len(entries),
        "used": len(keep),
        "digest": key,
        "split": described,
        "train": len(train),
        "test": len(test),
        "classes": dict(zip(names, counts.tolist(), strict=True)),
        "problems": problems.counts(),
        "imbalance": imbalance,
        "options": options.to_dict(),
    }
    log(f"{where}: {len(keep):,} images in {len(names)} classes, {cached}; {held_out(record)}")

    def load(float_targets: bool):
        x = [torch.from_numpy(np.ascontiguousarray(decoded.pixels[keep[part]])) for part in (train, test)]
        y = [targets(classes[part], float_targets) for part in (train, test)]
        return x[0], y[0], x[1], y[1], input_function(prep.channels, prep.mean, prep.std)

    files = tuple(tuple(entries[keep[i]].path for i in part) for part in (train, test))
    return OwnData("images", record, names, load, files=files)


def _report_imbalance(names, counts, where: str, log) -> dict | None:
    largest, smallest = int(counts.argmax()), int(counts.argmin())
    if counts[largest] <= IMBALANCE * counts[smallest]:
        return None
    log(
        f"{where}: classes over {IMBALANCE}:1 imbalanced: {names[largest]!r} has {counts[largest]:,} images, "
        f"{names[smallest]!r} {counts[smallest]:,} (a model may learn to ignore the small ones)"
    )
    return {"largest": names[largest], "smallest": names[smallest]}


def _split(entries, keep, classes, options) -> tuple:
    """(train positions, test positions) into `keep`, and how they were chosen (for the record)."""
    parts = np.array([entries[i].part for i in keep])
    if entries[0].part is not None:
        train, test = np.flatnonzero(parts == "train"), np.flatnonzero(parts == "test")
        if len(test) == 0 or len(train) == 0:
            raise DataError(f"{options.data}: its {'test' if len(test) == 0 else 'train'}/ folder has no usable images")
        return train, test, "train/ and test/ folders"
    train, test = split(classes, options.test_split, options.seed)
    if len(test) == 0:
        raise DataError(f"{options.data}: too few images to hold any out (--test-split {options.test_split})")
    return train, test, {"test_fraction": options.test_split, "seed": options.seed}


def targets(values: np.ndarray, as_float: bool) -> torch.Tensor:
    """Class indices as int64 [N], or as float32 [N, 1] (a binary model's, or a regression's, targets)."""
    if as_float:
        return torch.from_numpy(values.astype(np.float32)).reshape(-1, 1)
    return torch.from_numpy(values.astype(np.int64))
