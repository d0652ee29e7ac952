"""A user's model given no --input-shape learns images at the size and in the colours most of them have."""

from pathlib import Path

from PIL import Image

from toolkit.data.own.images import entries_of
from toolkit.data.own.problems import Problems

SAMPLE = 64  # headers read, evenly spread over the files
GRAY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")
LARGEST_GUESS = 224


def image_shape(options) -> tuple:
    """(channels, side, side): 3 if any sampled image has colour, the median longest side (at most 224)."""
    root, entries, _ = entries_of(options, Problems())
    step = max(1, len(entries) // SAMPLE)
    sides, colour = [], False
    for entry in entries[::step][:SAMPLE]:
        try:
            with Image.open(Path(root) / entry.path) as image:
                sides.append(max(image.size))
                colour = colour or image.mode not in GRAY_MODES
        except (OSError, ValueError, Image.DecompressionBombError):
            continue  # reported when the folder is decoded
    if not sides:
        return (1, 28, 28)
    side = min(sorted(sides)[len(sides) // 2], LARGEST_GUESS)
    return (3 if colour else 1, side, side)
