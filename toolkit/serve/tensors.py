"""The protocol's tensors: datatypes, JSON `data` (flat or nested), raw little-endian bytes, and BYTES
elements (each a 4-byte little-endian length, then the bytes), both ways.

Everything here is checked before numpy touches it: the element count the shape promises (bounded), the
data's type and count, the byte count, finite floats. A ProtocolError names the input at fault.
"""

import struct
from dataclasses import dataclass

import numpy as np

NUMERIC = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
}
DATATYPES = (*NUMERIC, "BYTES")
FLOATS = ("FP16", "FP32", "FP64")
MAX_ELEMENTS = 1 << 26  # no request may promise more than this many elements, whatever its body holds
LENGTH = struct.Struct("<I")


class ProtocolError(Exception):
    """A request the server cannot answer; `status` is the HTTP status, the message goes to the client."""

    status = 400


class NotFound(ProtocolError):
    status = 404


class TooLarge(ProtocolError):
    status = 413


class Busy(ProtocolError):
    status = 503


@dataclass
class Tensor:
    name: str
    datatype: str
    shape: tuple
    array: np.ndarray  # BYTES: a 1-d object array of bytes


def element_count(name: str, datatype, shape) -> int:
    """The shape's product after checking the datatype and that every dim is a non-negative int."""
    if datatype not in DATATYPES:
        raise ProtocolError(f"input {name!r}: unknown datatype {datatype!r} (one of {', '.join(DATATYPES)})")
    if not isinstance(shape, (list, tuple)) or not all(type(d) is int and d >= 0 for d in shape):
        raise ProtocolError(f"input {name!r}: shape must be a list of non-negative integers, got {shape!r}")
    count = 1
    for dim in shape:
        count *= dim
        if count > MAX_ELEMENTS:
            raise TooLarge(f"input {name!r}: shape {list(shape)} is over {MAX_ELEMENTS} elements")
    return count


def from_json(name: str, datatype: str, shape, data) -> Tensor:
    """A JSON input's `data`, flat or nested as the shape, -> a Tensor."""
    count = element_count(name, datatype, shape)
    if not isinstance(data, list):
        raise ProtocolError(f"input {name!r}: data must be a list")
    if datatype == "BYTES":
        return Tensor(name, datatype, tuple(shape), np.array(flatten_strings(name, data, count), dtype=object))
    if datatype in FLOATS:
        return Tensor(name, datatype, tuple(shape), _floats(name, datatype, shape, data, count))
    try:
        array = np.array(data)
    except (ValueError, OverflowError):
        raise ProtocolError(f"input {name!r}: data is not a list of numbers shaped like {list(shape)}") from None
    allowed = "b" if datatype == "BOOL" else "biu" if datatype[0] in "IU" else "biuf"
    if array.size and array.dtype.kind not in allowed:
        raise ProtocolError(f"input {name!r}: data holds values that are not {datatype}")
    if array.size != count:
        raise ProtocolError(f"input {name!r}: data has {array.size} elements, shape {list(shape)} needs {count}")
    return Tensor(name, datatype, tuple(shape), checked_cast(name, datatype, array).reshape(shape))


def _floats(name: str, datatype: str, shape, data: list, count: int) -> np.ndarray:
    """Float data read straight into the datatype: half the time of reading it untyped first (the float
    models' JSON requests spend most of their parsing here). numpy reads a numeric string or a boolean
    as the number it names; anything else that is not a number is refused."""
    try:
        array = np.array(
            data, dtype=NUMERIC[datatype]
        )  # too large: infinity, refused below (tk serve sets over=ignore)
    except (ValueError, TypeError, OverflowError):
        raise ProtocolError(f"input {name!r}: data holds values that are not {datatype}, or is not shaped like "
                            f"{list(shape)}") from None  # fmt: skip
    if array.size != count:
        raise ProtocolError(f"input {name!r}: data has {array.size} elements, shape {list(shape)} needs {count}")
    if not np.isfinite(array).all():
        raise ProtocolError(f"input {name!r}: non-finite numbers (NaN, infinity, or too large for {datatype})")
    return array.reshape(shape)


def flatten_strings(name: str, data: list, count: int) -> list:
    """Nested lists of strings -> a flat list of UTF-8 bytes, without recursion (the depth is the client's)."""
    items, stack = [], [data]
    while stack and len(items) <= count:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, str):
            items.append(item.encode("utf-8", "surrogatepass"))
        else:
            raise ProtocolError(f"input {name!r}: BYTES data must be strings in JSON")
    if len(items) != count:
        raise ProtocolError(
            f"input {name!r}: data has {'more than ' if stack else ''}{len(items)} elements, shape needs {count}"
        )
    return items


def checked_cast(name: str, datatype: str, array: np.ndarray) -> np.ndarray:
    """Numbers -> the datatype, refusing values it cannot hold (out-of-range ints, non-finite floats)."""
    dtype = NUMERIC[datatype]
    if dtype.kind in "iu" and array.size:
        info = np.iinfo(dtype)
        if array.min() < info.min or array.max() > info.max:
            raise ProtocolError(f"input {name!r}: values outside {datatype}'s range")
    with np.errstate(over="ignore", invalid="ignore"):
        cast = array.astype(dtype)
    if dtype.kind == "f" and not np.isfinite(cast).all():
        raise ProtocolError(f"input {name!r}: non-finite numbers (NaN, infinity, or too large for {datatype})")
    return cast


def from_raw(name: str, datatype: str, shape, raw: bytes) -> Tensor:
    """Raw bytes (the binary extension, gRPC's raw_input_contents) -> a Tensor."""
    count = element_count(name, datatype, shape)
    if datatype == "BYTES":
        return from_elements(name, shape, split_bytes(name, raw, count))
    dtype = NUMERIC[datatype]
    needed = count * dtype.itemsize
    if len(raw) != needed:
        raise ProtocolError(
            f"input {name!r}: {len(raw)} bytes of data, shape {list(shape)} of {datatype} needs {needed}"
        )
    array = np.frombuffer(raw, dtype=dtype).reshape(shape)
    if dtype.kind == "f" and not np.isfinite(array).all():
        raise ProtocolError(f"input {name!r}: non-finite numbers (NaN or infinity)")
    return Tensor(name, datatype, tuple(shape), array)


def from_elements(name: str, shape, items: list) -> Tensor:
    """BYTES elements (gRPC's bytes_contents, split raw data) -> a Tensor, if they are as many as the shape says."""
    count = element_count(name, "BYTES", shape)
    if len(items) != count:
        raise ProtocolError(f"input {name!r}: {len(items)} BYTES elements, the shape needs {count}")
    return Tensor(name, "BYTES", tuple(shape), np.array(items, dtype=object))


def split_bytes(name: str, raw: bytes, count: int) -> list:
    """BYTES elements, each a 4-byte little-endian length then its bytes; no more than `count` of them."""
    items, offset = [], 0
    view = memoryview(raw)
    while offset < len(raw):
        if offset + 4 > len(raw) or len(items) == count:
            raise ProtocolError(f"input {name!r}: BYTES data does not hold exactly {count} length-prefixed elements")
        (length,) = LENGTH.unpack_from(raw, offset)
        if offset + 4 + length > len(raw):
            raise ProtocolError(f"input {name!r}: a BYTES element's length runs past the data")
        items.append(bytes(view[offset + 4 : offset + 4 + length]))
        offset += 4 + length
    return items


def to_raw(array: np.ndarray, datatype: str) -> bytes:
    """A Tensor's array -> the protocol's raw bytes."""
    if datatype == "BYTES":
        return b"".join(LENGTH.pack(len(item)) + item for item in array.reshape(-1))
    return np.ascontiguousarray(array, dtype=NUMERIC[datatype]).tobytes()


def to_json_data(array: np.ndarray, datatype: str) -> list:
    """A Tensor's array -> JSON `data`, flat in row-major order as the protocol's responses are."""
    flat = array.reshape(-1)
    if datatype == "BYTES":
        return [item.decode("utf-8", "replace") for item in flat]
    return flat.tolist()
