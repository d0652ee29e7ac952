"""`tk serve --ray ADDRESS`: the same server as Ray Serve replicas. Each replica is one tk serve (the same
REST app: routes, errors, token, dynamic batching, metrics) built on the replica from the bundles' files;
Ray Serve's HTTP proxy spreads the requests over the replicas, replaces one that dies and, with
--autoscale, adds and removes them by the requests in flight.

Only REST: Ray Serve's gRPC proxy dispatches to deployment methods through servicer functions generated
from a compiled .proto and importable on every node, while tk serve's gRPC service is built at run time
from the protocol's descriptor set; the protocol's gRPC is served by tk serve itself (and tk image).
"""

import asyncio
import signal
import threading
from dataclasses import dataclass, replace

from toolkit.deploy.ray_bundle import pack, unpack
from toolkit.deploy.ray_cluster import connect, node_count, quiet_ray
from toolkit.errors import UsageError

APP = "tk"


@dataclass(frozen=True)
class Scaling:
    replicas: int = 1
    autoscale: tuple | None = None  # (min, max) replicas
    replica_cpus: float = 1.0  # Ray's num_cpus per replica; ONNX Runtime gets as many threads

    def deployment_options(self, max_batch: int) -> dict:
        """Ray Serve's settings. A replica batches up to max_batch rows per ONNX Runtime call, so it is given
        twice that many requests at a time (Ray's default of 5 would starve the batcher) and, autoscaling,
        a new replica once half a batch is waiting on average (Ray's default target is 2 requests)."""
        options = {"max_ongoing_requests": 2 * max_batch, "ray_actor_options": {"num_cpus": self.replica_cpus}}
        if self.autoscale is None:
            return options | {"num_replicas": self.replicas}
        low, high = self.autoscale
        autoscaling = {"min_replicas": low, "max_replicas": high, "target_ongoing_requests": max(1, max_batch // 2)}
        return options | {"autoscaling_config": autoscaling}


def parse_autoscale(text: str | None) -> tuple | None:
    if text is None:
        return None
    low, _, high = text.partition(":")
    if not (low.isdigit() and high.isdigit() and 0 < int(low) <= int(high) <= 1024):
        raise UsageError(f"--autoscale {text!r}: MIN:MAX replicas, 1 <= MIN <= MAX, e.g. 1:4")
    return int(low), int(high)


class Replica:
    """One tk serve inside a Ray Serve replica: the bundles unpacked and loaded here, the REST app over them."""

    async def __init__(self, packed: list, options):
        from toolkit.serve.server import load_models

        folders = [unpack(p) for p in packed]
        self.live, self.service = await asyncio.to_thread(load_models, folders, None, options, None, print)
        await self.service.start()
        self.max_body = int(options.max_body_mb * 2**20)

    def __serve_build_asgi_app__(self):
        from toolkit.serve.rest import create_app

        return create_app(self.service, self.max_body)

    def check_health(self):
        if not self.service.ready:
            raise RuntimeError("the replica's models are not ready")


def serve_on_ray(bundles, options, address: str, scaling: Scaling, public_key=None, log=print):
    """Deploy, say where, and keep the deployment up until SIGTERM or Ctrl-C; then undeploy it."""
    if not bundles:
        raise UsageError("--ray serves the bundle folders named (not --repository)")
    packed = [pack(folder, public_key) for folder in bundles]  # refused here, in one line, if a bundle is bad
    options = replace(options, threads=max(1, int(scaling.replica_cpus)), workers=1)
    ray = connect(address)
    from ray import serve  # here: the module imports without Ray (the slim install has none)

    quiet_ray()  # importing Serve sets its logger to INFO

    try:
        ours = serve_started_here(serve, options)
        try:
            deployment = serve.deployment(serve.ingress()(Replica), name="tk")
            deployment = deployment.options(**scaling.deployment_options(options.max_batch))
            serve.run(deployment.bind(packed, options), name=APP, route_prefix="/")
            log(ready_line(ray, packed, scaling, options))
            wait_for_stop()
        finally:  # Ctrl-C during the deployment, or a deployment that fails, leaves nothing behind either
            undeploy(serve, ours)
        log("tk serve: undeployed")
    finally:
        ray.shutdown()


def ready_line(ray, packed: list, scaling: Scaling, options) -> str:
    count = f"autoscaling {scaling.autoscale[0]}-{scaling.autoscale[1]}" if scaling.autoscale else scaling.replicas
    names = ", ".join(p["name"] for p in packed)
    where = f"REST on http://{options.host}:{options.port}"
    nodes = node_count(ray)
    return f"tk serve: ready on Ray ({nodes} node{'s' if nodes != 1 else ''}): {names}, {count} replicas, {where}"


def undeploy(serve, ours: bool):
    """tk's application off the cluster; Ray Serve itself too if this command started it."""
    if ours:
        serve.shutdown()
    else:
        serve.delete(APP)


def serve_started_here(serve, options) -> bool:
    """Start Ray Serve with its HTTP proxy on --host/--port; True if this call started it. Serve that already
    runs on the cluster keeps its proxy (its settings are the cluster's): then --port must be that proxy's."""
    from ray.serve.context import _get_global_client  # Ray's own client: the only way to read the proxy's port

    running = _get_global_client(raise_if_no_controller_running=False)
    if running is None:
        serve.start(http_options={"host": options.host, "port": options.port})
        return True
    port = running.http_config.port
    if port != options.port:
        raise UsageError(
            f"Ray Serve already runs on this cluster with its HTTP proxy on port {port}: give --port {port}"
        )
    return False


def wait_for_stop():
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
