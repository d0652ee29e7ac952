"""The build context of `tk image`: the bundles' serving files (checked), tk's own code, the wheels and the
Containerfile, laid out in a folder the engine builds from.

Only what serving reads goes in: manifest.json, model.onnx, a text model's vocab.json and manifest.sig.
They are checked where they will be used, in the context itself, by loading them exactly as the server
will (hashes, signature, ONNX Runtime session, inputs and outputs): a tampered bundle is refused here.
"""

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import toolkit
from toolkit.deploy import prune, wheels
from toolkit.errors import ImageError
from toolkit.runtime import bundle, signing, text

MODELS = "/models"  # /models/<model>: one folder a bundle
PUBLIC_KEY = "/etc/tk/signing.pub"
LIB = "/opt/tk/lib"  # the runtime's packages and tk's code
REST_PORT, GRPC_PORT = 8080, 8081  # KServe's ports for a custom container
HEALTH = "/v2/health/ready"
# How the image is meant to run: read-only, no capabilities, no new privileges, bounded memory and processes.
LOCKED_DOWN = ("--read-only", "--cap-drop=ALL", "--security-opt", "no-new-privileges", "--memory", "256m")
LOCKED_DOWN += ("--pids-limit", "256")
FOLDER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")  # a model's folder under /models


@dataclass(frozen=True)
class Recipe:
    """What the image is built from, besides the bundles."""

    base: str  # an image reference
    wheels: Path  # wheels.download()'s folder
    token_file: str | None = None  # where the secret is mounted in the container
    public_key: Path | None = None  # baked in: the server refuses bundles it did not sign


def copy_bundle(source: Path, models: Path, public_key=None) -> str:
    """The serving files of one bundle into models/<name>/, then loaded from there; returns <name>."""
    from toolkit.runtime import Predictor  # onnxruntime: only once a bundle is checked

    manifest = bundle.read_manifest(source)
    name = bundle.service_name(manifest.model)
    if not FOLDER_NAME.fullmatch(name):  # a bundle from elsewhere may name its model anything
        raise ImageError(
            f"{source}: model name {manifest.model!r} cannot be a folder of the image (letters, digits, . _ -)"
        )
    target = models / name
    if target.exists():
        raise ImageError(f"{source}: a second bundle of model {manifest.model!r}; an image serves each model once")
    target.mkdir(parents=True)
    shutil.copyfile(source / bundle.MANIFEST, target / bundle.MANIFEST)
    onnx_path, onnx_bytes = bundle.read_artifact(source, manifest, "onnx")
    (target / onnx_path.name).write_bytes(onnx_bytes)
    if manifest.tokenizer is not None:
        vocab = manifest.tokenizer.vocab
        (target / vocab).write_bytes(bundle.read_data_file(source, manifest, vocab, text.MAX_VOCAB_BYTES))
    signature = source / signing.SIGNATURE
    if signature.is_file() and not signature.is_symlink():
        (target / signing.SIGNATURE).write_bytes(signature.read_bytes()[: signing.MAX_KEY_BYTES])
    Predictor(target, device="cpu", threads=1, public_key=public_key)  # what the server will do at start
    return name


def add_bundles(folder: Path, bundle_dirs: list, public_key=None) -> list:
    """Every bundle's serving files into folder/models/, each checked; returns the model names, in order."""
    return [copy_bundle(Path(source), folder / "models", public_key) for source in bundle_dirs]


def write_context(folder: Path, names: list, recipe: Recipe) -> None:
    """The rest of the build context, beside add_bundles()'s models/."""
    shutil.copytree(
        Path(toolkit.__file__).parent,
        folder / "app" / "toolkit",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    wheel_files = wheels.wheels_to_install(recipe.wheels)
    (folder / "wheels").mkdir()
    for wheel in [*wheel_files, wheels.pip_wheel(recipe.wheels)]:
        shutil.copyfile(wheel, folder / "wheels" / wheel.name)
    shutil.copyfile(prune.__file__, folder / "prune.py")
    if recipe.public_key is not None:
        shutil.copyfile(recipe.public_key, folder / "signing.pub")
    (folder / "Containerfile").write_text(containerfile(names, [w.name for w in wheel_files], recipe))
    fix_modes(folder)


def fix_modes(folder: Path) -> None:
    """Every file 0644 and folder 0755, whatever this machine's umask: the image's bytes depend on them."""
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)


def serve_command(names: list, recipe: Recipe) -> list:
    command = ["python3", "-m", "toolkit", "serve", "--host", "0.0.0.0"]
    command += ["--port", str(REST_PORT), "--grpc-port", str(GRPC_PORT)]
    if recipe.token_file:
        command += ["--token-file", recipe.token_file]
    if recipe.public_key is not None:
        command += ["--verify-signature", PUBLIC_KEY]
    return command + [f"{MODELS}/{name}" for name in names]


def containerfile(names: list, wheel_names: list, recipe: Recipe) -> str:
    """Two stages: pip installs the wheels offline into LIB and prune.py cuts and compiles them; the image
    is the base plus LIB and the bundles, run as a fixed non-root user."""
    pip = ["python3", f"/wheels/{wheels.pip_wheel(recipe.wheels).name}/pip"]  # pip runs from its wheel
    install = [*pip, "install", "--no-index", "--no-deps", "--no-compile", "--disable-pip-version-check"]
    install += ["--root-user-action=ignore", "--target", LIB, *(f"/wheels/{w}" for w in wheel_names)]
    probe = (
        f"import sys, urllib.request as u; sys.exit(u.urlopen('http://127.0.0.1:{REST_PORT}{HEALTH}').status != 200)"
    )
    lines = [
        f"FROM {recipe.base} AS build",
        "COPY wheels/ /wheels/",
        f"RUN {json.dumps(install)}",
        f"COPY app/ {LIB}/",
        "COPY prune.py /prune.py",
        f'RUN ["python3", "/prune.py", "site", "{LIB}"]',
        "",
        f"FROM {recipe.base}",
        f"COPY --from=build {LIB} {LIB}",
        f"COPY models/ {MODELS}/",
    ]
    if recipe.public_key is not None:
        lines.append(f"COPY signing.pub {PUBLIC_KEY}")
    lines += [
        # No bytecode written (the file system is read-only), output unbuffered (logs reach the engine at
        # once), and typer without rich, which the image leaves out.
        f"ENV PYTHONPATH={LIB} PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 TYPER_USE_RICH=0",
        f"USER {prune.USER_ID}:{prune.USER_ID}",
        f"WORKDIR {MODELS}",
        f"EXPOSE {REST_PORT} {GRPC_PORT}",
        "STOPSIGNAL SIGTERM",
        f'HEALTHCHECK --interval=10s --timeout=3s --start-period=5s CMD ["python3", "-c", {json.dumps(probe)}]',
        f"LABEL org.opencontainers.image.title={json.dumps('tk serve: ' + ', '.join(names))}",
        f"LABEL org.opencontainers.image.version={json.dumps(toolkit.__version__)}",
        f"ENTRYPOINT {json.dumps(serve_command(names, recipe))}",
        "",
    ]
    return "\n".join(lines)
