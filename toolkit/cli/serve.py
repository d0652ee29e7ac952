"""`tk serve`: bundles behind the Open Inference Protocol, REST and gRPC (no torch)."""

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from toolkit.cli.app import Device, PublicKeyOption
from toolkit.errors import UsageError

BUNDLES_HELP = "Bundle folders to serve, each by its manifest's model name (version 1)."
REPOSITORY_HELP = "Also serve DIR: bundle folders directly under it (version 1), and DIR/<model>/<version>/ bundles."
POLICY_HELP = "Which versions of a model to serve: latest, latest:N, all, or specific:1,3."
CONTROL_HELP = "none: serve what is there at the start; poll: watch --repository; explicit: the repository API."
POLL_HELP = "How often --model-control poll looks at the repository."
ACCESS_HELP = "Print one JSON line per request to stdout (request id, model, version, status, ms; no body)."
WORKERS_HELP = "Server processes sharing the ports (SO_REUSEPORT), each with its own models."
TOKEN_HELP = "A file holding a secret: every route but the health probes then needs 'Authorization: Bearer <secret>'."
THREADS_HELP = "ONNX Runtime threads per model (0: one per core). One leaves the other cores to reading requests."
RAY_HELP = "Run as Ray Serve replicas on this Ray cluster ('auto': the one this machine is part of). REST only."
AUTOSCALE_HELP = "--ray: let Ray scale between MIN and MAX replicas by the requests in flight."
REPLICA_CPUS_HELP = "--ray: CPUs Ray reserves per replica; ONNX Runtime gets as many threads."
MAX_TOKEN_BYTES = 4096


class Control(str, Enum):
    none = "none"
    poll = "poll"
    explicit = "explicit"


HostOption = Annotated[str, typer.Option(help="Address to listen on; 0.0.0.0 opens the server to the network.")]
MaxBatchOption = Annotated[
    int, typer.Option(min=1, max=4096, help="Most rows one ONNX Runtime call takes (dynamic batching).")
]
MaxDelayOption = Annotated[
    float, typer.Option(min=0, max=1000, help="How long a batch that is not full may wait for more.")
]
MaxBodyOption = Annotated[float, typer.Option(min=0.001, max=1024, help="Largest request body (413 above it).")]
DeadlineOption = Annotated[float, typer.Option(min=0.1, max=3600, help="Deadline for a request's head and body (408).")]
ConnectionsOption = Annotated[int, typer.Option(min=1, max=1_000_000, help="Open connections (503 past it).")]
KeepAliveOption = Annotated[float, typer.Option(min=0.1, max=3600, help="How long an idle connection stays.")]
RayOption = Annotated[Optional[str], typer.Option("--ray", help=RAY_HELP, metavar="ADDRESS", show_default=False)]
AutoscaleOption = Annotated[Optional[str], typer.Option(help=AUTOSCALE_HELP, metavar="MIN:MAX", show_default=False)]


def serve(
    bundles: Annotated[Optional[list[Path]], typer.Argument(help=BUNDLES_HELP, show_default=False)] = None,
    repository: Annotated[Optional[Path], typer.Option(help=REPOSITORY_HELP, metavar="DIR", show_default=False)] = None,
    host: HostOption = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="REST port.")] = 8000,
    grpc_port: Annotated[int, typer.Option(min=0, max=65535, help="gRPC port (0: no gRPC).")] = 8001,
    max_batch: MaxBatchOption = 64,
    max_delay_ms: MaxDelayOption = 0.0,
    max_body_mb: MaxBodyOption = 64.0,
    token_file: Annotated[Optional[Path], typer.Option(help=TOKEN_HELP, show_default=False)] = None,
    device: Annotated[Device, typer.Option(help="ONNX Runtime provider.")] = Device.auto,
    threads: Annotated[int, typer.Option(min=0, max=256, help=THREADS_HELP)] = 1,
    public_key: PublicKeyOption = None,
    version_policy: Annotated[str, typer.Option(help=POLICY_HELP)] = "latest",
    model_control: Annotated[Control, typer.Option(help=CONTROL_HELP)] = Control.none,
    poll_seconds: Annotated[float, typer.Option(min=0.1, max=3600, help=POLL_HELP)] = 5.0,
    request_timeout_s: DeadlineOption = 60.0,
    max_connections: ConnectionsOption = 1000,
    keep_alive_s: KeepAliveOption = 5.0,
    access_log: Annotated[bool, typer.Option(help=ACCESS_HELP)] = False,
    workers: Annotated[int, typer.Option(min=1, max=256, help=WORKERS_HELP)] = 1,
    ray: RayOption = None,
    replicas: Annotated[int, typer.Option(min=1, max=1024, help="--ray: how many replicas.")] = 1,
    autoscale: AutoscaleOption = None,
    replica_cpus: Annotated[float, typer.Option(min=0.1, max=256, help=REPLICA_CPUS_HELP)] = 1.0,
):
    """Serve bundles over the Open Inference Protocol (KServe v2): REST, gRPC, a page at /, /metrics."""
    from toolkit.serve.connections import Limits
    from toolkit.serve.repository import Policy
    from toolkit.serve.server import Options
    from toolkit.serve.server import serve as run_server

    options = Options(host, port, grpc_port, max_batch, max_delay_ms, max_body_mb, read_token(token_file))
    options.device, options.threads, options.workers = device.value, threads, workers
    options.policy, options.control = Policy.parse(version_policy), model_control.value
    options.poll_seconds, options.keep_alive_seconds, options.access_log = poll_seconds, keep_alive_s, access_log
    options.limits = Limits(request_seconds=request_timeout_s, max_connections=max_connections)
    if options.token is None and host not in ("127.0.0.1", "localhost", "::1"):
        typer.echo(f"tk: warning: serving on {host} without --token-file: anyone who can reach it can use it", err=True)
    log = lambda line: typer.echo(line, err=True)  # noqa: E731
    if ray is not None:
        from toolkit.deploy.ray_serve import Scaling, parse_autoscale, serve_on_ray

        scaling = Scaling(replicas, parse_autoscale(autoscale), replica_cpus)
        return serve_on_ray(bundles or [], options, ray, scaling, public_key, log=log)
    run_server(bundles or [], repository, options, public_key, log=log)


def read_token(path: Path | None) -> str | None:
    if path is None:
        return None
    if not path.is_file():
        raise UsageError(f"--token-file {path}: not a file")
    data = path.read_bytes()[: MAX_TOKEN_BYTES + 1]
    token = data.decode("utf-8", "replace").strip()
    if len(data) > MAX_TOKEN_BYTES or not token or any(c.isspace() for c in token):
        raise UsageError(f"--token-file {path}: must hold one token (no spaces), at most {MAX_TOKEN_BYTES} bytes")
    return token
