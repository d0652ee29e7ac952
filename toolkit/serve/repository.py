"""The model repository on disk, as Triton lays it out: which models and versions it holds, which of them
the version policy serves, and whether a version folder changed since it was loaded.

Two layouts, side by side in one folder:
- Triton's: DIR/<model>/<version>/ holds one bundle per version (integer folder names); the folder's
  name is the model's name, and a bundle whose manifest names another model is refused (so that one
  model's bundle cannot become another's new version by a slip of the hand).
- tk's own: DIR/<bundle>/manifest.json, one bundle served as version 1 of its manifest's model.
Bundles named on the command line are version 1 of their manifest's model too. Hidden folders (a bundle
being written, `.name.tk-staging-...`) are never read.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path

from toolkit.errors import ToolkitError, UsageError
from toolkit.runtime.bundle import MANIFEST, read_manifest, service_name


@dataclass(frozen=True)
class Policy:
    """Triton's version policy: the newest `count`, all, or the versions listed."""

    kind: str = "latest"
    count: int = 1
    versions: tuple = ()

    @classmethod
    def parse(cls, text: str) -> "Policy":
        kind, _, rest = text.partition(":")
        try:
            if kind == "latest" and (not rest or int(rest) > 0):
                return cls("latest", int(rest or 1))
            if kind == "all" and not rest:
                return cls("all")
            if kind == "specific" and rest:
                versions = tuple(sorted({int(v) for v in rest.split(",")}))
                if all(v > 0 for v in versions):
                    return cls("specific", versions=versions)
        except ValueError:
            pass
        raise UsageError(f"--version-policy {text!r}: one of latest, latest:N, all, specific:1,3")

    def select(self, available) -> list:
        """The versions to serve out of those on disk, newest first."""
        newest_first = sorted(available, reverse=True)
        if self.kind == "latest":
            return newest_first[: self.count]
        if self.kind == "all":
            return newest_first
        return [v for v in newest_first if v in self.versions]

    def __str__(self) -> str:
        if self.kind == "specific":
            return "specific:" + ",".join(map(str, self.versions))
        return f"latest:{self.count}" if self.kind == "latest" else self.kind


@dataclass
class Model:
    """One model as found on disk: its version folders, and why a folder cannot be served, if it cannot."""

    name: str
    versions: dict = field(default_factory=dict)  # int -> Path
    problems: dict = field(default_factory=dict)  # int -> reason, for folders refused before any load
    triton_layout: bool = False


def scan(bundles, repository) -> dict:
    """Every model named or under `repository`, by name: {name: Model}."""
    models = {}
    for folder in bundles:
        _add_bundle(models, Path(folder))
    if repository is not None:
        repository = Path(repository)
        if not repository.is_dir():
            raise UsageError(f"--repository {repository}: not a folder")
        for child in sorted(repository.iterdir()):
            if child.name.startswith(".") or not child.is_dir():
                continue
            if (child / MANIFEST).is_file():
                _add_bundle(models, child)
            else:
                _add_versions(models, child)
    return models


def _add_bundle(models: dict, folder: Path):
    try:
        name = service_name(read_manifest(folder).model)
    except ToolkitError:
        name = folder.name  # the load says what is wrong with it
    model = models.setdefault(name, Model(name))
    if 1 in model.versions:
        model.problems.setdefault(1, f"{folder}: a second bundle of model {name!r} (the first is {model.versions[1]})")
        return
    model.versions[1] = folder


def _add_versions(models: dict, folder: Path):
    versions = {int(v.name): v for v in folder.iterdir() if v.name.isdigit() and int(v.name) > 0 and v.is_dir()}
    if not versions:
        return
    if folder.name in models:
        models[folder.name].problems[max(versions)] = f"{folder}: model {folder.name!r} is also a bundle folder"
        return
    models[folder.name] = Model(folder.name, versions, triton_layout=True)


def name_problem(model: Model, version: int, manifest_model: str) -> str | None:
    """Why a loaded bundle may not be this version of this model (Triton layout: its manifest names another)."""
    if model.triton_layout and service_name(manifest_model) != model.name:
        return f"{model.versions[version]}: its manifest is model {manifest_model!r}, not {model.name!r}"
    return None


def fingerprint(folder: Path) -> tuple | None:
    """What changes when a bundle folder is replaced or rewritten: the folder itself (tk export swaps a
    whole folder in with one rename) and each file's name, size and modification time; None if unreadable.
    A load compares it before and after reading, and a folder that changed meanwhile is read again later."""
    try:
        files = sorted((entry.name, entry.stat().st_size, entry.stat().st_mtime_ns) for entry in os.scandir(folder))
        return (os.stat(folder).st_ino, tuple(files))
    except OSError:
        return None
