"""Tabular inference inputs: `--values 73,80,75` rows and CSV files -> rows of floats. No torch.

A bad row (wrong feature count, a non-number, a value float32 cannot hold) becomes a Row with an error
naming it, so the other rows are still answered; a missing, unreadable or empty CSV file is one such
error too. CSV files are read as a stream (a million rows need no more memory than a few), with
Python's csv module: quoted fields, and ',', ';' or tab as the delimiter (taken from the first line).
The first line is a header only when none of its fields is a number, so a first row with a typo in
one value is reported as a bad row, not silently skipped.
"""

import csv
import math
from dataclasses import dataclass
from pathlib import Path

FLOAT32_MAX = 3.4028234663852886e38
DELIMITERS = (",", ";", "\t")
MAX_LINE = 1 << 20  # characters in one CSV line; a longer one is an error, not a memory blow-up


@dataclass(frozen=True)
class Row:
    source: str  # "--values" or "data.csv:3": where the row came from, for messages
    text: str  # the row as given
    values: tuple | None = None
    error: str | None = None


def parse_fields(fields: list, text: str, features: list, source: str) -> Row:
    fields = [field.strip() for field in fields]
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
        if abs(value) > FLOAT32_MAX:
            return Row(source, text, error=f"{source}: {field!r} is beyond float32's range (+-3.4e38)")
        values.append(value)
    return Row(source, text, values=tuple(values))


def parse_row(text: str, features: list, source: str) -> Row:
    """One `--values` row: comma-separated numbers."""
    return parse_fields(text.split(","), text, features, source)


def is_number(field: str) -> bool:
    try:
        float(field)
        return True
    except ValueError:
        return False


def delimiter_of(line: str) -> str:
    """The delimiter of a CSV line: the first of ',', ';' and tab that it holds (',' for one column)."""
    return next((d for d in DELIMITERS if d in line), ",")


def rows_from_csv(path, features: list):
    """Yield the Rows of a CSV file, in order (blank lines skipped, an optional header line first)."""
    path = Path(path)
    if path.is_symlink() and not path.exists():
        yield Row(str(path), "", error=f"{path}: a symlink that leads nowhere (or in a loop)")
        return
    if not path.is_file():
        yield Row(str(path), "", error=f"{path}: {'not a regular file' if path.exists() else 'no such file'}")
        return
    try:
        with open(path, "rb") as raw:
            yield from _rows(_lines(raw), path, features)
    except OSError as exc:
        yield Row(str(path), "", error=f"{path}: cannot read ({exc.strerror or exc})")


def _lines(raw):
    """(line number, text or an error) for each line, never holding more than MAX_LINE bytes of one."""
    number = 0
    while line := raw.readline(MAX_LINE + 1):
        number += 1
        if len(line) > MAX_LINE:
            while line and not line.endswith(b"\n"):  # skip the rest of it
                line = raw.readline(MAX_LINE + 1)
            yield number, None, f"longer than {MAX_LINE} bytes"
            continue
        try:
            yield number, line.decode("utf-8").rstrip("\r\n"), None
        except UnicodeDecodeError:
            yield number, None, "not UTF-8 text"


def _rows(lines, path: Path, features: list):
    delimiter, seen = None, 0
    for number, line, problem in lines:
        source = f"{path}:{number}"
        if problem is not None:
            seen += 1
            yield Row(source, "", error=f"{source}: {problem}")
            continue
        if not line.strip():
            continue
        line_delimiter = delimiter or delimiter_of(line)  # the first parsed line sets it for the file
        try:
            fields = next(csv.reader([line], delimiter=line_delimiter), [])
        except csv.Error as exc:  # a stray carriage return or NUL inside a line
            seen += 1
            yield Row(source, line, error=f"{source}: not a CSV line ({exc})")
            continue
        if delimiter is None:
            delimiter = line_delimiter
            if not any(is_number(field.strip()) for field in fields):
                continue  # a header: none of its fields is a number
        seen += 1
        yield parse_fields(fields, line, features, source)
    if not seen:
        yield Row(str(path), "", error=f"{path}: no rows")


def rows_from_values(texts: list, features: list) -> list:
    return [parse_row(text, features, f"--values {text}") for text in texts]
