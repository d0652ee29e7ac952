"""The wheels of the slim runtime, downloaded on this machine for the base image's Python and platform, so
the build installs them offline (no network in the build, and the same wheels every time).

The versions are this environment's: an image serves with the libraries tk was tested with here. ONNX
Runtime is its CPU wheel (the image has no GPU libraries), at the version installed, whichever of its
wheels that is. Kept in ~/.cache/toolkit/image/wheels-<key>/, keyed by what was asked for.
"""

import hashlib
import importlib.metadata as metadata
import json
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from toolkit.deploy.base import cache_dir
from toolkit.deploy.engine import run_tool
from toolkit.errors import ImageError

# typer renders help with rich when it is installed; the image sets TYPER_USE_RICH=0 and leaves it out,
# with what only it needs (12 MB).
LEFT_OUT = {"rich", "pygments", "markdown-it-py", "mdurl"}
ONNXRUNTIME_WHEELS = ("onnxruntime", "onnxruntime-gpu", "onnxruntime-openvino", "onnxruntime-directml")
COMPLETE = ".complete"


@dataclass(frozen=True)
class Platform:
    """What a base image runs: its Python's version and its C library's, and the machine."""

    python: str  # "3.11"
    glibc: str  # "2.36"
    machine: str  # "x86_64"

    PROBE = "import platform, sys; print('%d.%d' % sys.version_info[:2], platform.libc_ver()[1], platform.machine())"

    @classmethod
    def parse(cls, line: str) -> "Platform":
        parts = line.split()
        if len(parts) != 3 or not re.fullmatch(r"\d+\.\d+", parts[1] or ""):
            raise ImageError(f"the base image's Python reported {line.strip()!r}: it needs glibc (Debian, Ubuntu)")
        return cls(*parts)

    def pip_args(self) -> list:
        """pip download's target: every manylinux tag this glibc takes, for this CPython."""
        major, minor = map(int, self.glibc.split("."))
        tags = [f"manylinux_{major}_{m}_{self.machine}" for m in range(minor, 4, -1)]
        tags += [f"manylinux{alias}_{self.machine}" for alias in ("2014", "2010", "1")]
        abi = "cp" + self.python.replace(".", "")
        args = ["--only-binary=:all:", "--python-version", self.python, "--implementation", "cp"]
        args += [f"--abi={a}" for a in (abi, "abi3", "none")]
        return args + [f"--platform={tag}" for tag in tags + ["any"]]


def pinned_requirements() -> list:
    """The slim install's requirements (no extras), each at the version installed here."""
    try:
        requirements = metadata.requires("toolkit") or []
    except metadata.PackageNotFoundError:
        raise ImageError("tk is not installed as a package here: 'pip install .' (or -e .) first") from None
    wanted = []
    for requirement in requirements:
        if ";" in requirement:  # an extra's: train, test
            continue
        name = re.match(r"[A-Za-z0-9._-]+", requirement).group(0)
        wanted.append(f"{name}=={installed_version(name)}")
    return sorted(wanted)


def installed_version(name: str) -> str:
    candidates = ONNXRUNTIME_WHEELS if name == "onnxruntime" else (name,)
    for candidate in candidates:
        try:
            return metadata.version(candidate)
        except metadata.PackageNotFoundError:
            continue
    raise ImageError(f"{name} is not installed here; install tk's runtime first ('pip install .')")


def constraints() -> list:
    """Every other installed distribution at its version: the transitive wheels match this environment."""
    pins = {}
    for dist in metadata.distributions():
        name = (dist.metadata["Name"] or "").lower()
        if name and name != "toolkit" and name not in ONNXRUNTIME_WHEELS:
            pins[name] = f"{name}=={dist.version}"
    return sorted(pins.values())


def download(platform: Platform, log=print) -> Path:
    """A folder of the wheels the image installs (and pip's own wheel, used only by the build stage)."""
    requirements, pins = pinned_requirements(), constraints()
    try:
        pip_version = metadata.version("pip")
    except metadata.PackageNotFoundError:
        raise ImageError(f"tk image downloads the runtime's wheels with pip, and {sys.executable} has no pip") from None
    key = hashlib.sha256(json.dumps([requirements, pins, pip_version, platform.__dict__]).encode()).hexdigest()[:16]
    folder = cache_dir() / f"wheels-{key}"
    if (folder / COMPLETE).is_file():
        return folder
    log(f"tk image: downloading {len(requirements)} runtime wheels and their dependencies for Python {platform.python}")
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    (partial / "constraints.txt").write_text("\n".join(pins) + "\n")
    pip = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "-d", str(partial)]
    pip += platform.pip_args()
    run_tool([*pip, "-c", str(partial / "constraints.txt"), *requirements], what="downloading the wheels")
    run_tool([*pip, "--no-deps", f"pip=={pip_version}"], what="downloading pip's wheel")
    (partial / COMPLETE).write_text("\n".join(requirements) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    return folder


def wheel_name(path: Path) -> str:
    """The distribution a wheel file holds, normalised: markdown_it_py-4.3.0-... -> markdown-it-py."""
    return re.sub(r"[-_.]+", "-", path.name.split("-")[0]).lower()


def wheels_to_install(folder: Path) -> list:
    """The runtime's wheels, sorted: all that were downloaded but pip's own and those LEFT_OUT."""
    found = sorted(folder.glob("*.whl"))
    return [w for w in found if wheel_name(w) not in LEFT_OUT and wheel_name(w) != "pip"]


def pip_wheel(folder: Path) -> Path:
    found = [w for w in sorted(folder.glob("*.whl")) if wheel_name(w) == "pip"]
    if not found:
        raise ImageError(f"{folder}: no pip wheel (remove the folder and build again)")
    return found[0]
