"""A CSV table with a header -> OwnData: its target column to predict, every other column a numeric feature.

The task: --task, else the model's (a zoo model knows it), else the target's: strings, or whole numbers
with few distinct values, are classes; other numbers are predicted as values. A row with a missing or
non-numeric value is reported and skipped; a column with no number in it is an error. The features'
mean and std come from the training split and are recorded (the model standardises rows itself, so
every runtime takes raw rows).
"""

import csv
import io
import math
from pathlib import Path

import numpy as np
import torch

from toolkit.data import rows_to_input
from toolkit.data.own.images import class_names, targets
from toolkit.data.own.problems import Problems, held_out
from toolkit.data.own.source import OwnData
from toolkit.data.own.split import random_split, split
from toolkit.errors import DataError, UsageError
from toolkit.runtime.bundle import sha256_bytes

MAX_TABLE_BYTES = 256 << 20
MAX_GUESSED_CLASSES = 20  # whole-number targets with at most this many distinct values are taken as classes


def read_rows(path: Path) -> tuple:
    """(file bytes, header, rows as lists of strings)."""
    if path.stat().st_size > MAX_TABLE_BYTES:
        raise DataError(f"{path}: over {MAX_TABLE_BYTES >> 20} MB")
    raw = path.read_bytes()
    try:
        rows = [row for row in csv.reader(io.StringIO(raw.decode("utf-8-sig"))) if any(c.strip() for c in row)]
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except csv.Error as exc:
        raise DataError(f"{path}: not a CSV file ({exc})") from None
    if len(rows) < 2:
        raise DataError(f"{path}: needs a header row and at least one row of values")
    return raw, [cell.strip() for cell in rows[0]], rows[1:]


def number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse(path: Path, header: list, rows: list, target: str, problems: Problems) -> tuple:
    """(features float64 [N, F], targets as strings, feature names): bad rows reported and left out."""
    if target not in header:
        raise UsageError(f"--target {target!r}: {path} has no such column (columns: {', '.join(header)})")
    column = header.index(target)
    names = [name for i, name in enumerate(header) if i != column]
    values, raw_targets, numeric_seen = [], [], np.zeros(len(names), bool)
    for line, row in enumerate(rows, start=2):
        if len(row) != len(header):
            problems.add("rows with the wrong number of columns, skipped", f"line {line}")
            continue
        features = [number(cell) for i, cell in enumerate(row) if i != column]
        numeric_seen |= np.array([v is not None for v in features], bool)
        if any(v is None for v in features) or not row[column].strip():
            problems.add("rows with a missing or non-numeric value, skipped", f"line {line}")
            continue
        values.append(features)
        raw_targets.append(row[column].strip())
    for name in (n for n, seen in zip(names, numeric_seen, strict=True) if not seen):
        raise DataError(f"{path}: column {name!r} holds no numbers; tk learns from numeric columns (drop it)")
    if not values:
        raise DataError(f"{path}: no row has a number in every feature column")
    return np.array(values, np.float64).reshape(len(values), len(names)), raw_targets, tuple(names)


def decide_task(options, model_task: str | None, raw: list) -> str:
    if options.task is not None:
        return options.task
    if model_task is not None:
        return "regression" if model_task == "regression" else "classification"
    numbers = [number(value) for value in raw]
    if any(v is None for v in numbers):
        return "classification"
    whole = all(v == int(v) for v in numbers)
    distinct = len(set(numbers))
    return "classification" if whole and distinct <= min(MAX_GUESSED_CLASSES, len(raw) // 2) else "regression"


def open_table(options, model_task: str | None = None, log=print, expect_digest: str | None = None) -> OwnData:
    path, problems = Path(options.data), Problems()
    raw_bytes, header, rows = read_rows(path)
    key = sha256_bytes(raw_bytes)
    if expect_digest is not None and key != expect_digest:
        raise DataError(f"{path} has changed since the model was trained (its sha256 differs)")
    x, raw_targets, features = parse(path, header, rows, options.target, problems)
    task = decide_task(options, model_task, raw_targets)
    labels, y, (train, test) = targets_of(path, options, task, raw_targets)
    for line in problems.lines(str(path)):
        log(line)
    mean, std = x[train].mean(0), x[train].std(0)
    std[std == 0] = 1.0  # a constant column: left as it is
    normalisation = {"mean": mean.tolist(), "std": std.tolist()} if options.normalise else None
    if normalisation is not None and task == "regression":  # learnt as z-scores, answered in the target's units
        normalisation["target"] = {"mean": float(y[train].mean()), "std": float(y[train].std() or 1.0)}
    record = {
        "kind": "table",
        "path": str(path.resolve()),
        "rows": len(rows),
        "used": len(y),
        "digest": key,
        "target": options.target,
        "task": task,
        "features": list(features),
        "normalisation": normalisation,
        "split": {"test_fraction": options.test_split, "seed": options.seed},
        "train": len(train),
        "test": len(test),
        "problems": problems.counts(),
        "options": options.to_dict(),
    }
    classes = f", {len(labels)} classes" if labels else ""
    log(
        f"{path}: {len(y):,} rows, {len(features)} features -> {options.target!r} ({task}{classes}); {held_out(record)}"
    )

    def load(float_targets: bool):
        rows_x = [torch.from_numpy(x[part].astype(np.float32)) for part in (train, test)]
        if task == "regression":
            rows_y = [torch.from_numpy(y[part].astype(np.float32)).reshape(-1, 1) for part in (train, test)]
        else:
            rows_y = [targets(y[part], float_targets) for part in (train, test)]
        return rows_x[0], rows_y[0], rows_x[1], rows_y[1], rows_to_input

    return OwnData("table", record, labels, load)


def targets_of(path: Path, options, task: str, raw: list) -> tuple:
    """(labels, targets: class indices or values, (train, test) indices)."""
    if task == "regression":
        found = [number(v) for v in raw]
        if any(v is None for v in found):
            raise DataError(
                f"{path}: column {options.target!r} is not numeric; --task classification learns its classes"
            )
        return (), np.array(found, np.float64), random_split(len(found), options.test_split, options.seed)
    labels, y = class_names([_label(v) for v in raw], options.labels)
    if len(labels) < 2:
        raise DataError(f"{path}: column {options.target!r} has one value only ({labels[0]!r}); nothing to learn")
    return labels, y, split(y, options.test_split, options.seed)


def _label(value: str) -> str:
    """A class's name: whole numbers written as floats ("1.0") named as integers ("1")."""
    found = number(value)
    return str(int(found)) if found is not None and found == int(found) and "." in value else value
