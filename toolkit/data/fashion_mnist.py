"""Fashion-MNIST straight from the original idx .gz files into uint8 tensors.

No per-sample PIL transforms: the whole split is decoded with numpy in one go, and training slices
it on the device. Where the files are looked for, in order:
  --data-dir, $TK_DATA_DIR, /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist),
  ~/.cache/toolkit/fashion-mnist; then torchvision's downloader into that cache, for users online.
"""

import gzip
import os
import shutil
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from toolkit.errors import DataError

SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
APT_PACKAGE = "dataset-fashion-mnist"
FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
EXPECTED_COUNT = {"train": 60_000, "test": 10_000}
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049  # idx: unsigned bytes, 3 dims / 1 dim
NUM_CLASSES = 10


@dataclass(frozen=True)
class FashionMNIST:
    """Both splits as tensors: images uint8 [N, 28, 28], labels int64 [N]."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    source: Path


def images_to_input(images_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 [N, 28, 28] -> float32 [N, 1, 28, 28] in [0, 1], the exported models' input contract (RGB images
    of your own, uint8 [N, 3, S, S], keep their channels)."""
    channels = images_uint8.unsqueeze(1) if images_uint8.dim() == 3 else images_uint8
    return channels.float().div_(255.0)


def resize_images(images_uint8: torch.Tensor, size: int, chunk: int = 4096) -> torch.Tensor:
    """uint8 [N, 28, 28] -> uint8 [N, size, size]: bicubic with antialiasing and 8-bit rounding, as the
    runtime frames a 28x28 image whose item fills it (a model with another input side trains on these)."""
    resized = []
    for start in range(0, len(images_uint8), chunk):
        x = images_uint8[start : start + chunk].unsqueeze(1).float()
        x = torch.nn.functional.interpolate(x, size=(size, size), mode="bicubic", antialias=True, align_corners=False)
        resized.append(x.round_().clamp_(0, 255).to(torch.uint8).squeeze(1))
    return torch.cat(resized) if resized else images_uint8.new_zeros((0, size, size))


def input_function(channels: int = 1, mean=(), std=()):
    """uint8 [N, S, S] (or RGB [N, 3, S, S]) -> the model's float32 [N, channels, S, S]: gray repeated per channel,
    then (x - mean) / std; as toolkit.runtime.preprocess.scale_pixels does for one file."""
    if channels == 1 and not mean:
        return images_to_input
    mean_t = torch.tensor(mean or (0.0,) * channels).view(1, -1, 1, 1)
    std_t = torch.tensor(std or (1.0,) * channels).view(1, -1, 1, 1)

    def to_input(images_uint8: torch.Tensor) -> torch.Tensor:
        x = images_to_input(images_uint8).expand(-1, channels, -1, -1)
        return (x - mean_t.to(x.device)) / std_t.to(x.device)

    return to_input


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "toolkit" / "fashion-mnist"


def candidate_dirs(data_dir=None) -> list:
    """The folders searched, in order."""
    dirs = []
    if data_dir is not None:
        dirs.append(Path(data_dir))
    if os.environ.get("TK_DATA_DIR"):
        dirs.append(Path(os.environ["TK_DATA_DIR"]))
    dirs += [SYSTEM_DIR, cache_dir()]
    return dirs


def has_all_files(folder: Path) -> bool:
    return all((folder / name).is_file() for name in FILES.values())


def find_data_dir(data_dir=None, download: bool = True) -> Path:
    """The first folder holding all four files; downloads into the cache as a last resort."""
    if data_dir is not None and not has_all_files(Path(data_dir)):
        # An explicit --data-dir that lacks the files is a mistake worth naming, not skipping.
        missing = [n for n in FILES.values() if not (Path(data_dir) / n).is_file()]
        raise DataError(f"--data-dir {data_dir}: missing {', '.join(missing)}")
    searched = candidate_dirs(data_dir)
    for folder in searched:
        if has_all_files(folder):
            return folder
    if download and _download_into(cache_dir()):
        return cache_dir()
    places = ", ".join(str(d) for d in searched)
    raise DataError(
        f"Fashion-MNIST not found (searched {places}; download failed): "
        f"install it with 'apt-get install {APT_PACKAGE}' or pass --data-dir"
    )


def _download_into(target: Path) -> bool:
    """torchvision's downloader, for users with internet; False when it fails for any reason."""
    try:
        from torchvision.datasets import FashionMNIST as TorchvisionFashionMNIST

        with tempfile.TemporaryDirectory() as tmp:
            TorchvisionFashionMNIST(root=tmp, train=True, download=True)
            TorchvisionFashionMNIST(root=tmp, train=False, download=True)
            raw = Path(tmp) / "FashionMNIST" / "raw"
            target.mkdir(parents=True, exist_ok=True)
            for name in FILES.values():
                shutil.copyfile(raw / name, target / name)
        return has_all_files(target)
    except Exception:
        return False


def read_idx(path: Path, magic: int, count: int | None = None) -> np.ndarray:
    """Decode one idx file (gzip'd) into a uint8 array, checking its header against its size."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: not a readable gzip file ({exc})") from None
    if len(raw) < 8:
        raise DataError(f"{path}: truncated idx header")
    found_magic = int.from_bytes(raw[0:4], "big")
    if found_magic != magic:
        raise DataError(f"{path}: bad idx magic number {found_magic} (expected {magic})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise DataError(f"{path}: size {len(raw)} bytes does not match its header (expected {expected})")
    if count is not None and shape[0] != count:
        raise DataError(f"{path}: {shape[0]} items, expected {count}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def load_fashion_mnist(data_dir=None, download: bool = True) -> FashionMNIST:
    folder = find_data_dir(data_dir, download=download)
    arrays = {}
    for split in ("train", "test"):
        images = read_idx(folder / FILES[f"{split}_images"], IMAGE_MAGIC, EXPECTED_COUNT[split])
        labels = read_idx(folder / FILES[f"{split}_labels"], LABEL_MAGIC, EXPECTED_COUNT[split])
        if images.shape[1:] != (28, 28):
            raise DataError(f"{folder / FILES[f'{split}_images']}: images are {images.shape[1:]}, expected (28, 28)")
        if labels.max() >= NUM_CLASSES:
            raise DataError(f"{folder / FILES[f'{split}_labels']}: label {labels.max()} out of range")
        arrays[f"{split}_images"] = torch.from_numpy(images.copy())
        arrays[f"{split}_labels"] = torch.from_numpy(labels.astype(np.int64))
    return FashionMNIST(source=folder, **arrays)
