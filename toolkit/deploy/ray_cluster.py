"""Attaching to a Ray cluster, the Ray way (`auto`: the cluster this machine is part of; or host:port,
ray://host:10001), with one line naming what to start when there is none."""

from toolkit.errors import UsageError

INSTALL = 'pip install "ray[serve,data]" (tk\'s extra: pip install ".[ray]")'


def connect(address: str):
    """ray, initialised against `address`; UsageError if Ray is missing or no cluster answers there."""
    try:
        import ray
    except ImportError:
        raise UsageError(f"--ray needs Ray: {INSTALL}") from None
    import logging

    reachable(address)
    try:
        ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise no_cluster(address, first) from None
    quiet_ray()
    return ray


def quiet_ray():
    """Ray's INFO lines off: tk says what matters in its own."""
    import logging

    for name in ("ray", "ray.serve", "ray.data"):
        logging.getLogger(name).setLevel(logging.WARNING)


def reachable(address: str, seconds: float = 5.0):
    """A host:port that nothing answers on is refused at once (ray.init would retry it for minutes)."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto", or a form Ray resolves itself
    try:
        socket.create_connection((host, int(port)), timeout=seconds).close()
    except OSError as exc:
        raise no_cluster(address, exc.strerror or str(exc)) from None


def no_cluster(address: str, why: str) -> UsageError:
    return UsageError(f"--ray {address}: no Ray cluster answers there ({why}); start one with `ray start --head`")


def node_count(ray) -> int:
    return sum(1 for node in ray.nodes() if node.get("Alive"))
