"""Any image file -> the model's input array, step by step as the manifest's `preprocessing` says. No torch.

  decode (first frame; 8/16-bit; gray, RGB, RGBA, palette, CMYK)
  -> channels: 1 = gray (ITU-R 601 luma), 3 = RGB with transparency on white (background "dark":
     gray, repeated in each of the 3 channels at the end, as tk trains such models on Fashion-MNIST)
  -> background "dark" (Fashion-MNIST): light backgrounds are inverted (invert "auto", or forced) so
     the item is light on black, transparent pixels become that black, a dim background is removed
  -> resize "longest-side-keep-aspect": trim to the item (trim), resize the longest side to `size`,
     centre; or "shorter-side-then-centre-crop": shorter side to `resize_to`, centre crop to `size`
     (resample: "bicubic-antialias" or "bilinear")
  -> 8-bit quantisation (prepare_pixels; tk trains on these) -> times `scale` -> (x - mean) / std
     -> float32 [channels, size, size] (scale_pixels)

Fashion-MNIST made its 28x28 images from product photos by trimming, resizing the longest side and
centring, so a photo with wide margins, a dark item on white or a transparent PNG still classifies
well. An image that already has the model's size is taken to be in the dataset's form (a saved test
image, a drawing) and is not re-framed: the dense models are not shift invariant.
"""

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError

from toolkit.errors import InputError
from toolkit.runtime.schema import Preprocessing

RESAMPLE = {"bicubic-antialias": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}
MAX_PIXELS = 50_000_000  # larger images are refused before decoding: a decompression bomb guard
MAX_SIDE = 2048  # larger images are reduced on load: no model input is bigger, the float copies stay small
TRIM_TOLERANCE = 0.05 * 255  # "close to the background" as in Fashion-MNIST's own conversion


def open_image(path) -> Image.Image:
    """Decode the first frame of an image file, or raise InputError naming the file (see decode_image)."""
    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise InputError(f"{path}: a symlink that leads nowhere (or in a loop)")
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a regular file")  # directories, FIFOs, devices: never block on them
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file")
    try:
        return decode_image(path, str(path))
    except PermissionError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None


def decode_image(source, name: str) -> Image.Image:
    """Decode the first frame of `source` (a path or a binary file object), or raise InputError naming `name`.
    Memory stays bounded: over MAX_PIXELS is refused before decoding; a JPEG larger than MAX_SIDE is
    decoded at a reduced scale, and any other image larger than that is reduced right after decoding,
    before the float copies that preprocessing makes."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(source)
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise InputError(f"{name}: image too large to decode safely ({width}x{height} pixels)")
            image = next(ImageSequence.Iterator(image))  # first frame of a GIF/WEBP animation
            image.draft(image.mode, (MAX_SIDE, MAX_SIDE))  # JPEG: DCT scaling, never below MAX_SIDE
            image.load()
            return reduce_large(image)
    except InputError:
        raise
    except PermissionError:
        raise
    except UnidentifiedImageError:
        raise InputError(f"{name}: not an image (unrecognised format)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(f"{name}: image too large to decode safely") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InputError(f"{name}: truncated or corrupt image ({exc})") from None


def reduce_large(image: Image.Image) -> Image.Image:
    """Longest side over MAX_SIDE: reduced by a whole factor (box filter) to fit."""
    factor = -(-max(image.size) // MAX_SIDE)
    if factor <= 1:
        return image
    try:
        return image.reduce(factor)
    except ValueError:  # a mode reduce does not take (palette, 1-bit): as RGBA, which keeps transparency
        return image.convert("RGBA").reduce(factor)


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
    """Make the item light on a black background, like the training images; invert None decides."""
    if alpha is not None:
        opaque = alpha > 0.5
        if invert is None:  # a dark item (on a transparent background) is meant to be seen on light
            invert = bool(opaque.any()) and float(gray[opaque].mean()) < 128
        backdrop = 255.0 if invert else 0.0
        gray = gray * alpha + backdrop * (1.0 - alpha)
    elif invert is None:
        invert = float(np.median(border_pixels(gray))) > 127
    gray = 255.0 - gray if invert else gray
    background = float(np.median(border_pixels(gray)))
    if background < 128:  # a dim, not quite black, background counts as background (not after a forced invert)
        gray = np.clip(gray - background, 0, 255)
    return gray


def trim_box(gray: np.ndarray) -> tuple:
    """(top, bottom, left, right) around the pixels that differ from the background."""
    background = float(np.median(border_pixels(gray)))
    mask = np.abs(gray - background) > TRIM_TOLERANCE
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:  # blank image: nothing to trim to
        return 0, gray.shape[0], 0, gray.shape[1]
    return rows[0], rows[-1] + 1, cols[0], cols[-1] + 1


def rgb_on_white(image: Image.Image) -> np.ndarray:
    """RGB float32 HxWx3 in [0, 255]; transparent pixels composited onto white, as photos are shown."""
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    return np.asarray(image.convert("RGB"), dtype=np.float32)


def resize_pixels(pixels: np.ndarray, width: int, height: int, resample: str) -> np.ndarray:
    """Resize gray float pixels (PIL mode F) or RGB 8-bit pixels (PIL RGB, as torchvision's transforms do)."""
    if pixels.ndim == 2:
        image = Image.fromarray(pixels.astype(np.float32))
    else:
        image = Image.fromarray(pixels.astype(np.uint8), "RGB")
    return np.asarray(image.resize((width, height), RESAMPLE[resample]), dtype=np.float32)


def fit_and_centre(pixels: np.ndarray, size: int, resample: str = "bicubic-antialias") -> np.ndarray:
    """Resize the longest side to `size` keeping the aspect ratio, centred on a black square."""
    height, width = pixels.shape[:2]
    scale = size / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    if (new_w, new_h) != (width, height):
        pixels = resize_pixels(pixels, new_w, new_h, resample)
    canvas = np.zeros((size, size, *pixels.shape[2:]), dtype=np.float32)
    top, left = (size - new_h) // 2, (size - new_w) // 2
    canvas[top : top + new_h, left : left + new_w] = pixels
    return canvas


def crop_centre(pixels: np.ndarray, size: int, resize_to: int, resample: str) -> np.ndarray:
    """Resize the shorter side to `resize_to` (never below `size`), then crop the centre `size` square."""
    height, width = pixels.shape[:2]
    scale = resize_to / min(width, height)
    pixels = resize_pixels(pixels, max(size, round(width * scale)), max(size, round(height * scale)), resample)
    top, left = (pixels.shape[0] - size) // 2, (pixels.shape[1] - size) // 2
    return pixels[top : top + size, left : left + size]


def frame(pixels: np.ndarray, prep: Preprocessing) -> np.ndarray:
    """The resize step: pixels [H, W(, 3)] -> [size, size(, 3)]."""
    if prep.resize == "shorter-side-then-centre-crop":
        return crop_centre(pixels, prep.size, prep.resize_to or prep.size, prep.resample)
    if pixels.shape[:2] == (prep.size, prep.size):
        return pixels  # already in the dataset's form
    if prep.trim:
        top, bottom, left, right = trim_box(pixels if pixels.ndim == 2 else pixels.mean(axis=2))
        pixels = pixels[top:bottom, left:right]
    return fit_and_centre(pixels, prep.size, prep.resample)


def prepare(image: Image.Image, prep: Preprocessing, invert=None) -> np.ndarray:
    """A decoded image -> float32 [channels, size, size] (model.e2e.onnx does the same in its graph)."""
    return scale_pixels(prepare_pixels(image, prep, invert), prep)


def prepare_pixels(image: Image.Image, prep: Preprocessing, invert=None) -> np.ndarray:
    """A decoded image -> uint8 [size, size] (gray) or [size, size, 3] (RGB), the 8-bit pixels tk trains on.
    invert: None (the manifest's policy), True or False."""
    if prep.channels == 3 and prep.background != "dark":
        pixels, alpha = rgb_on_white(image), None
    else:
        pixels, alpha = gray_and_alpha(image)
    if prep.background == "dark":
        policy = None if prep.invert == "auto" else False  # None: decide from the image's border
        pixels = to_light_on_dark(pixels, alpha, policy if invert is None else invert)
    # Quantise like the 8-bit training images, so a saved test image round-trips exactly.
    return np.clip(np.round(frame(pixels, prep)), 0, 255).astype(np.uint8)


def scale_pixels(pixels: np.ndarray, prep: Preprocessing) -> np.ndarray:
    """uint8 pixels from prepare_pixels -> the model's float32 [channels, size, size]. The scale is applied in
    double precision, as the manifest holds it: for 8-bit values that equals float32 division by 255 exactly."""
    x = (pixels.astype(np.float64) * prep.scale).astype(np.float32)
    if prep.channels == 3 and x.ndim == 2:  # gray items on black, fed to a 3-channel model: gray in each
        x = np.repeat(x[:, :, None], 3, axis=2)
    if prep.mean:
        x = (x - np.asarray(prep.mean, np.float32)) / np.asarray(prep.std, np.float32)
    x = x[None] if x.ndim == 2 else x.transpose(2, 0, 1)
    return np.ascontiguousarray(x)


def prepare_file(path, prep: Preprocessing, invert=None) -> np.ndarray:
    """An image file -> the model's input, as the bundle's manifest says."""
    return prepare(open_image(path), prep, invert)


def prepare_bytes(data: bytes, prep: Preprocessing, name: str, invert=None) -> np.ndarray:
    """An encoded image file's bytes (a server's request) -> the model's input, exactly as prepare_file."""
    if not data:
        raise InputError(f"{name}: empty image")
    return prepare(decode_image(io.BytesIO(data), name), prep, invert)
