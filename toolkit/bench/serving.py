"""tk bench --serving: tk serve against the Python servers people use, side by side in one run.

Each server runs as its own process (the peers from their own venvs, made by scripts/serve_peers.sh:
KServe's model server, MLServer, and a plain FastAPI app, each running the bundle's model.onnx with
ONNX Runtime); `wrk` (the HTTP load generator) sends fashion-mlp batch-1 requests as JSON, as Triton's
binary tensor data and as encoded 28x28 PNGs, at each concurrency, and reports requests/s and the
latency percentiles. Every server's answer is checked once before it is measured.
"""

import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

from toolkit.bench import serving_peers
from toolkit.bench.machine import describe_machine
from toolkit.bench.report import update_benchmarks
from toolkit.bench.serving_report import judge, render
from toolkit.errors import UsageError
from toolkit.runtime import Predictor

CONCURRENCY = (1, 8, 64)
LUA = """wrk.method = "POST"
local f = io.open("{body}", "rb"); wrk.body = f:read("*a"); f:close()
{headers}
"""


def wrk(url: str, body: Path, headers: dict, connections: int, seconds: float) -> dict:
    """Requests/s and p50/p99 latency (ms) for `connections` clients posting `body` for `seconds`."""
    script = body.with_suffix(".lua")
    lines = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items())
    script.write_text(LUA.format(body=body, headers=lines))
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{round(seconds)}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50_ms": _milliseconds(re.search(r"50%\s+([\d.]+\w+)", output).group(1)),
        "p99_ms": _milliseconds(re.search(r"99%\s+([\d.]+\w+)", output).group(1)),
        "errors": int(failed.group(1)) if failed else 0,
    }


def _milliseconds(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def wait_ready(url: str, process: subprocess.Popen, log_file: Path, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            last = log_file.read_text(errors="replace").strip().splitlines()[-1:]
            raise UsageError(f"the server for {url} exited {process.returncode} before it was ready: {last}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise UsageError(f"{url} did not become ready in {timeout:.0f} s")


def post(url: str, body: bytes, headers: dict) -> bytes:
    with urllib.request.urlopen(urllib.request.Request(url, body, headers, method="POST"), timeout=10) as response:
        return response.read()


def measure_server(server: dict, folder: Path, seconds: float, expected: int, log) -> list:
    """Start one server, check its answer to each payload it takes, run wrk at each concurrency, stop it."""
    log_file = folder / f"{server['name'].replace(' ', '-')}.log"  # a file, not a pipe: a chatty server never blocks
    with open(log_file, "wb") as output:
        process = subprocess.Popen(server["command"], cwd=server.get("cwd"), stdout=output, stderr=subprocess.STDOUT)
    rows = []
    try:
        wait_ready(server["ready"], process, log_file)
        for payload, (url, body, headers, answer_of) in server["payloads"].items():
            body_file = folder / f"{server['name'].replace(' ', '-')}-{payload}.body"
            body_file.write_bytes(body)
            got = post(url, body, headers)
            if answer_of is not None and answer_of(got) != expected:
                raise UsageError(f"{server['name']} answered class {answer_of(got)} to {payload}, expected {expected}")
            post(url, body, headers)  # warm
            for connections in CONCURRENCY:
                found = wrk(url, body_file, headers, connections, seconds)
                rows.append(cell(server, payload, connections, found, log))
        if server.get("grpc"):
            rows += grpc_cells(server, seconds, expected, log)
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
    return rows


def cell(server: dict, payload: str, connections: int, found: dict, log, protocol: str = "rest") -> dict:
    log(f"  {server['name']:<10} {protocol:<4} {payload:<7} c={connections:<3} {found['rps']:8.0f} req/s  "
        f"p50 {found['p50_ms']:7.2f} ms  p99 {found['p99_ms']:7.2f} ms")  # fmt: skip
    return {"server": server["name"], "protocol": protocol, "payload": payload, "concurrency": connections, **found}


def grpc_cells(server: dict, seconds: float, expected: int, log) -> list:
    """The same image over gRPC (raw FP32, as tritonclient sends it) at each concurrency (grpc_load.py)."""
    rows = []
    for connections in CONCURRENCY:
        command = [sys.executable, "-m", "toolkit.bench.grpc_load", server["grpc"], str(connections), str(seconds)]
        found = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
        if found.pop("class") != expected:
            raise UsageError(f"{server['name']} answered another class over gRPC, expected {expected}")
        rows.append(cell(server, "FP32 raw", connections, found, log, "grpc"))
    return rows


def run_serving_bench(bundle: Path, peers_dir: Path, seconds: float, benchmarks: Path | None, log=print) -> dict:
    if shutil.which("wrk") is None:
        raise UsageError("wrk is missing: scripts/serve_peers.sh installs it (apt-get install wrk)")
    predictor = Predictor(bundle, device="cpu")
    sample = Path(__file__).resolve().parents[2] / "samples" / "bag-18.png"
    pixels = predictor.preprocess(sample)[None]
    expected = int(np.argmax(predictor.run(pixels)))
    servers, skipped = serving_peers.servers(bundle, peers_dir, pixels, sample.read_bytes())
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for server in servers:
            log(f"{server['name']}: {' '.join(map(str, server['command']))}")
            rows += measure_server(server, Path(folder), seconds, expected, log)
    report = {"machine": describe_machine(), "seconds": seconds, "rows": rows, "skipped": skipped}
    report["targets"] = judge(rows)
    if benchmarks is not None:
        update_benchmarks(benchmarks, "serving cpu", render(report))
    return report
