"""The model versions being served, and how that set changes while the server runs (Triton's model
control): never (`none`), by watching the repository (`poll`), or when the repository API says (`explicit`).

A (re)load reads, checks and warms the new bundle in a thread while the old version keeps answering;
only then does the new version take requests. A request holds the version it started on until it is
answered: a retired version's batcher finishes what it holds before it closes. A bundle that fails to
load leaves what was serving as it was, and says why in the index, the metrics and one log line; it is
tried again only once its folder changes.
"""

import asyncio
from dataclasses import dataclass
from pathlib import Path

from toolkit.errors import UsageError
from toolkit.serve.models import ServedModel
from toolkit.serve.repository import Policy, fingerprint, name_problem, scan
from toolkit.serve.tensors import NotFound

READY, LOADING, UNAVAILABLE = "READY", "LOADING", "UNAVAILABLE"


class Changed(Exception):
    """The bundle folder changed while it was read; it is read again at the next look."""


@dataclass
class Loaded:
    """One version of one model, ready: what a request runs on."""

    name: str
    version: str
    model: ServedModel
    folder: Path
    fingerprint: tuple
    batcher: object = None  # a Batcher, made on the event loop


@dataclass
class Load:
    """How bundles are loaded: ONNX Runtime's device and threads, and the key bundles must be signed with."""

    device: str = "auto"
    threads: int = 1
    public_key: object = None

    def __call__(self, on_disk, version: int) -> tuple:
        """(ServedModel, fingerprint) for this version's folder, checked and warmed; runs in a thread."""
        from toolkit.runtime import Predictor

        folder = on_disk.versions[version]
        before = fingerprint(folder)
        model = ServedModel(Predictor(folder, self.device, self.threads, self.public_key))
        problem = name_problem(on_disk, version, model.predictor.manifest.model)
        if problem:
            raise UsageError(problem)
        model.warm_up()
        if before is None or fingerprint(folder) != before:
            raise Changed
        return model, before


class LiveModels:
    def __init__(self, bundles, repository, policy: Policy, load: Load, log=print):
        self.bundles, self.repository, self.policy, self.load, self.log = bundles, repository, policy, load, log
        self.serving = {}  # name -> {version (int): Loaded}
        self.states = {}  # (name, version) -> (state, reason)
        self.on_disk = {}  # name -> repository.Model, as the last look found it
        self.failed = {}  # (name, version) -> the fingerprint that failed to load
        self.make_batcher = None  # set by the service once the event loop runs
        self.on_load = lambda name, ok: None  # the metrics' hook
        self.retiring = set()

    def load_all(self, strict: bool):
        """Before the server starts: every selected version, in this thread. `strict`: the first failure ends
        the start in one line (nothing will load it later); otherwise it is recorded, as a reload's would be."""
        self.on_disk = scan(self.bundles, self.repository)
        if not self.on_disk:
            raise UsageError("name one or more bundle folders, or --repository DIR (it holds no bundle)")
        for name, on_disk in self.on_disk.items():
            for version in self.policy.select(on_disk.versions):
                try:
                    self._install(name, version, *self._read(on_disk, version))
                except Changed:
                    if strict:
                        raise UsageError(f"{on_disk.versions[version]} changed while it was read") from None
                    self.states[(name, version)] = (UNAVAILABLE, "it changed while it was read: read again soon")
                except Exception as exc:  # a ToolkitError names the culprit; a server that will reload goes on
                    if strict:
                        raise
                    self._failed(name, version, exc)

    def _read(self, on_disk, version: int) -> tuple:
        if version in on_disk.problems:
            raise UsageError(on_disk.problems[version])
        return self.load(on_disk, version)

    def _install(self, name: str, version: int, model: ServedModel, folder_print: tuple):
        old = self.serving.get(name, {}).get(version)
        folder = self.on_disk[name].versions[version]
        new = Loaded(name, str(version), model, folder, folder_print)
        if self.make_batcher is not None:
            new.batcher = self.make_batcher(model)
        self.serving.setdefault(name, {})[version] = new
        self.states[(name, version)] = (READY, "")
        self.failed.pop((name, version), None)
        self.on_load(name, True)
        self.log(f"tk serve: {name} version {version} <- {folder} ({model.predictor.provider})")
        if old is not None:
            self._retire(old)

    def _failed(self, name: str, version: int, exc: Exception) -> str:
        reason = str(exc)
        self.failed[(name, version)] = fingerprint(self.on_disk[name].versions[version])
        if version in self.serving.get(name, {}):
            self.states[(name, version)] = (READY, f"a reload failed, the previous load serves: {reason}")
        else:
            self.states[(name, version)] = (UNAVAILABLE, reason)
        self.on_load(name, False)
        self.log(f"tk serve: {name} version {version} did not load: {reason}")
        return reason

    async def sync(self, names=None) -> list:
        """Look at the repository again and serve what the policy selects from it now (`names`: only these);
        returns why the versions that failed to load failed."""
        self.on_disk = await asyncio.to_thread(scan, self.bundles, self.repository)
        for key in [key for key in self.failed if names is not None and key[0] in names]:
            del self.failed[key]  # a load asked for by name is tried again, changed or not
        failures = []
        for name in sorted(set(self.on_disk) | set(self.serving) if names is None else names):
            failures += await self._sync_model(name)
        return failures

    async def _sync_model(self, name: str) -> list:
        failures = []
        on_disk = self.on_disk.get(name)
        wanted = self.policy.select(on_disk.versions) if on_disk else []
        for version in wanted:
            current = self.serving.get(name, {}).get(version)
            now = fingerprint(on_disk.versions[version])
            if now is None or (current and current.fingerprint == now) or self.failed.get((name, version)) == now:
                continue
            if current is None:
                self.states[(name, version)] = (LOADING, "")
            try:
                self._install(name, version, *await asyncio.to_thread(self._read, on_disk, version))
            except Changed:  # read again at the next look
                if current is None:
                    del self.states[(name, version)]
            except Exception as exc:  # whatever a broken bundle raises, the old version keeps serving
                failures.append(self._failed(name, version, exc))
        serving = self.serving.get(name, {})
        if not wanted or any(v in serving for v in wanted):  # a newer version that failed keeps the older ones
            for version in [v for v in serving if v not in wanted]:
                why = "not selected by the version policy" if on_disk else "no longer in the repository"
                self.unload(name, version, why)
        return failures

    def unload(self, name: str, version: int, reason: str = "unloaded"):
        self._retire(self.serving[name].pop(version))
        if not self.serving[name]:
            del self.serving[name]
        self.states[(name, version)] = (UNAVAILABLE, reason)
        self.log(f"tk serve: {name} version {version} unloaded ({reason})")

    def _retire(self, loaded: Loaded):
        """Its batcher finishes the requests it holds, then closes."""
        if loaded.batcher is not None:
            task = asyncio.get_running_loop().create_task(loaded.batcher.close())
            self.retiring.add(task)
            task.add_done_callback(self.retiring.discard)

    def find(self, name: str, version: str | None = None) -> Loaded:
        """The version asked for, or the newest one ready; NotFound names what is served instead."""
        versions = self.serving.get(name)
        if not versions:
            served = ", ".join(sorted(self.serving)) or "none"
            what = f"model {name!r} is not loaded" if name in self.on_disk else f"unknown model {name!r}"
            raise NotFound(f"{what} (served: {served})")
        if not version:
            return versions[max(versions)]
        found = versions.get(int(version)) if version.isdigit() and len(version) <= 18 else None
        if found is None:
            ready = ", ".join(str(v) for v in sorted(versions))
            raise NotFound(f"model {name!r} has no version {version[:40]!r} ready (ready: {ready})")
        return found

    def versions(self, name: str) -> list:
        return [str(v) for v in sorted(self.serving.get(name, {}))]

    def index(self, ready_only: bool = False) -> list:
        """Triton's repository index: every version on disk or served, with its state and why."""
        entries = {key for key in self.states} | {(n, v) for n, m in self.on_disk.items() for v in m.versions}
        rows = []
        for name, version in sorted(entries):
            state, reason = self.states.get((name, version), (UNAVAILABLE, f"not selected by {self.policy}"))
            if not ready_only or state == READY:
                rows.append({"name": name, "version": str(version), "state": state, "reason": reason})
        return rows
