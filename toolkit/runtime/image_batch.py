"""Many image files -> one uint8 array of the pixels the model sees, file by file; problems collected, never raised.

`decode_files` is what a worker process runs over one chunk of a dataset (toolkit.data.own decodes a
folder in chunks, several at once): each file is read once, hashed (to find duplicates) and decoded
by the runtime's own `prepare_pixels`, so a training image is exactly what `tk infer` would make of
the same file. No torch here: a worker starts in a fraction of a second.
"""

import hashlib
import io
import os
import stat

import numpy as np

from toolkit.errors import InputError
from toolkit.runtime.preprocess import decode_image, prepare_pixels
from toolkit.runtime.schema import Preprocessing

MAX_FILE_BYTES = 64 << 20  # no training image is bigger; a bigger file is refused before it is read
USUAL_MODES = ("L", "RGB", "RGBA", "P", "LA")


def pixel_shape(prep: Preprocessing) -> tuple:
    """One prepared image's shape as stored: gray [S, S] (also for a 3-channel model on gray items), RGB [3, S, S]."""
    if prep.channels == 3 and prep.background != "dark":
        return (3, prep.size, prep.size)
    return (prep.size, prep.size)


def read_regular_file(path: str) -> bytes:
    """The bytes of a regular file, at most MAX_FILE_BYTES; a FIFO or device is refused without blocking."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError("not a regular file")
        if info.st_size == 0:
            raise InputError("empty file")
        if info.st_size > MAX_FILE_BYTES:
            raise InputError(f"over {MAX_FILE_BYTES >> 20} MB")
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(MAX_FILE_BYTES + 1)
    finally:
        os.close(fd)


def decode_one(path: str, prep: Preprocessing) -> tuple:
    """(uint8 pixels as stored, sha1 of the bytes, the file's PIL mode); raises InputError without the path."""
    data = read_regular_file(path)
    image = decode_image(io.BytesIO(data), "")
    mode = image.mode
    pixels = prepare_pixels(image, prep)
    if pixels.ndim == 3:
        pixels = pixels.transpose(2, 0, 1)
    return pixels, hashlib.sha1(data).digest(), mode


def decode_files(paths: list, prep: Preprocessing) -> dict:
    """{"pixels": uint8 [n, *pixel_shape], "sha1": uint8 [n, 20], "failed": {i: why}, "modes": {i: mode}}.
    A file that cannot be used leaves zeros in its row and says why in `failed` (modes: the unusual ones)."""
    pixels = np.zeros((len(paths), *pixel_shape(prep)), np.uint8)
    digests = np.zeros((len(paths), 20), np.uint8)
    failed, modes = {}, {}
    for i, path in enumerate(paths):
        try:
            pixels[i], digest, mode = decode_one(path, prep)
        except InputError as exc:
            failed[i] = str(exc).removeprefix(": ")
            continue
        except OSError as exc:  # vanished, unreadable: the file's own fault, not the dataset's
            failed[i] = exc.strerror or type(exc).__name__
            continue
        digests[i] = np.frombuffer(digest, np.uint8)
        if mode not in USUAL_MODES:
            modes[i] = mode
    return {"pixels": pixels, "sha1": digests, "failed": failed, "modes": modes}
