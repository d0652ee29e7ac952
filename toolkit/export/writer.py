"""Writing a bundle: every artifact atomically, the manifest last, stale files removed only after it.

Artifacts of formats not re-exported stay listed if they were made from the same weights; the rest
of the previous bundle's files are stale and go once the new manifest is in place. A verification
report stays valid only while it checked exactly the files now listed.
"""

import json
from pathlib import Path

from toolkit.atomic import write_bytes
from toolkit.errors import ToolkitError
from toolkit.export import manifest as manifest_builder
from toolkit.runtime import bundle
from toolkit.runtime.schema import Manifest, verification_summary


def previous_manifest(out_dir: Path) -> Manifest | None:
    try:
        return bundle.read_manifest(out_dir)
    except ToolkitError:  # no bundle yet, or a broken one we are about to replace anyway
        return None


def write_bundle(out_dir, spec, built: dict, weights: dict, ckpt=None) -> Manifest:
    """Write the built artifacts ({file name: (bytes, format)}) and their manifest into out_dir."""
    out_dir = Path(out_dir)
    previous = previous_manifest(out_dir)
    files = {name: {"sha256": bundle.sha256_bytes(data), "bytes": len(data)} for name, (data, _) in built.items()}
    format_files = {fmt: name for name, (_, fmt) in built.items()}
    stale = _carry_over_still_valid_artifacts(out_dir, previous, files, format_files)
    verification = _still_valid_verification(out_dir, files)
    if verification is None:
        stale.append(out_dir / bundle.VERIFICATION)

    for name, (data, _) in built.items():
        write_bytes(out_dir / name, data)
    onnx_bytes = built.get("model.onnx", (None,))[0]
    manifest = manifest_builder.build(spec, files, format_files, weights, ckpt, previous, onnx_bytes)
    manifest.verification = verification
    bundle.write_manifest(out_dir, manifest)
    # Only now, with the new manifest in place, remove what no longer belongs to the bundle.
    for path in stale:
        path.unlink(missing_ok=True)
    return manifest


def _carry_over_still_valid_artifacts(out_dir: Path, previous, files: dict, format_files: dict) -> list:
    """Artifacts of formats not re-exported stay listed if made from the same weights; the rest are stale."""
    stale = []
    if previous is None:
        return stale
    state_dict = bundle.FORMAT_FILES["state-dict"]
    same_weights = previous.files.get(state_dict, {}).get("sha256") == files[state_dict]["sha256"]
    for fmt, name in previous.formats.items():
        if fmt in format_files or not (out_dir / name).is_file():
            continue
        if same_weights and bundle.sha256_file(out_dir / name) == previous.files[name]["sha256"]:
            files[name], format_files[fmt] = previous.files[name], name
        else:
            stale.append(out_dir / name)  # made from other weights: must not linger beside the new ones
    return stale


def _still_valid_verification(out_dir: Path, files: dict):
    """The verification summary, when verification.json checked exactly these files; else None."""
    try:
        report = json.loads((out_dir / bundle.VERIFICATION).read_text())
    except (OSError, ValueError):
        return None
    if report.get("files") == {name: entry["sha256"] for name, entry in files.items()}:
        return verification_summary(report)
    return None
