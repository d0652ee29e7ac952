"""What the server does, whichever protocol asked: the models by name, their batchers, metadata, and
inference from a parsed request to its outputs. REST (rest.py) and gRPC (grpc_service.py) only translate.
"""

import asyncio
import contextlib
import hmac
import time

import toolkit
from toolkit.errors import ToolkitError
from toolkit.serve.batching import Batcher
from toolkit.serve.metrics import Metrics
from toolkit.serve.tensors import NotFound, ProtocolError

EXTENSIONS = ["binary_tensor_data", "classification"]
VERSION = "1"  # every bundle is served as version 1 of its model


class InternalError(Exception):
    """The model failed on a checked input: a bug or a broken bundle. The client hears only that."""


class Service:
    def __init__(self, models, max_batch: int, max_delay: float, token: str | None = None):
        self.models = {model.name: model for model in models}
        self.max_batch, self.max_delay, self.token = max_batch, max_delay, token
        self.metrics = Metrics(self.models)
        self.batchers = {}
        self.ready = False
        self.in_flight = 0  # inference requests from their first byte to their answer (see counted)

    async def start(self):
        """Batchers on the running event loop; then the server is ready."""
        self.batchers = {
            name: Batcher(m, self.max_batch, self.max_delay, self.metrics) for name, m in self.models.items()
        }
        self.ready = True

    async def stop(self):
        self.ready = False
        await asyncio.gather(*(batcher.close() for batcher in self.batchers.values()))

    def authorized(self, header: str | None) -> bool:
        """`Authorization: Bearer <token>`, compared in constant time; anything goes without a token."""
        if self.token is None:
            return True
        given = header[7:] if header and header[:7].lower() == "bearer " else ""
        return hmac.compare_digest(given.strip().encode(), self.token.encode())

    def server_metadata(self) -> dict:
        return {"name": "tk", "version": toolkit.__version__, "extensions": EXTENSIONS}

    def model(self, name: str, version: str | None = None):
        found = self.models.get(name)
        if found is None:
            raise NotFound(f"unknown model {name!r} (served: {', '.join(sorted(self.models))})")
        if version not in (None, "", VERSION):
            raise NotFound(f"model {name!r} has no version {version!r} (only {VERSION!r})")
        return found

    @contextlib.contextmanager
    def counted(self):
        """Around a whole inference request, body reading included, so that `in_flight` sees concurrency."""
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1

    async def infer(self, name: str, version: str | None, parse, protocol: str) -> tuple:
        """(model, request, outputs) for the request `parse()` reads; its outcome counted in the metrics.
        ProtocolError for the client's mistakes, InternalError for the model's."""
        started, status = time.perf_counter(), 500
        try:
            model = self.model(name, version)
            request = parse()
            tensor = model.check(request, self.max_batch)
            batch = model.prepare(tensor)
            try:
                output = await self.batchers[model.name].infer(batch, alone=self.in_flight == 1)
            except ProtocolError:
                raise
            except ToolkitError as exc:
                raise ProtocolError(str(exc)) from None
            except Exception as exc:
                raise InternalError(f"{model.name}: the model failed ({type(exc).__name__})") from exc
            status = 200
            return model, request, model.outputs(request, output)
        except ProtocolError as exc:
            status = exc.status
            raise
        finally:
            self.metrics.request(name, protocol, status, time.perf_counter() - started)
