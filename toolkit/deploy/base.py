"""The image's base, made here without a registry: mmdebstrap builds a minimal Debian root file system from
this machine's own apt sources (variant essential + python3 + libstdc++6, merged /usr, no docs or locales),
prune.py cuts it to what Python needs, and the engine turns the tarball into a local image.

Cached by its inputs: the same suite, sources, packages and cut give the same key; the tarball stays under
~/.cache/toolkit/image/ and the image is tagged localhost/tk-base:<key>, so a second tk image reuses both.
"""

import contextlib
import hashlib
import json
import os
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

from toolkit.atomic import link_or_copy
from toolkit.deploy.engine import Engine, run_tool
from toolkit.errors import ImageError

PACKAGES = ("python3", "libstdc++6")  # libstdc++6: onnxruntime, grpc and numpy's C++ code need it
EXCLUDED = ("/usr/share/doc/*", "/usr/share/man/*", "/usr/share/info/*", "/usr/share/locale/*", "/usr/share/lintian/*")
MERGED_USR_HOOK = Path("/usr/share/mmdebstrap/hooks/merged-usr")  # without it, usrmerge pulls in perl (+47 MB)
APT_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))
PRUNE = Path(__file__).with_name("prune.py")
EPOCH = 315532800  # 1980-01-01: every time stamp of the image (zip, which wheels are, starts there)


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "toolkit" / "image"


def apt_sources() -> list:
    """This machine's apt source files: mmdebstrap reads the same mirrors, so no other network is needed."""
    found = []
    for place in APT_SOURCES:
        if place.is_file():
            found.append(place)
        elif place.is_dir():
            found += sorted(p for p in place.iterdir() if p.suffix in (".list", ".sources") and p.is_file())
    return [p for p in found if p.read_text().strip()]


def debian_suite() -> str:
    try:
        release = Path("/etc/os-release").read_text()
    except OSError:
        release = ""
    fields = dict(line.split("=", 1) for line in release.splitlines() if "=" in line)
    suite = fields.get("VERSION_CODENAME", "").strip('"')
    if fields.get("ID", "").strip('"') != "debian" or not suite:
        raise ImageError("the base is built from Debian's packages and this is no Debian machine: pass --base IMAGE")
    return suite


def base_key(suite: str, sources: list, mmdebstrap_version: str) -> str:
    """A digest of everything the base is made from."""
    inputs = {
        "suite": suite,
        "sources": [p.read_text() for p in sources],
        "packages": PACKAGES,
        "excluded": EXCLUDED,
        "prune": PRUNE.read_text(),
        "mmdebstrap": mmdebstrap_version,
        "epoch": EPOCH,
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]


def debian_base(engine: Engine, log=print) -> str:
    """The local base image (built, or found in the cache); returns its reference."""
    if shutil.which("mmdebstrap") is None:
        raise ImageError("mmdebstrap is not installed (Debian: apt-get install mmdebstrap), or pass --base IMAGE")
    suite, sources = debian_suite(), apt_sources()
    if not sources:
        raise ImageError("no apt sources in /etc/apt to build the base from: pass --base IMAGE")
    version = run_tool(["mmdebstrap", "--version"], what="mmdebstrap --version").strip()
    key = base_key(suite, sources, version)
    reference = f"localhost/tk-base:{key}"
    if engine.has_image(reference):
        return reference
    tarball = cache_dir() / f"base-{key}.tar"
    if not tarball.is_file():
        log(f"tk image: building the Debian {suite} base with mmdebstrap (about half a minute, once)")
        make_rootfs(tarball, suite, sources)
    log(f"tk image: importing the base {reference}")
    with tempfile.TemporaryDirectory(prefix="tk-base-") as context:
        link_or_copy(tarball, Path(context) / "base.tar")
        (Path(context) / "Containerfile").write_text("FROM scratch\nADD base.tar /\nENV PATH=/usr/local/bin:/usr/bin\n")
        engine.run("build", *engine.build_args(EPOCH), "-t", reference, context, what="importing the base image")
    return reference


def make_rootfs(tarball: Path, suite: str, sources: list) -> None:
    """mmdebstrap's tarball, written whole or not at all."""
    tarball.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(prefix=f".{tarball.stem}.", suffix=".tar", dir=tarball.parent)
    os.close(fd)
    command = [
        "mmdebstrap",
        "--variant=essential",
        f"--include={','.join(PACKAGES)}",
        f"--hook-dir={MERGED_USR_HOOK}",
        *(f"--dpkgopt=path-exclude={pattern}" for pattern in EXCLUDED),
        f'--customize-hook={shlex.quote(sys.executable)} {shlex.quote(str(PRUNE))} rootfs "$1"',
        "--quiet",
        suite,
        partial,
        *map(str, sources),
    ]
    env = dict(os.environ, SOURCE_DATE_EPOCH=str(EPOCH))
    try:
        run_tool(command, what="building the base with mmdebstrap", timeout=1800, env=env)
        os.replace(partial, tarball)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
