"""What the image leaves out: the files of the base system and of the installed wheels that `tk serve` never
reads. Standard library only and free of toolkit imports: it runs as a script, on the host as mmdebstrap's
customize hook (`prune.py rootfs ROOT`) and inside the build stage on the installed packages
(`prune.py site LIB`, which then compiles their bytecode).

Each pattern says why it can go. What stays is what the served model needs: Python, its standard library,
the C and C++ runtimes, and the wheels' own code and libraries.
"""

import compileall
import os
import shutil
import sys
from pathlib import Path

ROOTFS = {
    # No shell, no coreutils, no package manager: the server is one Python process, and an intruder in
    # the container finds no tools. Python itself stays.
    "usr/bin/*": "shell and command-line tools",
    "usr/sbin/*": "system administration tools",
    "usr/libexec": "helpers of the removed tools",
    "usr/lib/*/gconv": "iconv modules: Python has its own codecs",
    "usr/lib/*/perl-base": "perl, used only by dpkg's scripts",
    "usr/share/perl5": "perl, used only by dpkg's scripts",
    "usr/lib/*/security": "PAM modules for logins",
    "usr/lib/systemd": "systemd units",
    "usr/share/bash-completion": "completions for the removed shell",
    "usr/share/gdb": "debugger scripts",
    "usr/share/gcc": "debugger scripts",
    "usr/lib/python3*/test": "Python's own test suite",
    "usr/lib/python3*/lib2to3": "a Python 2 converter",
    "usr/lib/python3*/pydoc_data": "pydoc's help topics",
    "usr/lib/python3*/idlelib": "the IDLE editor",
    "usr/lib/python3*/turtledemo": "turtle graphics demos",
    "var/lib/dpkg/info": "dpkg's per-package scripts and file lists (status, the list of versions, stays)",
    "var/cache/*": "apt and debconf caches",
    "var/log/*": "install logs, which hold the build's times",
}

SITE = {
    "bin": "console scripts: the image runs python3 -m toolkit",
    "onnxruntime/capi/libonnxruntime.so*": "ONNX Runtime's C API library: the Python module holds its own copy",
    "onnxruntime/transformers": "model optimisation tools",
    "onnxruntime/quantization": "quantisation tools (tk export makes the int8 model)",
    "onnxruntime/tools": "conversion tools",
    "onnxruntime/datasets": "sample models",
    "onnxruntime/backend": "the ONNX backend test API (needs the onnx package)",
    "numpy/f2py": "the Fortran wrapper generator",
    "numpy/distutils": "build tools",
    "numpy/_pyinstaller": "PyInstaller hooks",
    "numpy/_core/include": "C headers",
    "numpy/_core/lib": "static libraries for C extensions",
    "PIL/_imagingtk*": "Tk display support",
    "**/tests": "the packages' test suites",
    "**/*.pyi": "type stubs",
}

# The tk user: a fixed uid and gid, so Kubernetes' runAsNonRoot can check it and files keep one owner.
USER_ID = 10001
PASSWD = f"tk:x:{USER_ID}:{USER_ID}:tk serve:/nonexistent:/nonexistent\n"
GROUP = f"tk:x:{USER_ID}:\n"
KEEP_IN_BIN = ("python3",)  # python3, python3.11, ...: what the image runs


def remove(root: Path, patterns: dict) -> int:
    """Delete what each pattern matches under root; returns the bytes freed."""
    freed = 0
    for pattern in patterns:
        for path in sorted(root.glob(pattern), reverse=True):  # deepest first: globs may nest
            if path.name.startswith(KEEP_IN_BIN) and path.parent.name == "bin":
                continue
            if not os.path.lexists(path):
                continue
            freed += tree_size(path)
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    return freed


def tree_size(path: Path) -> int:
    if path.is_symlink() or not path.is_dir():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*"))


def prune_rootfs(root: Path) -> int:
    freed = remove(root, ROOTFS)
    for name, line in (("etc/passwd", PASSWD), ("etc/group", GROUP)):
        path = root / name
        if line not in path.read_text():
            with path.open("a") as file:
                file.write(line)
    return freed


def prune_site(lib: Path) -> int:
    freed = remove(lib, SITE)
    # Bytecode made now, keyed by the source's hash rather than its mtime (the build fixes every mtime),
    # and never checked against the source: the files cannot change on a read-only image. Without it
    # every start would compile each module again (seconds) and could not write the result.
    ok = compileall.compile_dir(
        str(lib), quiet=1, workers=1, invalidation_mode=compileall.py_compile.PycInvalidationMode.UNCHECKED_HASH
    )
    if not ok:
        sys.exit("prune: some modules do not compile")
    return freed


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("rootfs", "site"):
        sys.exit("usage: prune.py rootfs ROOT | prune.py site LIB")
    target = Path(sys.argv[2])
    freed = prune_rootfs(target) if sys.argv[1] == "rootfs" else prune_site(target)
    print(f"prune: {sys.argv[1]}: {freed / 2**20:.1f} MiB left out of {target}")
