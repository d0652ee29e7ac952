"""tk serve: load and warm the bundles, then REST (uvicorn) and gRPC on one event loop until SIGTERM or
Ctrl-C; then stop accepting, finish what is in flight, and return (the process exits 0). With
`--workers N`, N such processes share the ports (SO_REUSEPORT: the kernel spreads the connections).
"""

import asyncio
import contextlib
import logging
import signal
import socket
import sys
from dataclasses import dataclass, field

import numpy
import uvicorn

from toolkit.errors import UsageError
from toolkit.serve.connections import Limits, limited_protocol
from toolkit.serve.grpc_service import create_server
from toolkit.serve.live import LiveModels, Load
from toolkit.serve.repository import Policy
from toolkit.serve.rest import create_app
from toolkit.serve.service import CONTROLS, Service

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
    policy: Policy = field(default_factory=Policy)
    control: str = "none"
    poll_seconds: float = 5.0
    limits: Limits = field(default_factory=Limits)
    keep_alive_seconds: float = 5.0
    access_log: bool = False
    workers: int = 1


def check(options: Options, repository):
    if options.control not in CONTROLS:
        raise UsageError(f"--model-control {options.control!r}: one of {', '.join(CONTROLS)}")
    if options.control != "none" and repository is None:
        raise UsageError(f"--model-control {options.control} watches a repository: give --repository DIR")
    if options.workers > 1 and options.control == "explicit":
        raise UsageError("--model-control explicit with --workers: a load or unload would reach one worker only")
    if options.workers > 1 and options.port == 0:
        raise UsageError("--workers needs a fixed --port for the workers to share")


def load_models(bundles, repository, options: Options, public_key=None, log=print) -> tuple:
    """(LiveModels, Service): every selected version loaded (hashes and signature checked) and warmed."""
    live = LiveModels(bundles, repository, options.policy, Load(options.device, options.threads, public_key), log)
    service = Service(live, options.max_batch, options.max_delay_ms / 1000, options.token, options.control)
    live.load_all(strict=options.control == "none")
    return live, service


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


def listening_socket(host: str, port: int, shared: bool) -> socket.socket:
    """The REST socket, bound here so that workers can share it (SO_REUSEPORT) and a busy port is one line."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # asyncio sets TCP_NODELAY on these only
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if shared:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port} ({exc.strerror})") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


async def run(service: Service, options: Options, log=print, sock=None):
    max_body = int(options.max_body_mb * 2**20)
    config = uvicorn.Config(
        create_app(service, max_body, options.access_log),
        http=limited_protocol(options.limits),
        log_level="warning",
        access_log=False,
        proxy_headers=False,  # tk does not read forwarded addresses: no need to parse them on every request
        server_header=False,
        timeout_keep_alive=options.keep_alive_seconds,
        timeout_graceful_shutdown=DRAIN_SECONDS,
        lifespan="off",
    )
    web = Server(config)
    grpc_server = None
    if options.grpc_port:
        grpc_server = create_server(service, f"{options.host}:{options.grpc_port}", max_body)
        await grpc_server.start()
    await service.start()
    poller = asyncio.ensure_future(service.poll(options.poll_seconds)) if options.control == "poll" else None
    sock = sock or listening_socket(options.host, options.port, options.workers > 1)
    serving = asyncio.ensure_future(web.serve(sockets=[sock]))
    try:
        while not web.started and not serving.done():
            await asyncio.sleep(0.02)
        if web.started:
            grpc_note = f", gRPC on {options.host}:{options.grpc_port}" if grpc_server else ""
            log(f"tk serve: ready: REST on http://{options.host}:{options.port}{grpc_note}")
        await serving
    finally:
        if poller is not None:
            poller.cancel()
        if grpc_server is not None:
            await grpc_server.stop(DRAIN_SECONDS)
        await service.stop()
    log("tk serve: stopped")


def serve(bundles, repository, options: Options, public_key=None, log=print):
    logging.basicConfig(format="tk serve: %(message)s", level=logging.WARNING)
    numpy.seterr(over="ignore")  # a request's too-large float becomes infinity, which tensors.py refuses by name
    if options.access_log:
        access = logging.getLogger("tk.access")
        access.propagate, access.level = False, logging.INFO
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access.addHandler(handler)
    check(options, repository)
    if options.workers > 1:
        from toolkit.serve.workers import run_workers

        return run_workers(bundles, repository, options, public_key, log)
    _, service = load_models(bundles, repository, options, public_key, log)
    asyncio.run(run(service, options, log))
