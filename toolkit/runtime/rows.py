"""Tabular inference inputs: `--values 73,80,75` rows and CSV files -> rows of floats. No torch.

A bad row (wrong feature count, a non-number) becomes a Row with an error naming it, so the other
rows are still answered; a missing or empty CSV file is one such error too.
"""

import math
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Row:
    source: str  # "--values" or "data.csv:3": where the row came from, for messages
    text: str  # the row as given
    values: tuple | None = None
    error: str | None = None


def parse_row(text: str, features: list, source: str) -> Row:
    fields = [field.strip() for field in text.split(",")]
    if len(fields) != len(features):
        expected = f"{len(features)} value{'s' if len(features) != 1 else ''} ({', '.join(features)})"
        return Row(source, text, error=f"{source}: expected {expected}, got {len(fields)}")
    values = []
    for field in fields:
        try:
            value = float(field)
        except ValueError:
            return Row(source, text, error=f"{source}: {field!r} is not a number")
        if not math.isfinite(value):
            return Row(source, text, error=f"{source}: {field!r} is not a finite number")
        values.append(value)
    return Row(source, text, values=tuple(values))


def _is_header(line: str) -> bool:
    try:
        [float(field) for field in line.split(",")]
        return False
    except ValueError:
        return True


def rows_from_csv(path, features: list) -> list:
    """Rows of a CSV file (one per line, blank lines skipped, an optional header line first)."""
    path = Path(path)
    if not path.is_file():
        return [Row(str(path), "", error=f"{path}: {'not a regular file' if path.exists() else 'no such file'}")]
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        return [Row(str(path), "", error=f"{path}: cannot read as text ({exc})")]
    numbered = [(n, line) for n, line in enumerate(lines, start=1) if line.strip()]
    if numbered and _is_header(numbered[0][1]):
        numbered = numbered[1:]
    if not numbered:
        return [Row(str(path), "", error=f"{path}: no rows")]
    return [parse_row(line, features, f"{path}:{n}") for n, line in numbered]


def rows_from_values(texts: list, features: list) -> list:
    return [parse_row(text, features, f"--values {text}") for text in texts]
