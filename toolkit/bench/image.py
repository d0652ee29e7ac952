"""tk bench --image: the fashion-mlp image against `tk serve` run directly, side by side in one run.

Sizes (unpacked, as a saved archive, gzipped), the largest parts of the runtime, start to ready (podman run
-> the first 200 on /v2/health/ready; the same for the plain process), the server's resident memory after
the load, and batch-1 REST latency with wrk at one client for each payload, the container (locked down, its
port published on 127.0.0.1) and the plain process taking turns.
"""

import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from toolkit.bench import serving, serving_peers
from toolkit.bench.machine import describe_machine, one_line
from toolkit.bench.report import update_benchmarks
from toolkit.deploy.context import LOCKED_DOWN
from toolkit.deploy.image import build_image, gzip_into
from toolkit.runtime import Predictor

STARTS = 5
LARGEST = """import os, json
lib = '/opt/tk/lib'
def size(p):
    return sum(os.lstat(os.path.join(r, f)).st_size for r, _, fs in os.walk(p) for f in fs) if os.path.isdir(p) \
        else os.lstat(p).st_size
print(json.dumps(sorted(((size(os.path.join(lib, n)), n) for n in os.listdir(lib)), reverse=True)[:8]))"""


def ready_after(url: str, started: float, timeout: float = 60) -> float:
    deadline = started + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return time.monotonic() - started
        except OSError:
            time.sleep(0.005)
    raise TimeoutError(f"{url} not ready in {timeout} s")


def podman(*args) -> str:
    return subprocess.run(["podman", *map(str, args)], capture_output=True, text=True, check=True).stdout


class Container:
    def __init__(self, tag: str, port: int):
        self.name = f"tk-bench-{port}"
        self.port = port
        self.started = time.monotonic()
        podman(
            "run", "-d", "--rm", "--pull=never", "--name", self.name, "-p", f"127.0.0.1:{port}:8080", *LOCKED_DOWN, tag
        )
        self.ready_seconds = ready_after(f"http://127.0.0.1:{port}/v2/health/ready", self.started)

    def rss_mb(self) -> tuple:
        code = "s = open('/proc/1/status').read(); print(*(s.split(k + ':')[1].split()[0] for k in ('VmRSS', 'VmHWM')))"
        rss, peak = podman("exec", self.name, "python3", "-c", code).split()
        return int(rss) / 1024, int(peak) / 1024

    def stop(self):
        subprocess.run(["podman", "rm", "-f", "-t", "0", self.name], capture_output=True)


class Direct:
    """tk serve as a plain process from this interpreter, the same options the image gives it."""

    def __init__(self, bundle: Path, port: int):
        self.port = port
        self.started = time.monotonic()
        command = [sys.executable, "-m", "toolkit", "serve", str(bundle), "--port", str(port), "--grpc-port", "0"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.ready_seconds = ready_after(f"http://127.0.0.1:{port}/v2/health/ready", self.started)

    def rss_mb(self) -> tuple:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return tuple(int(status.split(k + ":")[1].split()[0]) / 1024 for k in ("VmRSS", "VmHWM"))

    def stop(self):
        self.process.terminate()
        self.process.wait(20)


def gzip_size(path: Path) -> int:
    """Bytes of the archive gzipped at level 6, counted, not written."""

    class Counter:
        size = 0

        def write(self, data):
            self.size += len(data)

    counter = Counter()
    gzip_into(path, counter)
    return counter.size


def payloads(bundle: Path) -> dict:
    predictor = Predictor(bundle, device="cpu")
    sample = Path(__file__).resolve().parents[2] / "samples" / "bag-18.png"
    pixels = predictor.preprocess(sample)[None]
    png = sample.read_bytes()
    return {
        "json": (serving_peers.v2_json(pixels), serving_peers.JSON_HEADERS),
        "binary": serving_peers.v2_binary("FP32", list(pixels.shape), pixels.astype("<f4").tobytes()),
        "png": serving_peers.v2_binary("BYTES", [1], len(png).to_bytes(4, "little") + png),
    }


def run_image_bench(bundle: Path, seconds: float, benchmarks: Path | None, log=print) -> dict:
    with tempfile.TemporaryDirectory(prefix="tk-bench-image-") as temporary:
        folder = Path(temporary)
        built = build_image([bundle], "localhost/tk-bench-fashion-mlp:latest", folder / "image.tar", log=log)
        sizes = {
            "unpacked_mb": built.size / 1e6,
            "archive_mb": built.archive.stat().st_size / 1e6,
            "archive_gzip_mb": gzip_size(built.archive) / 1e6,
        }
        report = {"machine": describe_machine(), "seconds": seconds, "image_id": built.image_id, "sizes": sizes}
        log(f"sizes: {json.dumps({k: round(v, 1) for k, v in sizes.items()})}")
        starts = {"container": [], "tk serve": []}
        for _ in range(STARTS):
            for kind, make in (
                ("container", lambda p: Container(built.tag, p)),
                ("tk serve", lambda p: Direct(bundle, p)),
            ):
                server = make(serving_peers.free_port())
                starts[kind].append(server.ready_seconds)
                server.stop()
        report["start_to_ready_s"] = {kind: statistics.median(found) for kind, found in starts.items()}
        log(f"start to ready (median of {STARTS}): {report['start_to_ready_s']}")
        bodies = payloads(bundle)
        servers = {
            "container": Container(built.tag, serving_peers.free_port()),
            "tk serve": Direct(bundle, serving_peers.free_port()),
        }
        rows = []
        try:
            for payload, (body, headers) in bodies.items():
                body_file = folder / f"{payload}.body"
                body_file.write_bytes(body)
                for kind, server in servers.items():
                    url = f"http://127.0.0.1:{server.port}/v2/models/fashion-mlp/infer"
                    serving.post(url, body, headers)  # warm
                    found = serving.wrk(url, body_file, headers, 1, seconds)
                    rows.append({"server": kind, "payload": payload, **found})
                    log(f"  {kind:<10} {payload:<7} p50 {found['p50_ms']:.3f} ms  p99 {found['p99_ms']:.3f} ms")
            report["rss_mb"] = {kind: server.rss_mb() for kind, server in servers.items()}
            report["largest"] = json.loads(podman("exec", servers["container"].name, "python3", "-c", LARGEST))
        finally:
            for server in servers.values():
                server.stop()
            subprocess.run(["podman", "rmi", "-f", built.tag], capture_output=True)
    report["rows"] = rows
    report["targets"] = judge(report)
    if benchmarks is not None:
        update_benchmarks(benchmarks, "image cpu", render(report))
    return report


def judge(report: dict) -> list:
    sizes, rows = report["sizes"], report["rows"]
    by = {(r["server"], r["payload"]): r for r in rows}
    targets = [
        ("unpacked <= 250 MB", f"{sizes['unpacked_mb']:.0f} MB", sizes["unpacked_mb"] <= 250),
        ("archive gzipped <= 90 MB", f"{sizes['archive_gzip_mb']:.0f} MB", sizes["archive_gzip_mb"] <= 90),
        (
            "container start to ready <= 1 s",
            f"{report['start_to_ready_s']['container']:.2f} s",
            report["start_to_ready_s"]["container"] <= 1,
        ),
        ("RSS < 100 MB", f"{report['rss_mb']['container'][0]:.0f} MB", report["rss_mb"]["container"][0] < 100),
    ]
    for payload in ("json", "binary", "png"):
        inside, direct = by[("container", payload)], by[("tk serve", payload)]
        ratio = inside["p50_ms"] / direct["p50_ms"]
        measured = f"{inside['p50_ms']:.3f} vs {direct['p50_ms']:.3f} ms: {ratio:.2f}x"
        targets.append((f"{payload}: p50 within 1.2x of tk serve run directly", measured, ratio <= 1.2))
    return [{"target": t, "measured": m, "met": met} for t, m, met in targets]


def render(report: dict) -> str:
    sizes, ready, rss = report["sizes"], report["start_to_ready_s"], report["rss_mb"]
    lines = [
        "## The image: tk image exported/fashion-mlp against tk serve run directly",
        "",
        f"Machine: {one_line(report['machine'])}. Generated by `tk bench --image`: the container runs locked down",
        f"(`{' '.join(LOCKED_DOWN)}`), its REST port published on 127.0.0.1; wrk, 1 client, {report['seconds']} s",
        "per cell, batch-1 requests; the container and the plain process take turns.",
        "",
        f"Image {report['image_id'][:19]}: {sizes['unpacked_mb']:.0f} MB unpacked, {sizes['archive_mb']:.0f} MB as "
        f"`podman save` writes it, {sizes['archive_gzip_mb']:.0f} MB gzipped.",
        "",
        "| | container | tk serve directly |",
        "|---|---|---|",
        f"| start to ready (median of {STARTS}) | {ready['container']:.2f} s | {ready['tk serve']:.2f} s |",
        f"| resident memory after the load (peak) | {rss['container'][0]:.0f} MB ({rss['container'][1]:.0f}) "
        f"| {rss['tk serve'][0]:.0f} MB ({rss['tk serve'][1]:.0f}) |",
        "",
        "| payload | server | requests/s | p50 ms | p99 ms | errors |",
        "|---|---|---|---|---|---|",
    ]
    for r in report["rows"]:
        cells = [r["payload"], r["server"], f"{r['rps']:.0f}", f"{r['p50_ms']:.3f}", f"{r['p99_ms']:.3f}", r["errors"]]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    largest = ", ".join(f"{name} {size / 1e6:.0f} MB" for size, name in report["largest"])
    lines += ["", f"The largest parts of /opt/tk/lib: {largest}.", ""]
    lines += ["| target | measured | met |", "|---|---|---|"]
    lines += [f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else 'no'} |" for t in report["targets"]]
    return "\n".join(lines) + "\n"
