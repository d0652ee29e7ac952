"""tk serve: load and warm the bundles, then REST (uvicorn) and gRPC on one event loop until SIGTERM or
Ctrl-C; then stop accepting, finish what is in flight, and return (the process exits 0).
"""

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from toolkit.errors import UsageError
from toolkit.runtime.bundle import MANIFEST
from toolkit.serve.grpc_service import create_server
from toolkit.serve.models import ServedModel
from toolkit.serve.rest import create_app
from toolkit.serve.service import Service

DRAIN_SECONDS = 5  # how long in-flight requests may take to finish after SIGTERM


@dataclass
class Options:
    host: str = "127.0.0.1"
    port: int = 8000
    grpc_port: int = 8001  # 0: no gRPC
    max_batch: int = 64
    max_delay_ms: float = 0.0
    max_body_mb: float = 64.0
    token: str | None = None
    device: str = "auto"
    threads: int = 1  # ONNX Runtime's threads per model: the other core reads requests while a batch runs


def bundle_dirs(bundles, repository) -> list:
    """The bundles named, then every folder with a manifest.json directly under `repository`."""
    found = [Path(b) for b in bundles]
    if repository is not None:
        repository = Path(repository)
        if not repository.is_dir():
            raise UsageError(f"--repository {repository}: not a folder")
        found += sorted(p for p in repository.iterdir() if (p / MANIFEST).is_file())
    if not found:
        raise UsageError("name one or more bundle folders, or --repository DIR")
    return found


def load_models(dirs, options: Options, public_key=None, log=print) -> list:
    """Each bundle loaded (hashes and signature checked) and warmed with one batch of zeros."""
    from toolkit.runtime import Predictor

    models = {}
    for folder in dirs:
        model = ServedModel(Predictor(folder, options.device, options.threads, public_key))
        if model.name in models:
            raise UsageError(
                f"{folder}: a second bundle of model {model.name!r} (the first is {models[model.name][0]})"
            )
        model.warm_up()
        models[model.name] = (folder, model)
        log(f"tk serve: {model.name} <- {folder} ({model.predictor.provider})")
    return [model for _, model in models.values()]


class Server(uvicorn.Server):
    """uvicorn's server, but a SIGTERM or Ctrl-C ends serve() normally instead of being raised again after it."""

    @contextlib.contextmanager
    def capture_signals(self):
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.handle_exit, sig, None)
        try:
            yield
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)


async def run(models, options: Options, log=print):
    service = Service(models, options.max_batch, options.max_delay_ms / 1000, options.token)
    max_body = int(options.max_body_mb * 2**20)
    config = uvicorn.Config(
        create_app(service, max_body),
        host=options.host,
        port=options.port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=DRAIN_SECONDS,
        lifespan="off",
    )
    web = Server(config)
    grpc_server = None
    if options.grpc_port:
        grpc_server = create_server(service, f"{options.host}:{options.grpc_port}", max_body)
        await grpc_server.start()
    await service.start()
    serving = asyncio.ensure_future(web.serve())
    try:
        while not web.started and not serving.done():
            await asyncio.sleep(0.02)
        if web.started:
            grpc_note = f", gRPC on {options.host}:{options.grpc_port}" if grpc_server else ""
            log(f"tk serve: ready: REST on http://{options.host}:{options.port}{grpc_note}")
        await serving
    finally:
        if grpc_server is not None:
            await grpc_server.stop(DRAIN_SECONDS)
        await service.stop()
    log("tk serve: stopped")


def serve(dirs, options: Options, public_key=None, log=print):
    logging.basicConfig(format="tk serve: %(message)s", level=logging.WARNING)
    models = load_models(dirs, options, public_key, log)
    asyncio.run(run(models, options, log))
