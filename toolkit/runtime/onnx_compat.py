"""Which ONNX Runtime releases load which ONNX files: opset and IR version limits. No torch.

From ONNX Runtime's published compatibility matrix (ONNX Runtime release -> ONNX release -> highest
opset and IR version). Releases newer than the last row load everything that row loads; rows for
newer releases can be added as they are confirmed. torch's exporter emits opset 18 at the lowest,
so ONNX Runtime 1.14 is the oldest release tk can target.
"""

from toolkit.errors import UsageError

# ONNX Runtime (major, minor) -> (highest ai.onnx opset, highest IR version) it loads
ORT_LIMITS = {
    (1, 14): (18, 8),  # ONNX 1.13
    (1, 15): (19, 9),  # ONNX 1.14
    (1, 16): (19, 9),  # ONNX 1.14.1
    (1, 17): (20, 9),  # ONNX 1.15
    (1, 18): (21, 10),  # ONNX 1.16
}
LOWEST_EXPORTER_OPSET = 18


def parse_version(text: str) -> tuple:
    try:
        major, minor = (int(part) for part in str(text).split(".")[:2])
    except ValueError:
        raise UsageError(f"--min-ort {text!r}: expected a version like 1.17") from None
    return major, minor


def limits_for(min_ort: str) -> tuple:
    """(opset, ir_version): the newest an ONNX Runtime as old as `min_ort` loads."""
    version = parse_version(min_ort)
    oldest = min(ORT_LIMITS)
    if version < oldest:
        raise UsageError(
            f"--min-ort {min_ort}: torch's exporter needs opset {LOWEST_EXPORTER_OPSET}, which "
            f"ONNX Runtime {oldest[0]}.{oldest[1]} is the first to load"
        )
    known = [v for v in ORT_LIMITS if v <= version]
    return ORT_LIMITS[max(known)]


def default_opset(model) -> int:
    """The ai.onnx opset an ONNX ModelProto is stamped with."""
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


def oldest_runtime_for(opset: int, ir_version: int) -> str | None:
    """The oldest ONNX Runtime in the table that loads a file of this opset and IR version."""
    for (major, minor), (max_opset, max_ir) in sorted(ORT_LIMITS.items()):
        if opset <= max_opset and ir_version <= max_ir:
            return f"{major}.{minor}"
    return None
