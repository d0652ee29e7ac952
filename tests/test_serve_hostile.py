"""tk serve against hostile clients: requests that trickle in, oversized heads, a flood of connections and a
zip bomb are each cut off, and a good client is answered in normal time while the attack runs; gzip bodies
(tritonclient can send them) are answered; the access log is one JSON line per request, without the body."""

import gzip
import http.client
import json
import os
import select
import socket
import threading
import time

import numpy as np
import tritonclient.http as httpclient

from conftest import REFERENCE_BUNDLE
from serving import request, start

INFER = "/v2/models/fashion-mlp/infer"
BODY = json.dumps({"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 1, 28, 28], "data": [0.0] * 784}]})
HEAD = f"POST {INFER} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"


def good_client_latencies(served, seconds: float, connection=None) -> list:
    """Seconds per request of a well-behaved client posting for `seconds` (on its own connection, or this one)."""
    connection = connection or http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    took, stop = [], time.monotonic() + seconds
    while time.monotonic() < stop:
        started = time.monotonic()
        connection.request("POST", INFER, BODY, {"Content-Type": "application/json"})
        response = connection.getresponse()
        assert response.status == 200, response.read()
        response.read()
        took.append(time.monotonic() - started)
        time.sleep(0.05)
    return took


def opened(served, count: int) -> list:
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
        sockets.append(sock)
    return sockets


def answer_of(sock) -> bytes:
    """What the server sent before it closed (b"" if it sent nothing)."""
    sock.settimeout(10)
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))


def test_requests_that_trickle_in_are_cut_off_at_their_deadline():
    served = start(REFERENCE_BUNDLE, "--request-timeout-s", "2", "--grpc-port", "0")
    trickling = opened(served, 300)
    stop = threading.Event()

    def trickle():  # one byte of head per connection every 0.2 s, for as long as the server listens
        for sock in trickling:
            sock.sendall(HEAD.encode())
        while not stop.is_set():
            for sock in trickling:
                try:
                    sock.send(b"X")
                except OSError:
                    pass
            time.sleep(0.2)

    attacker = threading.Thread(target=trickle)
    attacker.start()
    try:
        took = good_client_latencies(served, 3)
        assert max(took) < 1.0, max(took)  # answered in normal time while 300 connections trickle
        answers = [answer_of(sock) for sock in trickling]
        assert all(a.startswith(b"HTTP/1.1 408") for a in answers), {a[:40] for a in answers}
    finally:
        stop.set()
        attacker.join()
        for sock in trickling:
            sock.close()
        assert served.stop() == 0


def test_an_oversized_head_gets_431_and_a_flood_of_connections_a_clean_503():
    served = start(REFERENCE_BUNDLE, "--max-connections", "50", "--request-timeout-s", "3", "--grpc-port", "0")
    keeper = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    good_client_latencies(served, 0.1, keeper)  # open before the flood, kept alive through it
    try:
        big = socket.create_connection(("127.0.0.1", served.port))
        try:
            big.sendall((HEAD + "X-Big: " + "a" * 2_000_000 + "\r\n\r\n").encode())
        except OSError:
            pass  # the server may close before it has read it all
        assert answer_of(big).startswith(b"HTTP/1.1 431")
        flood = opened(served, 200)
        time.sleep(0.5)
        refused = select.select(flood, [], [], 0)[0]  # answered at once, before any deadline
        assert len(refused) >= 150  # beyond the 50 (the keeper among them) at once...
        assert all(answer_of(sock).startswith(b"HTTP/1.1 503") for sock in refused)  # ...with a clean refusal
        assert max(good_client_latencies(served, 1, keeper)) < 1.0  # the open connection is still served
        time.sleep(4)  # the idle ones pass their deadline
        assert max(good_client_latencies(served, 0.5)) < 1.0  # and new connections are taken again
        for sock in flood:
            sock.close()
    finally:
        assert served.stop() == 0


def test_gzip_bodies_are_answered_and_a_zip_bomb_gets_413_without_growing_the_server():
    served = start(REFERENCE_BUNDLE, "--max-body-mb", "4", "--grpc-port", "0")
    try:
        plain = request(served, "POST", INFER, BODY.encode())[1]
        status, zipped, _ = request(served, "POST", INFER, gzip.compress(BODY.encode()), {"Content-Encoding": "gzip"})
        assert status == 200 and zipped == plain
        client = httpclient.InferenceServerClient(served.http)
        pixels = httpclient.InferInput("input", [1, 1, 28, 28], "FP32")
        pixels.set_data_from_numpy(np.zeros((1, 1, 28, 28), np.float32))
        answer = client.infer("fashion-mlp", [pixels], request_compression_algorithm="gzip").as_numpy("logits")
        np.testing.assert_allclose(answer[0], plain["outputs"][0]["data"], rtol=1e-6)
        before = rss_kib(served.process.pid)
        bomb = gzip.compress(b" " * (1 << 30), compresslevel=9)  # 1 GiB of spaces in about 1 MB
        status, answer, _ = request(served, "POST", INFER, bomb, {"Content-Encoding": "gzip"})
        assert status == 413 and "inflates to over" in answer["error"]
        assert rss_kib(served.process.pid) - before < 64 * 1024  # it never inflated past the 4 MB limit
        assert request(served, "POST", INFER, BODY.encode())[0] == 200
    finally:
        assert served.stop() == 0


def test_the_access_log_is_one_json_line_per_request_with_its_id_and_no_body():
    served = start(REFERENCE_BUNDLE, "--access-log", "--grpc-port", "0")
    try:
        status, _, headers = request(served, "POST", INFER, BODY.encode(), {"X-Request-ID": "req-42"})
        assert status == 200 and headers["x-request-id"] == "req-42"
        request(served, "POST", "/v2/models/nope/infer", BODY.encode(), {"X-Request-ID": "bad id " * 40})
        request(served, "GET", "/v2/models/fashion-mlp")
    finally:
        assert served.stop() == 0
    lines = [json.loads(line) for line in served.process.stdout.read().splitlines()]
    health = [line for line in lines if line["path"] == "/v2/health/ready"]
    assert len(lines) == len(health) + 3, lines
    first, unknown, metadata = [line for line in lines if line not in health]
    assert first["request_id"] == "req-42" and first["model"] == "fashion-mlp" and first["version"] == "1"
    assert first["status"] == 200 and first["ms"] > 0 and first["method"] == "POST"
    assert unknown["status"] == 404 and unknown["model"] is None and unknown["request_id"] is None
    assert unknown["path"] == "/v2/models/..."  # a made-up model name is not written to the log
    assert metadata["status"] == 200 and metadata["model"] == "fashion-mlp"
    assert all("0.0" not in json.dumps(line) for line in lines)  # no request body


def test_two_workers_share_the_port_and_stop_together():
    served = start(REFERENCE_BUNDLE, "--workers", "2", "--grpc-port", "0")
    try:
        wait_for_lines(served, "ready: REST", 2)  # the first worker answers the health probe; wait for both
        for _ in range(20):  # new connections each: the kernel spreads them over the two workers
            assert request(served, "GET", "/v2/health/ready")[0] == 200
            assert request(served, "POST", INFER, BODY.encode())[0] == 200
        workers = worker_processes(served.process.pid)
        assert len(workers) == 2, workers
    finally:
        assert served.stop() == 0
    assert not any(os.path.exists(f"/proc/{pid}") for pid in workers)
    assert served.process.stderr.read().count(": stopped") == 3  # each worker, then the supervisor


def wait_for_lines(served, words: str, count: int, timeout: float = 60):
    """Read the server's stderr until `count` lines hold `words` (the workers write there as they start)."""
    deadline, seen = time.monotonic() + timeout, 0
    while seen < count:
        assert time.monotonic() < deadline and served.process.poll() is None, f"{seen} of {count} {words!r} lines"
        seen += words in served.process.stderr.readline()


def worker_processes(pid: int) -> list:
    """The server processes `pid` started (multiprocessing's spawned interpreters, not its resource tracker)."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as stat, open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
                if parent == pid and b"spawn_main" in cmdline.read():
                    found.append(int(entry))
        except OSError:
            pass
    return found
