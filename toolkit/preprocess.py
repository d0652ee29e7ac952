"""Any image file -> the model's input array, the way Fashion-MNIST itself was made. No torch.

Fashion-MNIST turned product photos into 28x28 light-on-dark gray images by trimming the background
around the item, resizing the longest side to 28 and centring it. We do the same to user images so
a photo with wide margins, a dark item on white, or a transparent PNG still classifies well:

  decode (first frame; 8/16-bit; gray, RGB, RGBA, palette, CMYK) -> gray
  -> polarity: light backgrounds are inverted (auto, or forced) so the item is light on black;
     transparent pixels become that black background
  -> trim to the item -> resize the longest side to `size`, keeping aspect -> centre -> [0, 1]

An image that already has the model's size is taken to be in the dataset's form (a saved test image,
a prepared drawing) and is not re-framed: re-centring it would shift the item by a pixel or rescale
it, and the dense models are not shift invariant.
"""

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError

from toolkit.errors import InputError

MAX_PIXELS = 50_000_000  # larger images are refused before decoding: a decompression bomb guard
TRIM_TOLERANCE = 0.05 * 255  # "close to the background" as in Fashion-MNIST's own conversion


def open_image(path) -> Image.Image:
    """Decode the first frame of an image file, or raise InputError naming the file."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a regular file")  # directories, FIFOs, devices: never block on them
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise InputError(f"{path}: image too large to decode safely ({width}x{height} pixels)")
            image = next(ImageSequence.Iterator(image))  # first frame of a GIF/WEBP animation
            image.load()
    except InputError:
        raise
    except UnidentifiedImageError:
        raise InputError(f"{path}: not an image (unrecognised format)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(f"{path}: image too large to decode safely") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InputError(f"{path}: truncated or corrupt image ({exc})") from None
    return image


def gray_and_alpha(image: Image.Image) -> tuple:
    """(gray float32 HxW in [0, 255], alpha float32 HxW in [0, 1] or None)."""
    mode = image.mode
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode in ("PA", "La", "RGBa"):
        image = image.convert("RGBA")
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        image = image.convert("RGB")
    elif mode == "1":
        image = image.convert("L")
    mode = image.mode

    alpha = None
    if mode in ("LA", "RGBA"):
        alpha = np.asarray(image.getchannel("A"), dtype=np.float32) / 255.0
        image = image.convert("L" if mode == "LA" else "RGB")
        mode = image.mode
    if mode.startswith("I"):  # 16-bit gray ("I;16", or "I" holding 0..65535)
        gray = np.asarray(image, dtype=np.float32)
        gray = gray / 257.0 if gray.max(initial=0) > 255 or mode.startswith("I;16") else gray
    elif mode == "F":
        gray = np.asarray(image, dtype=np.float32)
        gray = gray * 255.0 if gray.max(initial=0) <= 1.0 else gray
    elif mode == "RGB":
        rgb = np.asarray(image, dtype=np.float32)
        gray = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601 luma, as PIL's "L"
    elif mode == "L":
        gray = np.asarray(image, dtype=np.float32)
    else:
        raise InputError(f"unsupported image mode {mode!r}")
    if alpha is not None and alpha.min() >= 1.0:
        alpha = None  # fully opaque: treat as a plain image
    return np.clip(gray, 0, 255), alpha


def border_pixels(gray: np.ndarray) -> np.ndarray:
    return np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])


def to_light_on_dark(gray: np.ndarray, alpha, invert) -> np.ndarray:
    """Make the item light on a black background, like the training images."""
    if alpha is not None:
        opaque = alpha > 0.5
        if invert is None:  # a dark item (on a transparent background) is meant to be seen on light
            invert = bool(opaque.any()) and float(gray[opaque].mean()) < 128
        backdrop = 255.0 if invert else 0.0
        gray = gray * alpha + backdrop * (1.0 - alpha)
    elif invert is None:
        invert = float(np.median(border_pixels(gray))) > 127
    return 255.0 - gray if invert else gray


def trim_box(gray: np.ndarray) -> tuple:
    """(top, bottom, left, right) around the pixels that differ from the background."""
    background = float(np.median(border_pixels(gray)))
    mask = np.abs(gray - background) > TRIM_TOLERANCE
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:  # blank image: nothing to trim to
        return 0, gray.shape[0], 0, gray.shape[1]
    return rows[0], rows[-1] + 1, cols[0], cols[-1] + 1


def fit_and_centre(gray: np.ndarray, size: int) -> np.ndarray:
    """Resize the longest side to `size` keeping the aspect ratio, centred on a black square."""
    height, width = gray.shape
    scale = size / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    if (new_w, new_h) != (width, height):
        resized = Image.fromarray(gray.astype(np.float32)).resize((new_w, new_h), Image.Resampling.BICUBIC)
        gray = np.asarray(resized, dtype=np.float32)
    canvas = np.zeros((size, size), dtype=np.float32)
    top, left = (size - new_h) // 2, (size - new_w) // 2
    canvas[top : top + new_h, left : left + new_w] = gray
    return canvas


def preprocess_image(path, size: int = 28, invert=None, trim: bool = True) -> np.ndarray:
    """An image file -> float32 [1, size, size] in [0, 1]. invert: None (auto), True or False."""
    return preprocess_pil(open_image(path), size, invert, trim)


def preprocess_pil(image: Image.Image, size: int = 28, invert=None, trim: bool = True) -> np.ndarray:
    """A decoded image -> float32 [1, size, size] in [0, 1] (model.e2e.onnx does the same in-graph)."""
    gray, alpha = gray_and_alpha(image)
    gray = to_light_on_dark(gray, alpha, invert)
    background = float(np.median(border_pixels(gray)))
    if background < 128:  # a dim, not quite black, background counts as background (not after a forced invert)
        gray = np.clip(gray - background, 0, 255)
    if gray.shape == (size, size):
        square = gray
    else:
        if trim:
            top, bottom, left, right = trim_box(gray)
            gray = gray[top:bottom, left:right]
        square = fit_and_centre(gray, size)
    # Quantise like the 8-bit training images, so a saved test image round-trips exactly.
    return (np.clip(np.round(square), 0, 255) / 255.0).astype(np.float32)[None]


def preprocess_photo(path, size: int, resize_to: int, mean, std) -> np.ndarray:
    """A photo for an ImageNet-style model: RGB (transparency on white), shorter side to `resize_to`,
    centre crop to `size`, scaled to [0, 1], normalised by mean/std -> float32 [3, size, size]."""
    image = open_image(path)
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        backdrop = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(backdrop, rgba)
    image = image.convert("RGB")
    width, height = image.size
    scale = resize_to / min(width, height)
    image = image.resize((max(size, round(width * scale)), max(size, round(height * scale))), Image.Resampling.BILINEAR)
    left, top = (image.width - size) // 2, (image.height - size) // 2
    pixels = np.asarray(image.crop((left, top, left + size, top + size)), dtype=np.float32) / 255.0
    pixels = (pixels - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(pixels.transpose(2, 0, 1))


def preprocess_for_manifest(path, preprocessing: dict, invert=None) -> np.ndarray:
    """Preprocess an image file as the bundle's manifest says."""
    if preprocessing.get("channels") == 3:
        return preprocess_photo(path, preprocessing["size"], preprocessing["resize_to"],
                                preprocessing["mean"], preprocessing["std"])  # fmt: skip
    return preprocess_image(path, size=preprocessing["size"], invert=invert, trim=preprocessing.get("trim", True))
