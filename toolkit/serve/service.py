"""What the server does, whichever protocol asked: the live models by name and version, their batchers,
metadata, the repository API, and inference from a parsed request to its outputs. REST (asgi.py, rest.py)
and gRPC (grpc_service.py) only translate.
"""

import asyncio
import contextlib
import hmac
import logging
import time

import toolkit
from toolkit.errors import ToolkitError
from toolkit.serve.batching import Batcher
from toolkit.serve.metrics import Metrics
from toolkit.serve.tensors import NotFound, ProtocolError

EXTENSIONS = ["binary_tensor_data", "classification"]
CONTROLS = ("none", "poll", "explicit")  # Triton's model control modes
log = logging.getLogger("tk.serve")


class InternalError(Exception):
    """The model failed on a checked input: a bug or a broken bundle. The client hears only that."""


class Service:
    def __init__(self, live, max_batch: int, max_delay: float, token: str | None = None, control: str = "none"):
        self.live, self.control = live, control
        self.max_batch, self.max_delay, self.token = max_batch, max_delay, token
        self.metrics = Metrics(live.serving)
        live.on_load = self.metrics.model_load
        self.ready = False
        self.in_flight = 0  # inference requests from their first byte to their answer (see counted)
        self.repository_lock = None  # one load or unload at a time

    def make_batcher(self, model) -> Batcher:
        lone = lambda: self.in_flight == 1  # noqa: E731
        return Batcher(model, self.max_batch, self.max_delay, self.metrics, lone)

    async def start(self):
        """Batchers on the running event loop; then the server is ready."""
        self.live.make_batcher = self.make_batcher
        for versions in self.live.serving.values():
            for loaded in versions.values():
                loaded.batcher = self.make_batcher(loaded.model)
        self.repository_lock = asyncio.Lock()
        self.ready = True

    async def stop(self):
        self.ready = False
        batchers = [loaded.batcher for versions in self.live.serving.values() for loaded in versions.values()]
        await asyncio.gather(*(batcher.close() for batcher in batchers), *self.live.retiring)

    def authorized(self, header: str | None) -> bool:
        """`Authorization: Bearer <token>`, compared in constant time; anything goes without a token."""
        if self.token is None:
            return True
        given = header[7:] if header and header[:7].lower() == "bearer " else ""
        return hmac.compare_digest(given.strip().encode(), self.token.encode())

    def server_metadata(self) -> dict:
        extensions = EXTENSIONS + (["model_repository"] if self.control == "explicit" else [])
        return {"name": "tk", "version": toolkit.__version__, "extensions": extensions}

    def names(self):
        return self.live.serving.keys()

    def model(self, name: str, version: str | None = None):
        """The Loaded version a request for (name, version) runs on."""
        return self.live.find(name, version)

    def model_metadata(self, name: str, version: str | None = None) -> dict:
        return self.model(name, version).model.metadata(self.live.versions(name))

    def repository_index(self, ready_only: bool = False) -> list:
        return self.live.index(ready_only)

    async def repository_load(self, name: str):
        """Explicit model control: read the model's folder again and serve what the policy selects."""
        self._explicit("load")
        async with self.repository_lock:
            failures = await self.live.sync([name])
        if name not in self.live.on_disk:
            raise NotFound(f"no model {name!r} in the repository")
        if failures:
            raise ProtocolError(f"model {name!r} did not load: {failures[0]}")

    async def repository_unload(self, name: str):
        self._explicit("unload")
        async with self.repository_lock:
            if name not in self.live.serving:
                raise NotFound(f"model {name!r} is not loaded")
            for version in list(self.live.serving[name]):
                self.live.unload(name, version)

    def _explicit(self, what: str):
        if self.control != "explicit":
            raise ProtocolError(f"{what}: this server runs with --model-control {self.control}, not explicit")

    async def poll(self, seconds: float):
        """Poll model control: look at the repository every `seconds` until cancelled. A repository that cannot
        be read (moved away, permissions) is said once per look; what is loaded goes on serving."""
        while True:
            await asyncio.sleep(seconds)
            try:
                async with self.repository_lock:
                    await self.live.sync()
            except (ToolkitError, OSError) as exc:
                log.warning("the repository cannot be read: %s; serving what is loaded", exc)

    @contextlib.contextmanager
    def counted(self):
        """Around a whole inference request, body reading included, so that `in_flight` sees concurrency."""
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1

    async def infer(self, name: str, version: str | None, parse, protocol: str) -> tuple:
        """(Loaded, request, outputs) for the request `parse()` reads; its outcome counted in the metrics.
        ProtocolError for the client's mistakes, InternalError for the model's."""
        started, status = time.perf_counter(), 500
        try:
            loaded = self.live.find(name, version)
            model = loaded.model
            request = parse()
            batch = model.prepare(model.check(request, self.max_batch))
            try:
                output = await loaded.batcher.infer(batch)
            except ProtocolError:
                raise
            except ToolkitError as exc:
                raise ProtocolError(str(exc)) from None
            except Exception as exc:
                raise InternalError(f"{model.name}: the model failed ({type(exc).__name__})") from exc
            status = 200
            return loaded, request, model.outputs(request, output)
        except ProtocolError as exc:
            status = exc.status
            raise
        finally:
            self.metrics.request(name, protocol, status, time.perf_counter() - started)
