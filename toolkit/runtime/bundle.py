"""The exported bundle on disk: its folder layout, its manifest, and its artifacts read with their hashes.

Standard library only: the runtime reads bundles without torch. The manifest's contents are defined
in `toolkit.runtime.schema`; this module decides where things are and checks every artifact against
its sha256 before anyone uses it. This is the one sha256 helper of the whole package.
"""

import hashlib
import json
from pathlib import Path

from toolkit.atomic import write_text
from toolkit.errors import BundleError, UsageError

# The schema names the files a bundle may hold; re-exported here, where the bundle's layout is.
from toolkit.runtime.schema import FORMAT_COMPANIONS as FORMAT_COMPANIONS
from toolkit.runtime.schema import FORMAT_FILES as FORMAT_FILES
from toolkit.runtime.schema import VERIFICATION as VERIFICATION
from toolkit.runtime.schema import Manifest

DEFAULT_MODEL = "fashion-mlp"  # what the commands act on when no model or bundle is named
MAX_MANIFEST_BYTES = 16 * 2**20  # a manifest with 65,536 labels is about 1 MiB
EXPORTED = Path("exported")  # where `tk export MODEL` writes by default
MANIFEST = "manifest.json"


def default_bundle_dir(model: str) -> Path:
    """exported/<model>: the bundle `tk export MODEL` writes and the other commands read by default."""
    return EXPORTED / model


def service_name(model: str) -> str:
    """The name a server knows a model by: a folder and URL segment, so torchvision/resnet18 ->
    torchvision_resnet18. A Triton repository (tk export --format triton) and tk serve use the same."""
    return model.replace("/", "_")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_entry(path) -> dict:
    """The manifest's record of one file: {"sha256", "bytes"}."""
    path = Path(path)
    return {"sha256": sha256_file(path), "bytes": path.stat().st_size}


def dumps(data: dict) -> str:
    """Stable JSON (sorted keys, fixed indent): the same content always gives the same bytes."""
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def read_manifest(bundle_dir) -> Manifest:
    bundle_dir = Path(bundle_dir)
    if not bundle_dir.is_dir():
        raise UsageError(
            f"{bundle_dir}: no such bundle folder (looked in {bundle_dir.absolute()}); export one with "
            "'tk export MODEL', or name the folder: --model DIR for tk infer, --bundle DIR for tk verify"
        )
    path = bundle_dir / MANIFEST
    if path.is_symlink():
        raise BundleError(f"{path}: is a symlink; a bundle holds plain files only")
    if not path.is_file():
        raise BundleError(f"{bundle_dir}: no {MANIFEST} (not an exported bundle)")
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise BundleError(f"{path}: larger than {MAX_MANIFEST_BYTES // 2**20} MiB; not a manifest tk wrote")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path}: not valid JSON ({exc})") from None
    except RecursionError:  # a few hundred thousand nested brackets
        raise BundleError(f"{path}: JSON nested too deeply to be a manifest") from None
    try:
        return Manifest.from_dict(data)
    except BundleError as exc:
        raise BundleError(f"{bundle_dir}/{exc}") from None  # "manifest.json: ..." -> "<bundle>/manifest.json: ..."


def write_manifest(bundle_dir, manifest: Manifest) -> None:
    write_text(Path(bundle_dir) / MANIFEST, dumps(manifest.to_dict()))


def artifact_path(bundle_dir, manifest: Manifest, format_name: str) -> Path:
    """The path of one format's artifact, after checking it exists and matches its manifest hash."""
    path = _listed_path(bundle_dir, manifest, format_name)
    _check_hash(path, manifest, sha256_file(path))
    return path


def read_artifact(bundle_dir, manifest: Manifest, format_name: str) -> tuple:
    """(path, bytes) of one format's artifact, the hash checked on the very bytes returned (read once)."""
    path = _listed_path(bundle_dir, manifest, format_name)
    data = path.read_bytes()
    _check_hash(path, manifest, sha256_bytes(data))
    return path, data


def _listed_path(bundle_dir, manifest: Manifest, format_name: str) -> Path:
    """The artifact's path, confined to the bundle folder: its fixed name, a plain file, no symlink."""
    bundle_dir = Path(bundle_dir)
    name = manifest.formats.get(format_name)
    if name is None:
        why = (manifest.failed_formats or {}).get(format_name)
        if why:
            raise BundleError(f"{bundle_dir}: bundle has no {format_name} artifact: its export failed ({why})")
        raise BundleError(f"{bundle_dir}: bundle has no {format_name} artifact (export it with --format {format_name})")
    if name != FORMAT_FILES[format_name]:  # the schema checks this too; a Manifest built in code might not
        raise BundleError(f"{bundle_dir}: {format_name} must be {FORMAT_FILES[format_name]!r}, not {name!r}")
    return _plain_file(bundle_dir / name)


def read_data_file(bundle_dir, manifest: Manifest, name: str, most: int) -> bytes:
    """A file the bundle lists besides its artifacts (a text model's vocab.json) of at most `most` bytes,
    its hash checked."""
    if name not in manifest.files:
        raise BundleError(f"{bundle_dir}: the manifest does not list {name}")
    path = _plain_file(Path(bundle_dir) / name)
    if path.stat().st_size > most:
        raise BundleError(f"{path}: larger than {most:,} bytes")
    data = path.read_bytes()
    _check_hash(path, manifest, sha256_bytes(data))
    return data


def _plain_file(path: Path) -> Path:
    if path.is_symlink():
        raise BundleError(f"{path}: is a symlink; a bundle holds plain files only")
    if not path.is_file():
        raise BundleError(f"{path}: listed in the manifest but missing")
    return path


def _check_hash(path: Path, manifest: Manifest, actual: str) -> None:
    expected = manifest.files.get(path.name, {}).get("sha256")
    if actual != expected:
        raise BundleError(f"{path}: sha256 does not match the manifest (file changed or corrupt)")
