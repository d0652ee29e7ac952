"""Export replaces a bundle as a whole: at every step the folder is the old bundle or the new one."""

import os

import pytest

from toolkit import atomic
from toolkit.errors import ToolkitError, UsageError
from toolkit.export import export
from toolkit.runtime import bundle

from conftest import quiet


def snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def export_other_weights(folder, tmp_path):
    """Export into `folder` from weights unlike the quick run's: every file of the bundle changes."""
    import torch

    from toolkit.models import get_spec

    torch.manual_seed(7)
    torch.save(get_spec("fashion-mlp").build().state_dict(), tmp_path / "other.pth")
    return export(
        "fashion-mlp",
        formats=["torchscript", "onnx"],
        out_dir=folder,
        checkpoint_file=tmp_path / "other.pth",
        log=quiet,
    )


def staging_left(folder):
    return sorted(p.name for p in folder.parent.iterdir() if atomic.STAGING in p.name)


def full_disk(*_args, **_kwargs):
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize("step", ["fsync_tree", "swap_in"])
def test_a_failure_before_the_swap_leaves_the_old_bundle_untouched(quick_bundle, tmp_path, monkeypatch, step):
    old = snapshot(quick_bundle)
    monkeypatch.setattr(atomic, step, full_disk)
    with pytest.raises(OSError, match="No space left"):
        export_other_weights(quick_bundle, tmp_path)
    assert snapshot(quick_bundle) == old and staging_left(quick_bundle) == []


def test_a_failure_after_the_swap_leaves_the_new_bundle_whole(quick_bundle, tmp_path, monkeypatch):
    old = snapshot(quick_bundle)
    real = atomic.fsync_file

    def parent_fails(path):  # fsyncing the parent folder is the last step, after the swap
        real(path)
        if path == quick_bundle.parent:
            full_disk()

    monkeypatch.setattr(atomic, "fsync_file", parent_fails)
    with pytest.raises(OSError, match="No space left"):
        export_other_weights(quick_bundle, tmp_path)
    manifest = bundle.read_manifest(quick_bundle)
    assert snapshot(quick_bundle) != old and set(manifest.formats) == {
        "state-dict",
        "safetensors",
        "torchscript",
        "onnx",
    }
    for fmt in manifest.formats:
        bundle.artifact_path(quick_bundle, manifest, fmt)  # every file matches the new manifest
    assert staging_left(quick_bundle) == []


def test_a_killed_export_leaves_the_old_bundle_and_the_next_one_cleans_up(quick_bundle, tmp_path, monkeypatch):
    old = snapshot(quick_bundle)
    monkeypatch.setattr(atomic.shutil, "rmtree", lambda *a, **k: None)  # a kill: no cleanup at all
    monkeypatch.setattr(atomic, "swap_in", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        export_other_weights(quick_bundle, tmp_path)
    monkeypatch.undo()
    assert snapshot(quick_bundle) == old and len(staging_left(quick_bundle)) == 1
    export_other_weights(quick_bundle, tmp_path)
    assert staging_left(quick_bundle) == []
    assert snapshot(quick_bundle) != old


def test_every_file_is_fsynced_before_the_swap(quick_bundle, tmp_path, monkeypatch):
    synced = []
    real = os.fsync
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: synced.append(os.readlink(f"/proc/self/fd/{fd}")) or real(fd))
    export_other_weights(quick_bundle, tmp_path)
    names = {os.path.basename(path) for path in synced}
    assert {"state_dict.pth", "model.ts", "model.onnx", "manifest.json"} <= names


def test_a_second_export_into_the_same_folder_is_refused(quick_bundle, tmp_path):
    with atomic.folder_lock(quick_bundle):
        with pytest.raises(ToolkitError, match="another tk process is writing it"):
            export_other_weights(quick_bundle, tmp_path)


def test_a_folder_holding_other_files_is_never_replaced(tmp_path, quick_run):
    folder = tmp_path / "desktop"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="holds files that are not part of a bundle \\(notes.txt\\)"):
        export("fashion-mlp", formats=["onnx"], out_dir=folder, checkpoint_file=quick_run / "checkpoint.pt", log=quiet)
    assert (folder / "notes.txt").read_text() == "mine" and sorted(p.name for p in folder.iterdir()) == ["notes.txt"]


def test_a_stale_temp_file_inside_the_bundle_goes_with_the_old_folder(quick_bundle, tmp_path):
    (quick_bundle / ".tk-model.onnx.abc.tmp").write_bytes(b"half")
    export_other_weights(quick_bundle, tmp_path)
    assert not any(p.name.endswith(".tmp") for p in quick_bundle.iterdir())
