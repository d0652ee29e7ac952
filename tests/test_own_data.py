"""tk train --data on images: Fashion-MNIST as 70,000 PNG files, an annotations CSV, your own model on RGB JPEGs.

The folders are written once per session; the data cache lives in this session's own XDG_CACHE_HOME.
"""

import json
import os
import shlex
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from toolkit.bench.own_data import class_folder, write_fashion_folders
from toolkit.data.own import DataOptions, open_data
from toolkit.models import get_spec
from toolkit.models.preprocessing import preprocessing

from conftest import REPO

TINY_NET = """
import torch
from torch import nn


class TinyNet(nn.Module):
    def __init__(self, classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.head = nn.Linear(8 * 16 * 16, classes)

    def forward(self, x):
        return self.head(torch.flatten(self.features(x), 1))
"""


@pytest.fixture(scope="session")
def data_cache(tmp_path_factory):
    """This session's data cache (XDG_CACHE_HOME), not the user's."""
    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    yield
    if previous is None:
        del os.environ["XDG_CACHE_HOME"]
    else:
        os.environ["XDG_CACHE_HOME"] = previous


@pytest.fixture(scope="session")
def fashion_folders(tmp_path_factory, data_cache):
    return write_fashion_folders(tmp_path_factory.mktemp("fashion-png"))


@pytest.fixture(scope="session")
def colour_photos(tmp_path_factory, fashion):
    """Three classes of 500 test images as RGB JPEGs of varied sizes, dark on a coloured background."""
    root = tmp_path_factory.mktemp("photos")
    names = {0: "shirt", 1: "trouser", 8: "bag"}
    for index in range(2000):
        label = int(fashion.test_labels[index])
        if label not in names:
            continue
        gray = 255 - fashion.test_images[index].numpy()
        rgb = np.stack([gray, (gray * 0.6).astype(np.uint8), np.full_like(gray, 60 + 70 * (label % 3))], -1)
        (root / names[label]).mkdir(exist_ok=True)
        size = (40 + index % 9, 36 + index % 5)
        Image.fromarray(rgb).resize(size).save(root / names[label] / f"{index:05d}.jpg", quality=90)
    return root


def metrics(run_dir) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def test_fashion_mnist_as_png_folders_trains_as_its_idx_files_do(cli, in_tmp, fashion_folders):
    """The default recipe and seed on the 70,000 PNGs (train/ + test/) against the idx files: within 0.3 points."""
    folder = cli("train", "fashion-mlp", "--data", fashion_folders, "--run-dir", "from-png")
    assert folder.exit_code == 0, folder.output
    assert "70,000 images in 10 classes" in folder.output
    assert "60,000 to train on, 10,000 to test on (train/ and test/ folders)" in folder.output
    idx = cli("train", "fashion-mlp", "--run-dir", "from-idx")
    assert idx.exit_code == 0, idx.output
    from_png, from_idx = metrics(in_tmp / "from-png"), metrics(in_tmp / "from-idx")
    assert abs(from_png["test_accuracy"] - from_idx["test_accuracy"]) <= 0.003, (from_png, from_idx)
    assert from_png["data"]["train"] == 60_000 and from_png["data"]["test"] == 10_000
    again = cli("train", "fashion-mlp", "--data", fashion_folders, "--epochs", "1", "--limit", "512", "--run-dir", "x")
    assert "from the cache" in again.output and "decoded" not in again.output


def test_an_annotations_csv_of_the_same_files_gives_the_same_digest(in_tmp, fashion_folders):
    test_part, prep = fashion_folders / "test", preprocessing(get_spec("fashion-mlp"))
    as_folders = open_data(DataOptions(str(test_part)), prep, log=lambda _line: None)
    rows = ["file,label"] + [
        f"{path.relative_to(test_part).as_posix()},{path.parent.name[0]}" for path in sorted(test_part.rglob("*.png"))
    ]
    (in_tmp / "labels.csv").write_text("\n".join(rows) + "\n")
    names = in_tmp / "names.txt"
    names.write_text("\n".join(class_folder(label) for label in range(10)) + "\n")
    lines = []
    options = DataOptions("labels.csv", images=str(test_part), labels=str(names))
    as_csv = open_data(options, prep, log=lines.append)
    assert as_csv.record["digest"] == as_folders.record["digest"]
    assert "from the cache" in lines[-1]  # the folder form's decoding served the CSV form
    assert as_csv.labels == as_folders.labels
    assert as_csv.record["classes"] == as_folders.record["classes"] == {class_folder(k): 1000 for k in range(10)}


def test_your_own_model_on_rgb_jpegs_trains_exports_verifies_and_serves(cli, in_tmp, colour_photos):
    (in_tmp / "tinynet.py").write_text(TINY_NET)
    trained = cli("train", "tinynet.py:TinyNet", "--data", colour_photos, "--input-shape", "3,32,32", "--epochs", "3")
    assert trained.exit_code == 0, trained.output
    assert "in 3 classes" in trained.output
    assert metrics(in_tmp / "runs" / "tiny-net")["test_accuracy"] > 0.8
    exported = cli("export", "tinynet.py:TinyNet", "--format", "onnx")
    assert exported.exit_code == 0, exported.output
    verified = cli("verify", "tiny-net", "--skip", "torch.compile")
    assert verified.exit_code == 0, verified.output
    assert cli("report", "exported/tiny-net", "--out", "report.html").exit_code == 0  # RGB mistakes shown
    assert f"your own images: {colour_photos}" in (in_tmp / "report.html").read_text()
    manifest = json.loads((in_tmp / "exported" / "tiny-net" / "manifest.json").read_text())
    assert manifest["labels"] == ["bag", "shirt", "trouser"] and manifest["input"]["shape"][1:] == [3, 32, 32]
    from test_manifest_schema import VALIDATOR

    assert not [e.message for e in VALIDATOR.iter_errors(manifest)]  # your own model, your own data: the schema holds
    record = manifest["data"]
    assert record["path"] == str(colour_photos) and record["split"] == {"test_fraction": 0.1, "seed": 0}
    assert record["files"] == record["used"] == sum(1 for _ in colour_photos.rglob("*.jpg"))
    assert len(record["digest"]) == 64 and "pixels" not in json.dumps(record)  # where from, not the data

    import tritonclient.http as httpclient

    from toolkit.runtime import Predictor

    from serving import start

    bundle = in_tmp / "exported" / "tiny-net"
    photo = sorted((colour_photos / "trouser").iterdir())[0]
    served = start(bundle)
    try:
        tensor = httpclient.InferInput("input", [1], "BYTES")
        tensor.set_data_from_numpy(np.array([photo.read_bytes()], dtype=object))
        logits = httpclient.InferenceServerClient(served.http).infer("tiny-net", [tensor]).as_numpy("logits")
    finally:
        served.stop()
    predictor = Predictor(bundle, device="cpu")
    np.testing.assert_allclose(logits, predictor.run(predictor.preprocess(photo)[None]), atol=1e-6)


def test_training_uses_the_tensor_the_runtime_makes_of_each_file(cli, in_tmp, colour_photos):
    """No train/serve skew: Predictor on a file gives exactly the tensor training learnt from."""
    from toolkit.runtime import Predictor

    (in_tmp / "tinynet.py").write_text(TINY_NET)
    guessed = cli("train", "tinynet.py:TinyNet", "--data", colour_photos, "--epochs", "1")
    assert guessed.exit_code == 1  # the images are 40-48 wide: guessed 3x44x44, which TinyNet cannot take
    assert "forward on an input of shape [2, 3, 44, 44] raised RuntimeError" in guessed.output
    shape = ["--input-shape", "3,32,32", "--force"]
    assert cli("train", "tinynet.py:TinyNet", "--data", colour_photos, "--epochs", "1", *shape).exit_code == 0
    assert cli("export", "tinynet.py:TinyNet", "--format", "onnx").exit_code == 0
    predictor = Predictor(in_tmp / "exported" / "tiny-net", device="cpu")
    data = open_data(DataOptions(str(colour_photos)), predictor.manifest.preprocessing, log=lambda _line: None)
    train_x, _, test_x, _, to_input = data.samples()
    train_files, test_files = data.files
    for pixels, name in [(train_x[0], train_files[0]), (train_x[-1], train_files[-1]), (test_x[3], test_files[3])]:
        used = to_input(pixels[None])[0].numpy()
        assert np.array_equal(predictor.preprocess(colour_photos / name), used), name


def readme_commands() -> list:
    text = (REPO / "README.md").read_text()
    block = text.split("[start:own-data]", 1)[1].split("[end:own-data]", 1)[0].split("```", 1)[1].rsplit("```", 1)[0]
    lines = block.strip().strip("`").strip().splitlines()
    return [shlex.split(line.split("#", 1)[0]) for line in lines if line.strip()]


def test_the_readme_section_trains_exports_verifies_and_serves(tmp_path, data_cache):
    """The README's "Your own data" commands, as a user types them, in an empty folder."""
    import tritonclient.http as httpclient

    from serving import start

    served_bundles = []
    for command in readme_commands():
        if command[:2] == ["tk", "serve"]:
            served_bundles.append(tmp_path / command[2])
            continue
        argv = (
            [sys.executable, *command[1:]]
            if command[0] == "python"
            else [sys.executable, "-m", "toolkit", *command[1:]]
        )
        if command[0] == "python":
            argv[1] = str(REPO / argv[1])
        done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 0, f"{' '.join(command)}: {done.stderr[-2000:]}"
    assert [b.name for b in served_bundles] == ["fashion-mlp-clothes", "softmax-classifier-clothes"]
    image = next((tmp_path / "clothes" / "sneaker").iterdir())
    first_row = (tmp_path / "clothes.csv").read_text().splitlines()[1].split(",")[:-1]
    inputs = {
        "fashion-mlp-clothes": ("BYTES", np.array([image.read_bytes()], dtype=object)),
        "softmax-classifier-clothes": ("FP32", np.array([[float(v) for v in first_row]], np.float32)),
    }
    for bundle in served_bundles:
        served = start(bundle)
        try:
            datatype, batch = inputs[bundle.name]
            tensor = httpclient.InferInput("input", list(batch.shape), datatype)
            tensor.set_data_from_numpy(batch)
            answer = httpclient.InferenceServerClient(served.http).infer(bundle.name, [tensor])
        finally:
            served.stop()
        manifest = json.loads((bundle / "manifest.json").read_text())
        assert answer.as_numpy("logits").shape == (1, len(manifest["labels"])) == (1, 10)
        assert manifest["verification"]["passed"] is True
