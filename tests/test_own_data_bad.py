"""A folder of images someone handed over: every kind of bad file reported by name and skipped, or one-line errors."""

import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_own_data import data_cache  # noqa: F401 (the session's own data cache)


def png(pixels) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def good(fashion, tmp_path, data_cache):  # noqa: F811
    """Returns a function writing n good test images of one class into folder/<name>/."""
    counter = iter(range(10_000))

    def write(folder, name: str, n: int):
        (folder / name).mkdir(parents=True, exist_ok=True)
        for _ in range(n):
            i = next(counter)
            (folder / name / f"{i:05d}.png").write_bytes(png(fashion.test_images[i].numpy()))

    return write


def bad_folder(root, good, outside):
    good(root, "bag", 40)
    good(root, "coat", 30)
    good(root, "dress", 3)  # 40:3, over 10:1
    (root / "empty-class").mkdir()
    cls = root / "bag"
    (cls / "corrupt.png").write_bytes(os.urandom(300))
    (cls / "empty.png").write_bytes(b"")
    (cls / "text.jpg").write_bytes(b"this is not an image\n")
    noise = np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)
    (cls / "truncated.png").write_bytes(png(noise)[:2000])
    Image.new("L", (8000, 8000)).save(cls / "bomb.png")  # 64 MP: refused before decoding
    Image.fromarray(np.arange(28 * 28, dtype=np.uint16).reshape(28, 28) * 80).save(cls / "sixteen.png")
    Image.new("1", (28, 28)).save(root / "coat" / "one-bit.png")
    (cls / "notes.txt").write_text("not an image")
    (root / "loose.png").write_bytes((cls / "00000.png").read_bytes())
    shutil.copy(cls / "00001.png", root / "coat" / "copy-of-00001.png")
    os.symlink(outside, cls / "leak.png")
    os.symlink(outside.parent, root / "linked-class")
    with open(os.path.join(os.fsencode(cls), b"caf\xe9.png"), "wb") as f:
        f.write((cls / "00002.png").read_bytes())


def test_every_bad_file_is_reported_and_skipped(cli, in_tmp, good, tmp_path_factory, fashion):
    outside = tmp_path_factory.mktemp("elsewhere") / "secret.png"
    outside.write_bytes(png(fashion.test_images[0].numpy()))
    bad_folder(in_tmp / "photos", good, outside)
    result = cli("train", "fashion-mlp", "--data", "photos", "--epochs", "1")
    assert result.exit_code == 0, result.output
    out = result.output
    expected = [
        "photos: 5 unreadable images, skipped: bag/bomb.png (image too large to decode safely (8000x8000 pixels)), "
        "bag/corrupt.png (not an image (unrecognised format)), bag/empty.png (empty file), bag/text.jpg (not an image",
        "bag/truncated.png (truncated or corrupt image",
        "photos: 2 images in an unusual mode, converted: coat/one-bit.png (1), bag/sixteen.png (I;16)",
        "photos: 1 duplicate files (the same bytes as another), skipped: coat/copy-of-00001.png = bag/00001.png",
        "photos: 2 links that lead outside the folder, not read: bag/leak.png, linked-class",
        "photos: 1 names that are not UTF-8, skipped: 'bag/caf\\udce9.png'",
        "photos: 1 files that are not images by their suffix, skipped: bag/notes.txt",
        "photos: 1 files outside any class folder, skipped: loose.png",
        "photos: 1 class folders with no images, left out: empty-class",
        "photos: classes over 10:1 imbalanced: 'bag' has 41 images, 'dress' 3",
        "photos: 75 images in 3 classes",
    ]
    for line in expected:
        assert line in out, line
    assert "secret" not in out.replace("bag/leak.png", "")  # nothing outside the folder was read


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda root, good: root.mkdir(), "photos: no images found"),
        (lambda root, good: good(root, "bag", 5), "photos: only one class ('bag')"),
        (
            lambda root, good: [(root / c).mkdir(parents=True) or (root / c / "x.png").write_bytes(b"x") for c in "ab"],
            "photos: none of its 2 image files could be used",
        ),
    ],
)
def test_data_that_cannot_be_learnt_is_one_line(cli, in_tmp, good, make, message):
    make(in_tmp / "photos", good)
    result = cli("train", "fashion-mlp", "--data", "photos", "--epochs", "1")
    assert result.exit_code != 0
    errors = [line for line in result.output.splitlines() if line.startswith("tk: error: ")]
    assert len(errors) == 1 and message in errors[0], result.output
    assert "Traceback" not in result.output


def test_an_annotations_csv_names_only_files_inside_its_folder(cli, in_tmp, good):
    good(in_tmp / "images", "all", 12)
    files = sorted(p.name for p in (in_tmp / "images" / "all").iterdir())
    rows = [f"all/{name},{i % 2}" for i, name in enumerate(files)]
    rows += ["all/missing.png,0", "../../etc/passwd.png,1", f"all/{files[0]},1", "/etc/hosts.png,0"]
    (in_tmp / "labels.csv").write_text("\n".join(rows) + "\n")
    result = cli("train", "fashion-mlp", "--data", "labels.csv", "--images", "images", "--labels", "top,bottom")
    assert result.exit_code == 0, result.output
    assert "1 labels with no file, skipped: all/missing.png" in result.output
    assert (
        "2 names that lead outside the images folder, not read: ../../etc/passwd.png, /etc/hosts.png" in result.output
    )
    assert f"1 files listed twice, kept once: all/{files[0]}" in result.output
    assert "12 images in 2 classes" in result.output
    unnamed = cli("train", "fashion-mlp", "--data", "labels.csv", "--images", "images", "--labels", "top", "--force")
    assert unnamed.exit_code == 2 and "--labels 'top'" in unnamed.output


def test_a_changed_folder_is_not_scored_as_the_one_trained_on(cli, in_tmp, good):
    good(in_tmp / "photos", "bag", 20)
    good(in_tmp / "photos", "coat", 20)
    assert cli("train", "fashion-mlp", "--data", "photos", "--epochs", "1").exit_code == 0
    assert cli("export", "fashion-mlp-photos", "-f", "onnx", "-f", "onnx-e2e").exit_code == 0
    first = next((in_tmp / "photos" / "bag").iterdir())
    os.utime(first, (1, 1))
    verified = cli("verify", "fashion-mlp-photos", "--skip", "torch.compile")
    assert verified.exit_code == 0, verified.output
    assert (
        f"its data is not read: {in_tmp / 'photos'} has changed since the model was trained (its files' names"
        in verified.output
    )
    assert "not run: it is judged on the test images, which are not read here" in verified.output
    report = cli("report", "exported/fashion-mlp-photos", "--out", "report.html")
    assert report.exit_code == 0, report.output
    assert "has changed since the model was trained" in (in_tmp / "report.html").read_text()


def test_a_bundle_from_elsewhere_never_makes_tk_read_the_folder_it_names(cli, in_tmp, good, tmp_path_factory):
    """A manifest's data record could name any folder on this machine: tk reads it only where it trained."""
    good(in_tmp / "photos", "bag", 10)
    good(in_tmp / "photos", "coat", 10)
    private = tmp_path_factory.mktemp("private")
    good(private, "me", 5)
    good(private, "you", 5)
    assert cli("train", "fashion-mlp", "--data", "photos", "--epochs", "1").exit_code == 0
    assert cli("export", "fashion-mlp-photos", "--format", "onnx").exit_code == 0
    manifest_file = in_tmp / "exported" / "fashion-mlp-photos" / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    manifest["data"]["path"] = manifest["data"]["options"]["data"] = str(private)
    manifest_file.write_text(json.dumps(manifest))
    cache = Path(os.environ["XDG_CACHE_HOME"]) / "toolkit" / "data"
    before = set(cache.iterdir())
    verified = cli("verify", "fashion-mlp-photos", "--skip", "torch.compile")
    assert verified.exit_code == 0, verified.output
    assert f"{private}: not read (a bundle's data is read only where it was trained)" in verified.output
    assert cli("report", "exported/fashion-mlp-photos", "--out", "report.html").exit_code == 0
    assert set(cache.iterdir()) == before  # nothing of the private folder was decoded
    manifest["data"]["normalisation"] = {"mean": ["x"], "std": [0]}
    manifest_file.write_text(json.dumps(manifest))
    broken = cli("verify", "fashion-mlp-photos")
    assert broken.exit_code != 0 and "its data record's normalisation is not what tk writes" in broken.output
