"""Each torch-free runtime module's own helpers, tested directly: schema, rows, preprocess, session, onnx_compat."""

import copy
import json

import numpy as np
import pytest
from PIL import Image

from toolkit.errors import BundleError, UsageError
from toolkit.runtime import bundle, onnx_compat
from toolkit.runtime.preprocess import fit_and_centre, prepare, prepare_file, trim_box
from toolkit.runtime.rows import parse_row, rows_from_csv
from toolkit.runtime.schema import Manifest, Preprocessing
from toolkit.runtime.session import make_session

from conftest import REFERENCE_BUNDLE, REPO, SAMPLES

COMMITTED = sorted(path.parent for path in (REPO / "exported").glob("*/manifest.json"))
PHOTO = Preprocessing(
    size=4,
    channels=3,
    scale=1 / 255,
    background=None,
    invert="never",
    trim=False,
    resize="shorter-side-then-centre-crop",
    resample="bilinear",
    mean=(0.5, 0.25, 0.0),
    std=(0.5, 0.25, 1.0),
    resize_to=4,
)


# schema.py


@pytest.mark.parametrize("bundle_dir", COMMITTED, ids=lambda p: p.name)
def test_every_committed_manifest_round_trips(bundle_dir):
    """Every field written is read: from_dict then to_dict gives back exactly the file's JSON."""
    data = json.loads((bundle_dir / "manifest.json").read_text())
    assert Manifest.from_dict(data).to_dict() == data
    assert bundle.dumps(Manifest.from_dict(data).to_dict()) == (bundle_dir / "manifest.json").read_text()


def test_the_photo_preprocessing_round_trips():
    assert Preprocessing.from_dict(schema_reader(PHOTO.to_dict())) == PHOTO


def schema_reader(data):
    from toolkit.runtime.schema import Reader

    return Reader(data, "preprocessing")


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m.pop("files"), "missing files"),
        (lambda m: m.update(formats=["onnx"]), "formats must be dict, not list"),
        (lambda m: m["input"].pop("name"), "missing input.name"),
        (lambda m: m["preprocessing"].update(size="28"), "preprocessing.size must be int, not str"),
        (lambda m: m["preprocessing"].update(trim=1), "preprocessing.trim must be bool, not int"),
        (lambda m: m["preprocessing"].update(resize="stretch"), "preprocessing.resize 'stretch' is not one of"),
        (lambda m: m.update(labels="abc"), "labels must be list, not str"),
        (lambda m: m.update(schema_version=2), "schema_version 2 is not supported"),
    ],
)
def test_a_malformed_manifest_names_the_field(change, message):
    data = json.loads((REFERENCE_BUNDLE / "manifest.json").read_text())
    broken = copy.deepcopy(data)
    change(broken)
    with pytest.raises(BundleError, match=message):
        Manifest.from_dict(broken)


# rows.py


def test_parse_row():
    assert parse_row(" 73, 80 ,75", ["a", "b", "c"], "--values").values == (73.0, 80.0, 75.0)
    assert parse_row("1,2", ["a", "b", "c"], "x.csv:2").error == "x.csv:2: expected 3 values (a, b, c), got 2"
    assert parse_row("1,two", ["a", "b"], "--values").error == "--values: 'two' is not a number"
    assert parse_row("1,nan", ["a", "b"], "--values").error == "--values: 'nan' is not a finite number"
    assert parse_row("inf", ["a"], "--values").error == "--values: 'inf' is not a finite number"


def test_rows_from_csv_skips_a_header_and_blank_lines(tmp_path):
    (tmp_path / "rows.csv").write_text("x1,x2\n1,2\n\n3,4\n")
    rows = rows_from_csv(tmp_path / "rows.csv", ["x1", "x2"])
    assert [(r.source.rsplit(":", 1)[1], r.values) for r in rows] == [("2", (1.0, 2.0)), ("4", (3.0, 4.0))]


# preprocess.py


def test_trim_box_finds_the_item_and_keeps_a_blank_image_whole():
    gray = np.zeros((10, 12), np.float32)
    gray[2:5, 3:9] = 200
    assert tuple(int(v) for v in trim_box(gray)) == (2, 5, 3, 9)
    assert trim_box(np.zeros((6, 7), np.float32)) == (0, 6, 0, 7)


def test_fit_and_centre_keeps_the_aspect_ratio():
    square = fit_and_centre(np.full((10, 20), 255, np.float32), 8)
    assert square.shape == (8, 8)
    assert (square[:2] == 0).all() and (square[6:] == 0).all() and (square[2:6] > 0).all()  # 4 rows, centred


def test_the_photo_path_scales_crops_and_normalises_as_the_manifest_says(tmp_path):
    rgb = np.zeros((6, 8, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 255, 51, 102
    Image.fromarray(rgb).save(tmp_path / "photo.png")
    x = prepare_file(tmp_path / "photo.png", PHOTO)
    assert x.shape == (3, 4, 4) and x.dtype == np.float32
    expected = [(1.0 - 0.5) / 0.5, (0.2 - 0.25) / 0.25, 0.4]  # (value * scale - mean) / std, per channel
    assert np.allclose(x.reshape(3, -1).mean(1), expected, atol=1e-6)


def test_the_photo_path_classifies_a_product_photo_with_the_trained_model():
    """A JPEG product photo (dark item on white, wide margins) through the trained fashion-mlp's manifest."""
    from toolkit.runtime import Predictor

    predictor = Predictor(REFERENCE_BUNDLE, device="cpu")
    photo = Image.open(SAMPLES / "photo-sneaker-9.jpg")
    assert photo.size != (28, 28) and photo.mode == "RGB"
    x = prepare(photo, predictor.manifest.preprocessing)
    assert x.shape == (1, 28, 28) and x.max() > 0.5 and x[:, 0, :].max() == 0.0  # light item on a black border
    assert predictor.predict(x)[0].label == "Sneaker"


def test_every_preprocessing_field_changes_the_result(tmp_path):
    """The fields the runtime once ignored (scale, background, invert, resize, resample) now drive it."""
    item = np.random.default_rng(0).integers(0, 80, (20, 10), dtype=np.uint8)  # textured: resampling shows
    image = Image.fromarray(np.pad(item, 15, constant_values=230))  # a dark item on light
    fashion = bundle.read_manifest(REFERENCE_BUNDLE).preprocessing
    base = prepare(image, fashion)
    changes = {
        "scale": {"scale": 1.0},
        "background": {"background": None},
        "invert": {"invert": "never"},
        "resize": {"resize": "shorter-side-then-centre-crop", "resize_to": 28},
        "resample": {"resample": "bilinear"},
    }
    for field, values in changes.items():
        changed = prepare(image, Preprocessing(**{**fashion.__dict__, **values}))
        assert not np.array_equal(changed, base), field


# session.py


def test_make_session_uses_the_cpu_provider_it_was_asked_for():
    _, model_bytes = bundle.read_artifact(REFERENCE_BUNDLE, bundle.read_manifest(REFERENCE_BUNDLE), "onnx")
    session = make_session(model_bytes, "cpu", threads=1)
    assert session.get_providers() == ["CPUExecutionProvider"]
    with pytest.raises(UsageError, match="device must be auto, cpu or cuda"):
        make_session(model_bytes, "tpu")


# onnx_compat.py


def test_limits_for():
    assert onnx_compat.limits_for("1.14") == (18, 8)
    assert onnx_compat.limits_for("1.17.3") == (20, 9)
    assert onnx_compat.limits_for("1.31") == (21, 10)  # newer than the table: the last row's limits
    with pytest.raises(UsageError, match="first to load"):
        onnx_compat.limits_for("1.13")
    assert onnx_compat.oldest_runtime_for(20, 10) == "1.18" and onnx_compat.oldest_runtime_for(99, 10) is None
