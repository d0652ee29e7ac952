"""`tk serve --workers N`: N server processes on the same ports, for machines with more cores than one
event loop can use. Each worker binds the ports with SO_REUSEPORT (gRPC does by default on Linux) and the
kernel spreads new connections across them; each loads its own models and batches its own requests.

This process only supervises: SIGTERM or Ctrl-C is passed on to every worker, which drains as a lone
server does; a worker that dies stops the others, and the exit status says so (an orchestrator restarts
the whole server, not half of it). The repository API is not offered here: it would reach one worker.
"""

import multiprocessing
import os
import signal
import sys
import time

from toolkit.errors import UsageError


def worker_main(number: int, bundles, repository, options, public_key):
    """One worker: its own process group (a terminal's Ctrl-C reaches the supervisor, which passes it on once)."""
    import asyncio

    from toolkit.errors import ToolkitError
    from toolkit.serve.server import load_models, run

    os.setpgid(0, 0)

    def log(line: str):
        print(line.replace("tk serve:", f"tk serve: worker {number}:", 1), file=sys.stderr, flush=True)

    try:
        _, service = load_models(bundles, repository, options, public_key, log)
        asyncio.run(run(service, options, log))
    except ToolkitError as exc:
        log(f"tk serve: {exc}")
        sys.exit(2)


def run_workers(bundles, repository, options, public_key, log=print):
    context = multiprocessing.get_context("spawn")  # a fresh interpreter each: no state shared by accident
    workers = [
        context.Process(target=worker_main, args=(n, bundles, repository, options, public_key), daemon=False)
        for n in range(1, options.workers + 1)
    ]
    stopping = []

    def stop(signum, frame):
        stopping.append(signum)
        for worker in workers:
            if worker.pid is not None and worker.exitcode is None:
                os.kill(worker.pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for worker in workers:
            worker.start()
        log(f"tk serve: {options.workers} workers on port {options.port} (SO_REUSEPORT)")
        failed = _watch(workers, stopping, stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if failed:
        raise UsageError(f"worker {failed[0]} exited with status {failed[1]}; the others were stopped")
    log("tk serve: stopped")


def _watch(workers: list, stopping: list, stop) -> tuple | None:
    """Wait for every worker; the first that exits on its own (not asked to) stops the rest."""
    failed = None
    while any(worker.exitcode is None for worker in workers):
        for number, worker in enumerate(workers, 1):
            if worker.exitcode is not None and not stopping and failed is None:
                failed = (number, worker.exitcode)
                stop(None, None)
        time.sleep(0.1)
    return failed
