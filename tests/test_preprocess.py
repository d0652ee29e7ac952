"""Image preprocessing: every format and mode, polarity, trimming, and fidelity to the dataset."""

import numpy as np
import pytest
from PIL import Image

from toolkit.errors import InputError
from toolkit.runtime import Predictor, bundle
from toolkit.runtime.preprocess import prepare_file

from conftest import REFERENCE_BUNDLE, written

FASHION = bundle.read_manifest(REFERENCE_BUNDLE).preprocessing  # what the Fashion-MNIST bundles say


def preprocess_image(path, invert=None) -> np.ndarray:
    return prepare_file(path, FASHION, invert)


@pytest.fixture(scope="module")
def predictor():
    return Predictor(REFERENCE_BUNDLE, device="cpu")


@pytest.fixture(scope="module")
def boot(fashion):
    """The first test image (an ankle boot) as uint8 28x28, light on black."""
    return fashion.test_images[0].numpy()


def as_photo(item: np.ndarray, scale=8, canvas=(500, 380), at=(40, 90)) -> Image.Image:
    """A dark item on a white canvas with wide, uneven margins."""
    big = Image.fromarray(255 - item).resize((28 * scale, 28 * scale), Image.Resampling.BICUBIC)
    photo = Image.new("L", canvas, 255)
    photo.paste(big, at)
    return photo


def test_saved_test_images_round_trip_exactly(fashion, tmp_path):
    images = fashion.test_images[:200].numpy()
    for i, image in enumerate(images):
        Image.fromarray(image).save(tmp_path / f"{i}.png")
        restored = np.round(preprocess_image(tmp_path / f"{i}.png")[0] * 255).astype(np.uint8)
        assert np.array_equal(restored, image), i


def test_photos_with_margins_classify_like_the_dataset(fashion, predictor, tmp_path):
    images, labels = fashion.test_images[:200].numpy(), fashion.test_labels[:200].numpy()
    direct = np.array([p.index for p in predictor.predict(images[:, None] / np.float32(255))])
    via_photo = []
    for i, image in enumerate(images):
        as_photo(image, at=(20 + i % 150, 10 + i % 90)).convert("RGB").save(tmp_path / f"{i}.jpg", quality=90)
        via_photo.append(predictor.predict_image(tmp_path / f"{i}.jpg").index)
    agreement = (np.array(via_photo) == direct).mean()
    assert agreement >= 0.93, agreement  # measured 0.965 on the first 300
    assert (np.array(via_photo) == labels).mean() >= 0.8


def save_as(image: Image.Image, path, **kwargs):
    image.save(path, **kwargs)
    return path


@pytest.mark.parametrize(
    "name, make",
    [
        ("png", lambda im, p: save_as(im, p / "a.png")),
        ("jpeg", lambda im, p: save_as(im.convert("RGB"), p / "a.jpg", quality=95)),
        ("webp", lambda im, p: save_as(im, p / "a.webp", lossless=True)),
        ("bmp", lambda im, p: save_as(im, p / "a.bmp")),
        (
            "gif-first-frame",
            lambda im, p: save_as(
                im.convert("P"), p / "a.gif", save_all=True, append_images=[Image.new("P", im.size, 0)] * 2
            ),
        ),
        (
            "palette-png",
            lambda im, p: save_as(im.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE), p / "a.png"),
        ),
        ("cmyk-jpeg", lambda im, p: save_as(im.convert("RGB").convert("CMYK"), p / "a.jpg", quality=95)),
        ("16-bit-png", lambda im, p: save_as(Image.fromarray(np.asarray(im, np.uint16) * 257), p / "a.png")),
        ("rgba-opaque", lambda im, p: save_as(im.convert("RGBA"), p / "a.png")),
        ("1-bit", lambda im, p: save_as(im.point(lambda v: 255 if v > 128 else 0).convert("1"), p / "a.png")),
    ],
)
def test_formats_and_modes(name, make, boot, predictor, tmp_path):
    path = make(as_photo(boot, scale=4, canvas=(200, 160), at=(30, 20)), tmp_path)
    array = preprocess_image(path)
    assert array.shape == (1, 28, 28) and array.dtype == np.float32
    assert 0.0 <= array.min() and array.max() <= 1.0 and array.max() > 0.5
    assert predictor.predict_image(path).label == "Ankle boot", name


def test_transparent_background_becomes_training_background(boot, predictor, tmp_path):
    # A dark boot on a fully transparent background (as in a product cut-out).
    alpha = np.asarray(Image.fromarray(boot).resize((112, 112)), np.uint8)
    rgba = np.zeros((112, 112, 4), np.uint8)
    rgba[..., :3] = 40
    rgba[..., 3] = alpha
    path = tmp_path / "cutout.png"
    Image.fromarray(rgba).save(path)
    array = preprocess_image(path)
    assert array[0, 0, 0] == 0.0  # the transparent corner is black, like the training background
    assert predictor.predict_image(path).label == "Ankle boot"


def test_light_item_on_transparent_background(boot, tmp_path):
    rgba = np.zeros((28, 28, 4), np.uint8)
    rgba[..., :3], rgba[..., 3] = 250, boot
    Image.fromarray(rgba).save(tmp_path / "light.png")
    assert preprocess_image(tmp_path / "light.png")[0, 0, 0] == 0.0


def test_invert_can_be_forced(boot, tmp_path):
    Image.fromarray(boot).save(tmp_path / "boot.png")
    auto = preprocess_image(tmp_path / "boot.png")
    forced = preprocess_image(tmp_path / "boot.png", invert=True)
    assert auto[0, 0, 0] == 0.0 and forced[0, 0, 0] == 1.0
    assert np.array_equal(preprocess_image(tmp_path / "boot.png", invert=False), auto)


def test_wide_margins_are_trimmed(boot, tmp_path):
    as_photo(boot, scale=3, canvas=(900, 300), at=(700, 150)).save(tmp_path / "far.png")
    as_photo(boot, scale=3, canvas=(300, 300), at=(100, 100)).save(tmp_path / "near.png")
    far, near = preprocess_image(tmp_path / "far.png"), preprocess_image(tmp_path / "near.png")
    assert np.abs(far - near).max() < 0.05  # where the item sits on the canvas does not matter


def test_blank_image_does_not_crash(tmp_path):
    Image.new("L", (50, 40), 255).save(tmp_path / "white.png")
    assert preprocess_image(tmp_path / "white.png").max() == 0.0


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p / "missing.png", "no such file"),
        (lambda p: p, "not a regular file"),
        (lambda p: written(p / "empty.png", b""), "empty file"),
        (lambda p: written(p / "notes.png", b"not an image"), "not an image"),
    ],
)
def test_bad_files_raise_input_error(make, message, tmp_path):
    with pytest.raises(InputError, match=message):
        preprocess_image(make(tmp_path))
