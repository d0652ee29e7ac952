"""The exported bundle's layout and its manifest: the contract between export and runtime.

Standard library only: the runtime reads bundles without torch. `manifest.json` names every
artifact with its sha256 and size, the input/output names, dtypes and shapes ("batch" is the dynamic
dim), the labels and the preprocessing, so nothing at run time needs the training code.
"""

import hashlib
import json
from pathlib import Path

from toolkit.atomic import write_text
from toolkit.errors import BundleError, UsageError

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
VERIFICATION = "verification.json"

# format name (as on the command line) -> artifact file in the bundle
FORMAT_FILES = {
    "state-dict": "state_dict.pth",
    "torchscript": "model.ts",
    "exported-program": "model.pt2",
    "aoti": "model.aoti.pt2",
    "onnx": "model.onnx",
    "onnx-fp16": "model.fp16.onnx",
    "onnx-int8": "model.int8.onnx",
    "onnx-e2e": "model.e2e.onnx",
}


def sha256_file(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_entry(path) -> dict:
    path = Path(path)
    return {"sha256": sha256_file(path), "bytes": path.stat().st_size}


def dumps(data: dict) -> str:
    """Stable JSON (sorted keys, fixed indent): the same content always gives the same bytes."""
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def read_manifest(bundle_dir) -> dict:
    bundle_dir = Path(bundle_dir)
    if not bundle_dir.is_dir():
        raise UsageError(f"{bundle_dir}: no such bundle directory (run 'tk export' first)")
    path = bundle_dir / MANIFEST
    if not path.is_file():
        raise BundleError(f"{bundle_dir}: no {MANIFEST} (not an exported bundle)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("schema_version") != SCHEMA_VERSION:
        found = manifest.get("schema_version") if isinstance(manifest, dict) else None
        raise BundleError(f"{path}: schema_version {found!r} is not supported (expected {SCHEMA_VERSION})")
    for key in ("model", "input", "output", "files", "formats"):
        if key not in manifest:
            raise BundleError(f"{path}: missing {key!r}")
    return manifest


def write_manifest(bundle_dir, manifest: dict) -> None:
    write_text(Path(bundle_dir) / MANIFEST, dumps(manifest))


def artifact_path(bundle_dir, manifest: dict, format_name: str, check_hash: bool = True) -> Path:
    """The path of one format's artifact, after checking it exists and matches its manifest hash."""
    path = _listed_path(bundle_dir, manifest, format_name)
    if check_hash:
        _check_hash(path, manifest, sha256_file(path))
    return path


def read_artifact(bundle_dir, manifest: dict, format_name: str) -> tuple:
    """(path, bytes) of one format's artifact, the hash checked on the very bytes returned (read once)."""
    path = _listed_path(bundle_dir, manifest, format_name)
    data = path.read_bytes()
    _check_hash(path, manifest, hashlib.sha256(data).hexdigest())
    return path, data


def _listed_path(bundle_dir, manifest: dict, format_name: str) -> Path:
    bundle_dir = Path(bundle_dir)
    name = manifest["formats"].get(format_name)
    if name is None:
        raise BundleError(f"{bundle_dir}: bundle has no {format_name} artifact (export it with --format {format_name})")
    path = bundle_dir / name
    if not path.is_file():
        raise BundleError(f"{path}: listed in the manifest but missing")
    return path


def _check_hash(path: Path, manifest: dict, actual: str) -> None:
    if actual != manifest["files"][path.name]["sha256"]:
        raise BundleError(f"{path}: sha256 does not match the manifest (file changed or corrupt)")
