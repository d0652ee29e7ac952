"""Which image files a folder holds, and their labels: class folders, a train/ + test/ pair, or an annotations CSV.

Only names, sizes and mtimes are read here (nothing is decoded). Nothing outside the named folder is
read: a link that leads out of it is reported and left out, as are names that are not UTF-8, files
outside any class folder and files that are not images by their suffix; hidden files are passed over.
Entries come in the order of their file names, then their paths, whatever their class folder is called.
"""

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from toolkit.data.own.problems import Problems, printable
from toolkit.errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pnm"}
MAX_FILES = 2_000_000
MAX_CSV_BYTES = 256 << 20
OUTSIDE = "links that lead outside the folder, not read"


@dataclass(frozen=True)
class Entry:
    path: str  # relative to the images folder, posix
    size: int
    mtime_ns: int
    label: str
    part: str | None = None  # "train" or "test" in a train/ + test/ pair


def ordered(entries: list) -> list:
    return sorted(entries, key=lambda e: (e.path.rsplit("/", 1)[-1], e.path))


def inside(root: Path, path: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root)
    except (OSError, RuntimeError):  # a loop of links
        return False


def files_under(root: Path, folder: Path, problems: Problems, seen: dict):
    """(relative path, stat) of every image file below `folder`, depth first in name order; `seen` holds the
    folders walked (resolved), the named folder's first."""
    try:
        items = sorted(os.scandir(folder), key=lambda item: item.name)
    except OSError as exc:
        problems.add("folders that could not be read, skipped", f"{folder.name} ({exc.strerror})")
        return
    for item in items:
        if item.name.startswith("."):
            continue
        path = Path(item.path)
        relative = path.relative_to(root).as_posix()
        if printable(item.name) != item.name:
            problems.add("names that are not UTF-8, skipped", printable(relative))
            continue
        if item.is_symlink() and not inside(next(iter(seen)), path):
            problems.add(OUTSIDE, relative)
            continue
        if item.is_dir():
            real = path.resolve()
            if real not in seen:  # a link back up would walk for ever
                seen[real] = None
                yield from files_under(root, path, problems, seen)
        elif not item.is_file():
            problems.add("special files (not regular files), skipped", relative)
        elif path.suffix.lower() not in IMAGE_SUFFIXES:
            problems.add("files that are not images by their suffix, skipped", relative)
        else:
            yield relative, item.stat()
        if len(seen) > MAX_FILES:
            raise DataError(f"{root}: more than {MAX_FILES:,} folders; name a smaller folder")


def class_folders(root: Path, problems: Problems, part: str | None = None, base: Path | None = None) -> list:
    """Entries of root/<class>/...; `base` (the named folder) is what paths are relative to."""
    base = base or root
    entries, seen = [], {base.resolve(): None}  # a dict: ordered, the named folder first
    for item in sorted(os.scandir(root), key=lambda item: item.name):
        if item.name.startswith("."):
            continue
        path = Path(item.path)
        name = path.relative_to(base).as_posix()
        if item.is_symlink() and not inside(base.resolve(), path):
            problems.add(OUTSIDE, name)
        elif item.is_dir():
            found = [
                Entry(relative, info.st_size, info.st_mtime_ns, item.name, part)
                for relative, info in files_under(base, path, problems, seen)
            ]
            if not found:
                problems.add("class folders with no images, left out", name)
            entries += found
        elif item.is_file():
            problems.add("files outside any class folder, skipped", name)
        if len(entries) > MAX_FILES:
            raise DataError(f"{base}: more than {MAX_FILES:,} images")
    return entries


def scan_folder(root: Path, problems: Problems) -> tuple:
    """(entries, layout): a train/ + test/ pair of class folders, or class folders."""
    if (root / "train").is_dir() and (root / "test").is_dir() and not (root / "train").is_symlink():
        train = class_folders(root / "train", problems, "train", root)
        return ordered(train + class_folders(root / "test", problems, "test", root)), "train-test"
    return ordered(class_folders(root, problems)), "class-folders"


def csv_rows(csv_path: Path) -> list:
    if csv_path.stat().st_size > MAX_CSV_BYTES:
        raise DataError(f"{csv_path}: over {MAX_CSV_BYTES >> 20} MB")
    with open(csv_path, newline="", encoding="utf-8", errors="surrogateescape") as f:
        try:
            return [row for row in csv.reader(f) if row and any(cell.strip() for cell in row)]
        except csv.Error as exc:
            raise DataError(f"{csv_path}: not a CSV file ({exc})") from None


def scan_annotations(csv_path: Path, root: Path, problems: Problems) -> list:
    """Entries of an annotations CSV (file name, label; a header row allowed), files relative to `root`."""
    rows, real_root, entries, listed = csv_rows(csv_path), root.resolve(), [], set()
    if rows and (len(rows[0]) < 2 or Path(rows[0][0].strip()).suffix.lower() not in IMAGE_SUFFIXES):
        rows = rows[1:]  # a header: its first cell names no image
    for line, row in enumerate(rows, start=1):
        if len(row) < 2 or not row[1].strip():
            problems.add("rows without a file name and a label, skipped", f"row {line}")
            continue
        name, label = row[0].strip(), row[1].strip()
        shown = printable(name)
        if shown != name or printable(label) != label:
            problems.add("rows that are not UTF-8, skipped", f"row {line}")
        elif Path(name).is_absolute() or not inside(real_root, root / name):
            problems.add("names that lead outside the images folder, not read", shown)
        elif name in listed:
            problems.add("files listed twice, kept once", shown)
        elif not (root / name).is_file():
            problems.add("labels with no file, skipped", shown)
        else:
            listed.add(name)
            info = (root / name).stat()
            entries.append(Entry(Path(name).as_posix(), info.st_size, info.st_mtime_ns, label))
        if len(entries) > MAX_FILES:
            raise DataError(f"{csv_path}: more than {MAX_FILES:,} rows")
    return ordered(entries)
