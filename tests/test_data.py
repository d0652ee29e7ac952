"""toolkit.data: the real idx files, their checks, and the search order."""

import gzip
import shutil

import pytest
import torch

from toolkit.data import fashion_mnist as data
from toolkit.errors import DataError


def test_real_dataset_shapes_and_labels(fashion):
    assert fashion.train_images.shape == (60_000, 28, 28) and fashion.train_images.dtype == torch.uint8
    assert fashion.test_images.shape == (10_000, 28, 28)
    assert fashion.train_labels.dtype == torch.int64
    assert torch.bincount(fashion.train_labels).tolist() == [6000] * 10  # balanced, as published
    assert torch.bincount(fashion.test_labels).tolist() == [1000] * 10


def copy_dataset(target):
    source = data.find_data_dir(download=False)
    for name in data.FILES.values():
        shutil.copyfile(source / name, target / name)
    return target


def rewrite(path, transform):
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(transform(raw)))


def test_data_dir_option_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("TK_DATA_DIR", "/nonexistent")
    assert data.find_data_dir(copy_dataset(tmp_path), download=False) == tmp_path


def test_env_var_before_system_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TK_DATA_DIR", str(copy_dataset(tmp_path)))
    assert data.find_data_dir(download=False) == tmp_path


def test_explicit_data_dir_missing_files_is_named(tmp_path):
    with pytest.raises(DataError, match=f"--data-dir {tmp_path}: missing .*train-images"):
        data.find_data_dir(tmp_path, download=False)


def test_nothing_found_names_places_and_package(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "SYSTEM_DIR", tmp_path / "system")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("TK_DATA_DIR", raising=False)
    with pytest.raises(DataError) as err:
        data.find_data_dir(download=False)
    message = str(err.value)
    assert str(tmp_path / "system") in message and "apt-get install dataset-fashion-mnist" in message
    assert "\n" not in message


def test_bad_magic_number(tmp_path):
    copy_dataset(tmp_path)
    rewrite(tmp_path / data.FILES["test_labels"], lambda raw: (1234).to_bytes(4, "big") + raw[4:])
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz: bad idx magic number 1234"):
        data.load_fashion_mnist(tmp_path, download=False)


def test_truncated_payload(tmp_path):
    copy_dataset(tmp_path)
    rewrite(tmp_path / data.FILES["test_images"], lambda raw: raw[:-100])
    with pytest.raises(DataError, match="does not match its header"):
        data.load_fashion_mnist(tmp_path, download=False)


def test_truncated_gzip_stream(tmp_path):
    copy_dataset(tmp_path)
    path = tmp_path / data.FILES["train_labels"]
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz: not a readable gzip file"):
        data.load_fashion_mnist(tmp_path, download=False)


def test_not_gzip_at_all(tmp_path):
    copy_dataset(tmp_path)
    (tmp_path / data.FILES["train_labels"]).write_text("hello")
    with pytest.raises(DataError, match="not a readable gzip file"):
        data.load_fashion_mnist(tmp_path, download=False)
