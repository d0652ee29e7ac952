"""A live `tk serve` for the tests: started as a user starts it, on free ports of 127.0.0.1, stopped with SIGTERM."""

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from toolkit.bench.serving_peers import free_port

from conftest import REPO

ZOO = sorted(p for p in (REPO / "exported").iterdir() if (p / "manifest.json").is_file())


@dataclass
class Served:
    process: subprocess.Popen
    port: int
    grpc_port: int

    @property
    def http(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def grpc(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def url(self) -> str:
        return f"http://{self.http}"

    def stop(self, timeout: float = 15) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()


def start(*args, python=sys.executable, timeout: float = 90, cwd=REPO) -> Served:
    """`tk serve ARGS` on free ports; returns once /v2/health/ready says so."""
    port, grpc_port = free_port(), free_port()
    command = [python, "-m", "toolkit", "serve", *map(str, args), "--port", str(port), "--grpc-port", str(grpc_port)]
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    served = Served(process, port, grpc_port)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"tk serve exited {process.returncode}: {process.stderr.read()}")
        try:
            with urllib.request.urlopen(f"{served.url}/v2/health/ready", timeout=2) as response:
                if response.status == 200:
                    return served
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    served.stop()
    raise AssertionError("tk serve did not become ready")


def request(served: Served, method: str, path: str, body=None, headers=None) -> tuple:
    """(status, parsed JSON or raw bytes, headers) for one plain HTTP request."""
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    call = urllib.request.Request(served.url + path, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(call, timeout=30) as response:
            status, raw, found = response.status, response.read(), response.headers
    except urllib.error.HTTPError as exc:
        status, raw, found = exc.code, exc.read(), exc.headers
    is_json = (found.get("Content-Type") or "").startswith("application/json")
    return status, json.loads(raw) if is_json else raw, found
