"""A folder's images decoded once: one uint8 array on disk, memory-mapped, keyed by the files and the preprocessing.

The key (the data's digest) is the sha256 of the preprocessing and of every file's path, size and mtime,
in order: the same files give the same digest whether a folder or an annotations CSV names them, and
touching a file decodes again. Decoding runs in chunks on every core (toolkit.runtime.image_batch), each
chunk written straight into the array, so memory stays bounded whatever the folder's size. A cache is
written into a temporary folder and renamed into place: a run stopped halfway leaves nothing half-written.
"""

import hashlib
import json
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from toolkit.progress import ProgressBar
from toolkit.runtime.image_batch import decode_files, pixel_shape

CACHE_VERSION = 1
CHUNK = 512  # files per task: a worker's answer stays a few MB
PARALLEL_FROM = 2_000  # fewer files decode faster than worker processes start
PIXELS, SHA1, META = "pixels.u8", "sha1.u8", "meta.json"


@dataclass
class Decoded:
    digest: str
    pixels: np.ndarray  # uint8 [N, S, S] or [N, 3, S, S], memory-mapped (copy-on-write)
    sha1: np.ndarray  # uint8 [N, 20]: each file's bytes, to find duplicates
    failed: dict  # index -> why the file could not be used
    modes: dict  # index -> an unusual PIL mode the file was converted from
    seconds: float  # spent decoding now (0.0: the cache answered)


def cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "toolkit" / "data"


def digest(entries: list, prep) -> str:
    key = hashlib.sha256(json.dumps({"version": CACHE_VERSION, "preprocessing": prep.to_dict()}).encode())
    for entry in entries:
        key.update(f"\n{entry.path}\0{entry.size}\0{entry.mtime_ns}".encode("utf-8", "surrogateescape"))
    return key.hexdigest()


def open_cached(folder: Path, key: str, count: int, prep):
    """The cache at `folder`, or None when it is missing or not this data's."""
    try:
        meta = json.loads((folder / META).read_text())
        if meta.get("digest") != key or meta.get("count") != count:
            return None
        pixels = np.memmap(folder / PIXELS, np.uint8, "c", shape=(count, *pixel_shape(prep)))
        sha1 = np.fromfile(folder / SHA1, np.uint8).reshape(count, 20)
    except (OSError, ValueError):
        return None
    failed = {int(i): why for i, why in meta["failed"].items()}
    return Decoded(key, pixels, sha1, failed, {int(i): m for i, m in meta["modes"].items()}, 0.0)


def decoded(root: Path, entries: list, prep, label: str) -> Decoded:
    """The cached decode of `entries` (relative to root), decoding it first when there is none."""
    key = digest(entries, prep)
    folder = cache_root() / key
    found = open_cached(folder, key, len(entries), prep)
    if found is not None:
        return found
    folder.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix=f".{key[:16]}-", dir=folder.parent))
    try:
        failed, modes = decode_into(work, root, entries, prep, label)
        meta = {"digest": key, "count": len(entries), "failed": failed, "modes": modes}
        (work / META).write_text(json.dumps(meta))
        try:
            work.rename(folder)
        except OSError:  # another run finished the same cache first: theirs is as good
            pass
    finally:
        shutil.rmtree(work, ignore_errors=True)
    found = open_cached(folder, key, len(entries), prep)
    found.seconds = time.perf_counter() - started
    return found


def decode_into(work: Path, root: Path, entries: list, prep, label: str) -> tuple:
    """Decode every file into work/pixels.u8 and work/sha1.u8; ({index: why failed}, {index: mode})."""
    count = len(entries)
    pixels = np.memmap(work / PIXELS, np.uint8, "w+", shape=(max(count, 1), *pixel_shape(prep)))
    sha1 = np.memmap(work / SHA1, np.uint8, "w+", shape=(max(count, 1), 20))
    chunks = [[str(root / e.path) for e in entries[i : i + CHUNK]] for i in range(0, count, CHUNK)]
    failed, modes = {}, {}
    bar = ProgressBar(count, label)
    workers = min(os.cpu_count() or 1, 8) if count >= PARALLEL_FROM else 1
    pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn")) if workers > 1 else None
    try:
        answers = (pool.map if pool else map)(decode_files, chunks, [prep] * len(chunks))
        for number, answer in enumerate(answers):
            start = number * CHUNK
            pixels[start : start + len(answer["pixels"])] = answer["pixels"]
            sha1[start : start + len(answer["sha1"])] = answer["sha1"]
            failed.update({str(start + i): why for i, why in answer["failed"].items()})
            modes.update({str(start + i): mode for i, mode in answer["modes"].items()})
            bar.update(len(answer["pixels"]))
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    pixels.flush()
    sha1.flush()
    seconds = time.perf_counter() - bar.started
    bar.close(f"decoded {count:,} images in {seconds:.1f}s ({count / max(seconds, 1e-9):,.0f}/s), cached for next time")
    return failed, modes
