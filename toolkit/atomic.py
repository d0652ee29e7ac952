"""Atomic writes: a file replaced whole, a folder replaced whole, and a lock so one writer works at a time.

A crash, a kill or a full disk leaves the previous file or folder whole, never a half-written one:
files go to a temp file in the same folder, are fsynced, then renamed over the old one; folders are
built in a staging folder beside the target, fsynced, then exchanged with it in one rename
(Linux's renameat2 RENAME_EXCHANGE; elsewhere two renames, with a moment in between where the
folder is absent but nothing is ever half-written). Standard library only, so the runtime may use it.
"""

import contextlib
import ctypes
import errno
import os
import shutil
import tempfile
from pathlib import Path

from toolkit.errors import ToolkitError

STAGING = ".tk-staging-"  # .<folder>.tk-staging-<random>: a folder being built beside its target
LOCK = ".tk-lock"  # .<folder>.tk-lock: held while a process writes the folder


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; on success it is fsynced and replaces `path`, on error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".tk-{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files; artifacts are meant to be shared
        fsync_file(tmp)
        os.replace(tmp, path)
        fsync_file(path.parent)  # the rename itself is durable only once the folder is
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_bytes(path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def link_or_copy(source: Path, target: Path) -> None:
    """A hard link where the file system allows (no bytes copied), else a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def fsync_file(path) -> None:
    """Flush a file's (or a folder's) data to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(folder: Path) -> None:
    for path in folder.iterdir():
        fsync_file(path)
    fsync_file(folder)


@contextlib.contextmanager
def folder_lock(folder):
    """Hold `.<folder>.tk-lock` beside the folder for the block; a second writer is refused at once, in one line.

    The lock file stays (removing it would race with a process that has just opened it); it is empty."""
    import fcntl  # here, not at the top: the runtime imports this module on systems without fcntl too

    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    lock_path = folder.parent / f".{folder.name}{LOCK}"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ToolkitError(f"{folder}: another tk process is writing it (it holds {lock_path}); wait for it") from None
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def remove_stale_staging(folder: Path) -> None:
    """Staging folders a killed writer left beside `folder` (call with the folder's lock held)."""
    for stale in folder.parent.glob(f".{folder.name}{STAGING}*"):
        shutil.rmtree(stale, ignore_errors=True)


@contextlib.contextmanager
def replaced_folder(folder):
    """Yield an empty staging folder beside `folder`; when the block succeeds, it becomes `folder` in one step
    and the old folder is removed. If the block fails, `folder` is untouched and the staging folder goes."""
    folder = Path(folder)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}{STAGING}", dir=folder.parent))
    try:
        os.chmod(staging, 0o755)  # mkdtemp makes 0700 folders
        yield staging
        fsync_tree(staging)
        swap_in(staging, folder)
        fsync_file(folder.parent)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # after the swap, this is the old folder


def swap_in(staging: Path, folder: Path) -> None:
    """Put `staging` where `folder` is; afterwards `staging` names the old folder (or nothing)."""
    if not folder.exists():
        os.rename(staging, folder)
    elif not _exchange(staging, folder):
        retired = staging.with_name(staging.name + "-old")
        os.rename(folder, retired)
        os.rename(staging, folder)
        os.rename(retired, staging)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux renameat2 RENAME_EXCHANGE); False where that is not available."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):  # old kernel or a file system without it
        return False
    raise OSError(code, os.strerror(code), str(b))
