"""`tk image`: bundles -> an OCI image that serves them with `tk serve`, plus its Kubernetes manifests.

    base (base.py)  +  wheels (wheels.py)  +  bundles and tk's code (context.py)  ->  engine build
    -> the image (tagged), optionally saved as an archive, and deploy/k8s.yaml, deploy/kserve.yaml

Reproducible: the base is cached by its inputs, the wheels are the same files, every file in the context
has a fixed mode, and the build fixes every time stamp (podman's --timestamp), so building the same
bundles twice gives the same image ID.
"""

import contextlib
import gzip
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from toolkit.atomic import atomic_path, write_text
from toolkit.deploy import base, context, identity, kubernetes, wheels
from toolkit.deploy.engine import Engine
from toolkit.errors import UsageError

DEFAULT_TAG = "localhost/tk-{model}:latest"


@dataclass
class Built:
    tag: str
    image_id: str
    size: int  # bytes, unpacked
    models: list
    archive: Path | None
    deploy: Path  # the folder with k8s.yaml and kserve.yaml


def build_image(
    bundle_dirs: list,
    tag: str | None = None,
    out: Path | None = None,
    engine_name: str = "podman",
    token_file: str | None = None,
    public_key: Path | None = None,
    base_image: str | None = None,
    log=print,
) -> Built:
    if not bundle_dirs:
        raise UsageError("name one or more bundle folders to put in the image")
    if out is not None and not out.name.endswith((".tar", ".tar.gz")):
        raise UsageError(f"--out {out}: the archive's name must end in .tar or .tar.gz")
    if token_file is not None:
        kubernetes.check_token_path(token_file)
    engine = Engine.find(engine_name)
    with tempfile.TemporaryDirectory(prefix="tk-image-") as temporary:
        folder = Path(temporary)
        names = context.add_bundles(folder, bundle_dirs, public_key)  # a bad bundle stops it before any build
        tag = full_reference(tag or DEFAULT_TAG.format(model=names[0]))
        base_ref = base_image or base.debian_base(engine, log)
        platform = wheels.Platform.parse(probe(engine, base_ref, pull=base_image is not None))
        recipe = context.Recipe(base_ref, wheels.download(platform, log), token_file, public_key)
        context.write_context(folder, names, recipe)
        log(f"tk image: building {tag} ({', '.join(names)}) with {engine.name}")
        args = engine.build_args(base.EPOCH, pull=base_image is not None)
        containerfile = str(folder / "Containerfile")  # docker looks for a Dockerfile unless told
        engine.run("build", *args, "-f", containerfile, "-t", tag, str(folder), what=f"building {tag}", timeout=3600)
    identity.drop_build_container(engine, tag)
    built = Built(tag, engine.image_id(tag), engine.image_size(tag), names, None, deploy_dir(out))
    if out is not None:
        built.archive = save(engine, tag, out)
    for name, text in kubernetes.manifests(kubernetes.Workload.for_image(tag, token_file)).items():
        write_text(built.deploy / name, text)
    return built


def full_reference(tag: str) -> str:
    """tk-fashion-mlp -> localhost/tk-fashion-mlp:latest, as podman names a local image (skopeo and the
    manifests then name the same one); a reference with a registry or a tag keeps it."""
    first, _, rest = tag.partition("/")
    if not rest or not ("." in first or ":" in first or first == "localhost"):
        tag = f"localhost/{tag}"
    if ":" not in tag.rsplit("/", 1)[-1] and "@" not in tag:
        tag += ":latest"
    return tag


def probe(engine: Engine, reference: str, pull: bool) -> str:
    """What the base runs: one short container answers with its Python, C library and machine."""
    policy = "--pull=missing" if pull else "--pull=never"
    command = ["run", "--rm", policy, "--network=none", reference, "python3", "-c", wheels.Platform.PROBE]
    return engine.run(*command, what=f"running python3 in the base {reference}", timeout=600)


def deploy_dir(out: Path | None) -> Path:
    """deploy/ beside the archive, or in the current folder without one."""
    return (out.parent if out is not None else Path.cwd()) / "deploy"


def save(engine: Engine, tag: str, out: Path) -> Path:
    """The image as an archive `podman load` and `docker load` take: docker-archive, gzipped for .tar.gz
    (with no time stamp in the gzip header, so the same image gives the same bytes)."""
    with atomic_path(out) as partial:
        engine.run(*engine.save_args(tag, partial), what=f"saving {tag}")
        if out.name.endswith(".gz"):
            packed = partial.with_name(partial.name + ".gz")
            try:
                with open(packed, "wb") as target:
                    gzip_into(partial, target)
                os.replace(packed, partial)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(packed)
    return out


def gzip_into(source: Path, target) -> None:
    """`source` gzipped (level 6) into the file object `target`, with no name or time in the header."""
    with (
        open(source, "rb") as data,
        gzip.GzipFile(fileobj=target, mode="wb", compresslevel=6, mtime=0, filename="") as packed,
    ):
        shutil.copyfileobj(data, packed, 1 << 20)
