"""Shared fixtures: the real dataset, one quick training run and its bundle, built once per session."""

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from toolkit.cli import app

REPO = Path(__file__).resolve().parents[1]
REFERENCE_BUNDLE = REPO / "exported" / "fashion-mlp"
CLASSIC_FORMATS = ["state-dict", "torchscript", "onnx"]
FAST = ("torch.compile",)  # verify runs without compiling unless a test is about torch.compile
SAMPLES = REPO / "samples"


def pytest_collection_modifyitems(config, items):
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def quiet(_message):
    pass


def rehash(bundle_dir, name: str) -> None:
    """After editing one of a bundle's files, update its sha256 in the manifest, as an attacker would:
    the hash then proves nothing, and what is tested is what else stops the edit."""
    from toolkit.runtime import bundle

    manifest = bundle.read_manifest(bundle_dir)
    manifest.files[name] = bundle.file_entry(bundle_dir / name)
    bundle.write_manifest(bundle_dir, manifest)


def written(path, data: bytes):
    """Write `data` to `path` and return the path (for one-line input factories)."""
    path.write_bytes(data)
    return path


@pytest.fixture(scope="session")
def fashion():
    from toolkit.data.fashion_mnist import load_fashion_mnist

    return load_fashion_mnist(download=False)


@pytest.fixture
def cli():
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(app, [str(a) for a in args])

    return invoke


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory) -> Path:
    """A 2-epoch run on the first 3,000 training images: enough to export, verify and infer."""
    from toolkit.train import train

    run_dir = tmp_path_factory.mktemp("runs") / "fashion-mlp"
    train("fashion-mlp", epochs=2, limit=3000, run_dir=run_dir, device="cpu", log=quiet)
    return run_dir


@pytest.fixture(scope="session")
def quick_bundle_master(quick_run, tmp_path_factory) -> Path:
    from toolkit.export import export

    out = tmp_path_factory.mktemp("bundle") / "fashion-mlp"
    export("fashion-mlp", formats=CLASSIC_FORMATS, out_dir=out, checkpoint_file=quick_run / "checkpoint.pt", log=quiet)
    return out


@pytest.fixture(scope="session")
def full_bundle_master(quick_run, tmp_path_factory) -> Path:
    """The quick run exported in every format (AOTInductor's compile included: ~30 s, once)."""
    from toolkit.export import export

    out = tmp_path_factory.mktemp("full") / "fashion-mlp"
    export("fashion-mlp", out_dir=out, checkpoint_file=quick_run / "checkpoint.pt", log=quiet)
    return out


@pytest.fixture
def quick_bundle(quick_bundle_master, tmp_path) -> Path:
    """A private copy of the quick bundle that a test may modify."""
    copy = tmp_path / "fashion-mlp"
    shutil.copytree(quick_bundle_master, copy)
    return copy


@pytest.fixture
def in_tmp(tmp_path, monkeypatch) -> Path:
    """Run in an empty folder, so default paths (runs/, exported/) resolve there."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session", autouse=True)
def trust_record(tmp_path_factory):
    """This session's own record of the artifacts it exported, not the user's (subprocesses inherit it)."""
    import os

    path = tmp_path_factory.mktemp("trust") / "exported-artifacts.txt"
    previous = os.environ.get("TK_TRUST_FILE")
    os.environ["TK_TRUST_FILE"] = str(path)
    yield path
    if previous is None:
        del os.environ["TK_TRUST_FILE"]
    else:
        os.environ["TK_TRUST_FILE"] = previous
