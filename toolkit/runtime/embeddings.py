"""The learned word vectors of a text bundle, read from model.safetensors without torch: nearest words.

safetensors is a simple format (an 8-byte little-endian header length, a JSON header naming each tensor's
dtype, shape and byte range, then the raw bytes), so one tensor is read here with numpy alone, every
number in the header checked against the file before it is used.
"""

import json
import struct

import numpy as np

from toolkit.errors import BundleError, InputError

MAX_HEADER_BYTES = 16 * 2**20
DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": None, "F64": np.float64}


def read_tensor(data: bytes, name: str, where: str) -> np.ndarray:
    """One float matrix of a safetensors file's bytes, in its stored dtype (float16, 32 or 64), not copied."""
    if len(data) < 8:
        raise BundleError(f"{where}: too short to be safetensors")
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > min(MAX_HEADER_BYTES, len(data) - 8):
        raise BundleError(f"{where}: its header length {header_len} is not possible")
    try:
        header = json.loads(data[8 : 8 + header_len].decode("utf-8"))
        entry = header[name]
        dtype, shape, (begin, end) = DTYPES[entry["dtype"]], entry["shape"], entry["data_offsets"]
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise BundleError(f"{where}: no float tensor {name!r} in its header ({type(exc).__name__})") from None
    if dtype is None or len(shape) != 2 or not all(isinstance(d, int) and d > 0 for d in shape):
        raise BundleError(f"{where}: {name!r} is not a float16/32/64 matrix")
    start = 8 + header_len
    if not (isinstance(begin, int) and isinstance(end, int) and 0 <= begin <= end <= len(data) - start):
        raise BundleError(f"{where}: {name!r}'s byte range is outside the file")
    if end - begin != shape[0] * shape[1] * np.dtype(dtype).itemsize:
        raise BundleError(f"{where}: {name!r}'s byte range does not match its shape {shape}")
    return np.frombuffer(data, dtype=dtype, count=shape[0] * shape[1], offset=start + begin).reshape(shape)


def nearest(vectors: np.ndarray, vocab: list, target: int, count: int, skip: int = 2) -> list:
    """[(word, cosine similarity)] of the `count` words closest to entry `target`; left out: the target
    itself, the first `skip` entries (padding, unknown) and word pairs."""
    table = vectors[: len(vocab)].astype(np.float32)
    norms = np.linalg.norm(table, axis=1)
    norms[norms == 0] = 1.0
    unit = table / norms[:, None]
    scores = unit @ unit[target]
    scores[:skip] = -np.inf
    scores[target] = -np.inf
    scores[[i for i, entry in enumerate(vocab) if " " in entry]] = -np.inf
    order = np.argsort(-scores, kind="stable")[: max(count, 0)]
    return [(vocab[i], float(scores[i])) for i in order if np.isfinite(scores[i])]


def nearest_words(predictor, word: str, count: int) -> list:
    """`nearest` over a loaded text bundle's vectors, read from its model.safetensors (hash checked)."""
    from toolkit.runtime import bundle

    if predictor.tokenizer is None:
        raise InputError(f"{predictor.bundle_dir}: a {predictor.kind} model has no word vectors (--similar)")
    path, data = bundle.read_artifact(predictor.bundle_dir, predictor.manifest, "safetensors")
    vectors = read_tensor(data, predictor.tokenizer.spec.vectors, str(path))
    if vectors.shape[0] < len(predictor.tokenizer.vocab):
        raise BundleError(f"{path}: fewer vectors ({vectors.shape[0]}) than vocab.json has words")
    lowered = word.lower() if predictor.tokenizer.spec.lowercase else word
    target = predictor.tokenizer.index.get(lowered, 0)
    if target < 2:  # unknown, or "<pad>" / "<unk>" themselves, which are no words
        raise InputError(f"{lowered!r} is not in the vocabulary (a word the model learned a vector for)")
    return nearest(vectors, predictor.tokenizer.vocab, target, count)
