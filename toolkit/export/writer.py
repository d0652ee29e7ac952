"""Writing a bundle as a whole: built in a staging folder beside the target, then swapped in at once.

At every instant the target folder holds the old bundle or the new one, whole; a lock keeps a second
export out, and staging folders a killed export left behind are removed by the next one. Artifacts of
formats not re-exported are carried over if they were made from the same weights; a verification
report is carried over only while it checked exactly the files now listed. Export never deletes a
file one by one: the old folder goes as a whole, and only if it held nothing but a bundle's files.
"""

import json
from pathlib import Path

from toolkit.atomic import folder_lock, link_or_copy, remove_stale_staging, replaced_folder
from toolkit.errors import ToolkitError, UsageError
from toolkit.export import manifest as manifest_builder
from toolkit.runtime import bundle, signing, trust
from toolkit.runtime.schema import Manifest, companion_files, verification_summary
from toolkit.runtime.text import VOCAB_FILE

BUNDLE_FILES = {*bundle.FORMAT_FILES.values(), *companion_files(), bundle.MANIFEST, bundle.VERIFICATION}
BUNDLE_FILES |= {signing.SIGNATURE, VOCAB_FILE}


def previous_manifest(out_dir: Path) -> Manifest | None:
    try:
        return bundle.read_manifest(out_dir)
    except ToolkitError:  # no bundle yet, or a broken one we are about to replace anyway
        return None


def check_replaceable(out_dir: Path) -> None:
    """The folder is absent, empty, or holds nothing but a bundle's files: replacing it loses nothing else."""
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(20, "Not a directory", str(out_dir))
    if not out_dir.is_dir():
        if out_dir.parent.exists() and not out_dir.parent.is_dir():
            raise NotADirectoryError(20, "Not a directory", str(out_dir))
        return
    foreign = sorted(
        p.name + ("/" if p.is_dir() else "")
        for p in out_dir.iterdir()
        if p.name not in BUNDLE_FILES and not (p.name.startswith(".tk-") and p.name.endswith(".tmp"))
    )
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise UsageError(
            f"{out_dir}: holds files that are not part of a bundle ({shown}); export into a new or empty folder"
        )


def write_bundle(out_dir, spec, built: dict, weights: dict, ckpt=None, sign_key=None, failed=None) -> Manifest:
    """Write the built artifacts ({file name: (bytes, format)}) and their manifest as the bundle out_dir,
    signed with the private key file `sign_key` if given (manifest.sig is swapped in with the rest).
    `failed`: formats that could not be exported, and why (the manifest says so)."""
    out_dir = Path(out_dir)
    check_replaceable(out_dir)
    with folder_lock(out_dir):
        remove_stale_staging(out_dir)
        previous = previous_manifest(out_dir)
        files = {name: {"sha256": bundle.sha256_bytes(data), "bytes": len(data)} for name, (data, _) in built.items()}
        format_files = {fmt: name for name, (_, fmt) in built.items() if fmt is not None}  # None: vocab.json
        carried = _still_valid_artifacts(out_dir, previous, files, format_files, failed or {})
        verification = _still_valid_verification(out_dir, files)
        with replaced_folder(out_dir) as staging:
            for name, (data, _) in built.items():
                (staging / name).write_bytes(data)
            for name in carried + ([bundle.VERIFICATION] if verification else []):
                link_or_copy(out_dir / name, staging / name)
            onnx_bytes = built.get("model.onnx", (None,))[0]
            manifest = manifest_builder.build(spec, files, format_files, weights, ckpt, previous, onnx_bytes, failed)
            manifest.verification = verification
            (staging / bundle.MANIFEST).write_text(bundle.dumps(manifest.to_dict()))
            if sign_key is not None:
                signing.sign(staging, manifest, sign_key)
    # Artifacts that can carry code are trusted later only because this machine made them.
    trusted = [files[name]["sha256"] for fmt, name in format_files.items() if fmt in trust.CODE_FORMATS]
    if spec.source is not None and spec.source.rebuildable:  # verify may import this very source again later
        trusted.append(spec.source.trust_key)
    trust.record_exported(trusted)
    return manifest


def _still_valid_artifacts(out_dir: Path, previous, files: dict, format_files: dict, failed: dict) -> list:
    """Artifacts of formats not re-exported, made from the same weights and intact: listed again, to copy over
    (never one whose export failed just now: the model may have changed since)."""
    if previous is None:
        return []
    state_dict = bundle.FORMAT_FILES["state-dict"]
    if previous.files.get(state_dict, {}).get("sha256") != files[state_dict]["sha256"]:
        return []  # other weights: nothing made from the old ones may linger beside the new
    carried = []
    for fmt, name in previous.formats.items():
        if fmt in format_files or fmt in failed:
            continue
        names = [name, *bundle.FORMAT_COMPANIONS.get(fmt, ())]  # a format's files go together or not at all
        if all(_intact(out_dir / n, previous.files.get(n)) for n in names):
            for n in names:
                files[n] = previous.files[n]
            format_files[fmt] = name
            carried += names
    return carried


def _intact(path: Path, entry) -> bool:
    return (
        entry is not None and not path.is_symlink() and path.is_file() and bundle.sha256_file(path) == entry["sha256"]
    )


def _still_valid_verification(out_dir: Path, files: dict):
    """The verification summary, when verification.json checked exactly these files; else None."""
    path = out_dir / bundle.VERIFICATION
    try:
        if path.is_symlink() or path.stat().st_size > bundle.MAX_MANIFEST_BYTES:
            return None  # not a report tk wrote: start over rather than read it
        report = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError):
        return None
    if isinstance(report, dict) and report.get("files") == {name: entry["sha256"] for name, entry in files.items()}:
        try:
            return verification_summary(report)
        except (KeyError, TypeError):
            return None
    return None
