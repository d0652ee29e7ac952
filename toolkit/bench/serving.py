"""tk bench --serving: tk serve against the Python servers people use, side by side in one run.

Each server runs as its own process (the peers from their own venvs, made by scripts/serve_peers.sh:
KServe's model server, MLServer, and a plain FastAPI app, each running the bundle's model.onnx with
ONNX Runtime); `wrk` (the HTTP load generator) sends fashion-mlp batch-1 requests as JSON, as Triton's
binary tensor data and as encoded 28x28 PNGs, at each concurrency, and reports requests/s and the
latency percentiles. Every server's answer is checked once before it is measured.
"""

import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

from toolkit.bench import serving_peers
from toolkit.bench.machine import describe_machine, one_line
from toolkit.bench.report import update_benchmarks
from toolkit.errors import UsageError
from toolkit.runtime import Predictor

CONCURRENCY = (1, 8, 64)
PAYLOADS = ("json", "binary", "png")
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
            got = answer_of(post(url, body, headers))
            if got != expected:
                raise UsageError(f"{server['name']} answered class {got} to the {payload} request, expected {expected}")
            post(url, body, headers)  # warm
            for connections in CONCURRENCY:
                found = wrk(url, body_file, headers, connections, seconds)
                rows.append({"server": server["name"], "payload": payload, "concurrency": connections, **found})
                log(f"  {server['name']:<10} {payload:<7} c={connections:<3} {found['rps']:8.0f} req/s  "
                    f"p50 {found['p50_ms']:7.2f} ms  p99 {found['p99_ms']:7.2f} ms")  # fmt: skip
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
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


def judge(rows: list) -> list:
    """c=64: >= 2x the best peer's requests/s with a lower p99; c=1: p50 within 1.5x of the plain server's."""
    found = {(r["server"], r["payload"], r["concurrency"]): r for r in rows}
    targets = []
    for payload in PAYLOADS:
        tk = found.get(("tk serve", payload, 64))
        peers = [r for r in rows if r["server"] != "tk serve" and (r["payload"], r["concurrency"]) == (payload, 64)]
        if tk and peers:
            best = max(peers, key=lambda r: r["rps"])
            speedup = tk["rps"] / best["rps"]
            measured = f"{tk['rps']:.0f} vs {best['rps']:.0f} req/s ({best['server']}): {speedup:.2f}x; "
            measured += f"p99 {tk['p99_ms']:.1f} vs {best['p99_ms']:.1f} ms"
            met = speedup >= 2 and tk["p99_ms"] < best["p99_ms"]
            targets.append(
                {
                    "target": f"{payload}, 64 clients: >= 2x the best peer's req/s, lower p99",
                    "measured": measured,
                    "met": met,
                }
            )  # noqa: E501
        lone, plain = found.get(("tk serve", payload, 1)), found.get(("plain FastAPI", payload, 1))
        if lone and plain:
            ratio = lone["p50_ms"] / plain["p50_ms"]
            measured = f"p50 {lone['p50_ms']:.2f} vs {plain['p50_ms']:.2f} ms: {ratio:.2f}x"
            targets.append(
                {
                    "target": f"{payload}, 1 client: p50 within 1.5x of the plain server's",
                    "measured": measured,
                    "met": ratio <= 1.5,
                }
            )  # noqa: E501
    return targets


def render(report: dict) -> str:
    machine, seconds = one_line(report["machine"]), report["seconds"]
    lines = [
        "## Serving: tk serve vs KServe, MLServer and a plain FastAPI server",
        "",
        f"Machine: {machine}. fashion-mlp, batch-1 requests, `wrk` for {seconds} s per cell (one wrk thread; the",
        "server and wrk share the machine). Generated by `tk bench --serving`.",
        "",
        "| server | payload | clients | requests/s | p50 ms | p99 ms | errors |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in report["rows"]:
        cells = [
            r["server"],
            r["payload"],
            r["concurrency"],
            f"{r['rps']:.0f}",
            f"{r['p50_ms']:.2f}",
            f"{r['p99_ms']:.2f}",
        ]
        lines.append("| " + " | ".join(map(str, [*cells, r["errors"]])) + " |")
    lines += ["", "Not measured, or measured another way:", ""] + [f"- {line}" for line in report["skipped"]]
    lines += ["", "| target | measured | met |", "|---|---|---|"]
    lines += [f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else 'no'} |" for t in report["targets"]]
    return "\n".join(lines) + "\n"
