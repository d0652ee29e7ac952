"""tk on a real multi-node Ray cluster started here (`ray start --head` and a second node with `ray start
--address`, each bounded to 2 CPUs): tk serve --ray as Ray Serve replicas on both nodes, driven by a stock
tritonclient, surviving the kill -9 of a replica; tk infer --ray scoring the 10,000 Fashion-MNIST test
images and a 100,000-row CSV exactly as Predictor (and tk infer --json) answers them."""

import collections
import gzip
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import tritonclient.http as httpclient
from PIL import Image
from tritonclient.utils import InferenceServerException

from toolkit.bench.serving_peers import free_port
from toolkit.runtime import Predictor

from conftest import REFERENCE_BUNDLE, REPO

ray = pytest.importorskip("ray", reason="Ray is tk's extra: pip install '.[ray]' (scripts/setup.sh installs it)")
RAY = Path(sys.executable).with_name("ray")
TABULAR = REPO / "exported" / "multivariate-regression"
TEST_IMAGES = Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
REPLICA_TITLE = "ray::ServeReplica:tk:tk"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """host:port of a two-node cluster; every Ray process on this machine is stopped afterwards."""
    port = free_port()
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    bounds = ["--num-cpus", "2", "--memory", str(3 * 2**30), "--object-store-memory", str(200 * 2**20)]
    head = [RAY, "start", "--head", "--port", str(port), "--include-dashboard", "false", *bounds]
    head += ["--temp-dir", str(tmp_path_factory.mktemp("ray")), "--disable-usage-stats"]
    subprocess.run(head, check=True, capture_output=True, env=env, timeout=120)
    try:
        worker = [RAY, "start", "--address", f"127.0.0.1:{port}", *bounds, "--disable-usage-stats"]
        subprocess.run(worker, check=True, capture_output=True, env=env, timeout=120)
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([RAY, "stop", "--force"], capture_output=True, env=env, timeout=120)


def tk(*args, timeout=600, **kwargs) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "toolkit", *map(str, args)]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout, **kwargs)


class RayServer:
    """tk serve --ray ... as a user starts it; stopped with SIGTERM."""

    def __init__(self, cluster, *args):
        self.port = free_port()
        command = [
            sys.executable,
            "-m",
            "toolkit",
            "serve",
            *map(str, args),
            "--ray",
            cluster,
            "--port",
            str(self.port),
        ]
        self.process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 180
        for line in self.process.stderr:
            if "ready on Ray" in line:
                self.ready_line = line
                break
            assert time.monotonic() < deadline and self.process.poll() is None, line
        else:
            raise AssertionError(f"tk serve --ray exited {self.process.wait()}")
        threading.Thread(target=self.process.stderr.read, daemon=True).start()  # never block on a full pipe

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(120)


def replica_pids() -> list:
    """The replicas' processes: titled as a replica and started by a raylet (a process a replica forks
    carries its title too, for a moment, and must not be counted as a replica)."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                titled = cmdline.read().startswith(REPLICA_TITLE.encode())
            if titled and Path(f"/proc/{parent_of(int(entry))}/comm").read_text().strip() == "raylet":
                found.append(int(entry))
        except OSError:
            pass
    return sorted(found)


def test_serve_on_two_replicas_on_two_nodes_answers_as_predictor_does(cluster, tmp_path):
    token = tmp_path / "token"
    token.write_text("s3cret")
    served = RayServer(cluster, REFERENCE_BUNDLE, "--replicas", "2", "--token-file", token)
    try:
        assert "(2 nodes)" in served.ready_line and "2 replicas" in served.ready_line
        assert len(replica_pids()) == 2 and len({parent_of(pid) for pid in replica_pids()}) == 2  # one per raylet
        headers = {"Authorization": "Bearer s3cret"}
        client = httpclient.InferenceServerClient(f"127.0.0.1:{served.port}")
        with pytest.raises(InferenceServerException, match="Bearer"):
            client.get_model_metadata("fashion-mlp")
        assert client.get_model_metadata("fashion-mlp", headers=headers)["inputs"][0]["shape"] == [-1, 1, 28, 28]
        predictor = Predictor(REFERENCE_BUNDLE, device="cpu")
        images = fashion_images(32)
        expected = predictor.run(images[:, None])
        for binary in (False, True):
            tensor = httpclient.InferInput("input", [4, 1, 28, 28], "FP32")
            tensor.set_data_from_numpy(images[:4, None], binary_data=binary)
            got = client.infer("fashion-mlp", [tensor], headers=headers).as_numpy("logits")
            np.testing.assert_allclose(got, expected[:4], rtol=1e-5, atol=1e-5)
        answers = [None] * 32

        def one_client(i):
            own = httpclient.InferenceServerClient(f"127.0.0.1:{served.port}")
            tensor = httpclient.InferInput("input", [1, 1, 28, 28], "FP32")
            tensor.set_data_from_numpy(images[i : i + 1, None])
            answers[i] = own.infer("fashion-mlp", [tensor], headers=headers).as_numpy("logits")[0]

        threads = [threading.Thread(target=one_client, args=(i,)) for i in range(32)]
        [t.start() for t in threads]
        [t.join(60) for t in threads]
        np.testing.assert_allclose(np.stack(answers), expected, rtol=1e-5, atol=1e-5)  # each its own answer
    finally:
        assert served.stop() == 0


def test_a_killed_replica_is_replaced_and_no_answer_is_wrong(cluster):
    served = RayServer(cluster, REFERENCE_BUNDLE, "--replicas", "2")
    image = fashion_images(1)
    body = json.dumps({"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 1, 28, 28],
                                   "data": image.ravel().tolist()}]})  # fmt: skip
    label = int(np.argmax(Predictor(REFERENCE_BUNDLE, device="cpu").run(image[:, None])))
    outcomes, stop = collections.Counter(), threading.Event()

    def client():
        connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=60)
        while not stop.is_set():
            try:
                connection.request("POST", "/v2/models/fashion-mlp/infer", body)
                response = connection.getresponse()
                answer = response.read()
                if response.status == 200:
                    right = int(np.argmax(json.loads(answer)["outputs"][0]["data"])) == label
                    outcomes["right" if right else "WRONG"] += 1
                else:
                    outcomes[f"status {response.status}"] += 1
            except OSError:
                outcomes["connection error"] += 1
                connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=60)

    threads = [threading.Thread(target=client) for _ in range(16)]
    try:
        [t.start() for t in threads]
        time.sleep(3)
        before = replica_pids()
        os.kill(before[0], signal.SIGKILL)
        deadline, seen, now = time.monotonic() + 90, None, replica_pids()
        while time.monotonic() < deadline and not (len(now) == 2 and before[0] not in now and now == seen):
            time.sleep(0.5)  # the same two processes at two looks: a replica, not a process passing by
            seen, now = now, replica_pids()
        assert len(now) == 2 and before[0] not in now and now == seen, f"not replaced: {before} -> {seen}, {now}"
        served_before = outcomes["right"]
        time.sleep(3)
        assert outcomes["right"] > served_before, outcomes  # serving goes on
    finally:
        stop.set()
        [t.join(60) for t in threads]
        assert served.stop() == 0
    failed = sum(n for outcome, n in outcomes.items() if outcome != "right")
    assert outcomes["WRONG"] == 0 and failed <= 16, outcomes  # at most what was in flight on the killed one
    assert set(outcomes) <= {"right", "status 500", "status 503", "connection error"}, outcomes


def test_batch_scoring_equals_tk_infer_for_10000_images_and_100000_rows(cluster, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for i, image in enumerate(fashion_images(10_000)):
        Image.fromarray(image_bytes(image)).save(folder / f"{i:05d}.png")
    (folder / "broken.png").write_bytes(b"\x89PNG but not really")
    found = tk("infer", "--ray", cluster, "--model", REFERENCE_BUNDLE, folder, "--out", tmp_path / "images.jsonl")
    assert found.returncode == 1 and "10001 inputs (1 errors)" in found.stderr, found.stderr  # exit 1: one bad file
    plain = tk("infer", "--model", REFERENCE_BUNDLE, *sorted(folder.iterdir()), "--json")
    assert (tmp_path / "images.jsonl").read_text() == plain.stdout  # row for row, byte for byte
    errors = [json.loads(line) for line in plain.stdout.splitlines() if "error" in json.loads(line)]
    assert len(errors) == 1 and "broken.png" in errors[0]["path"]

    rows = np.random.default_rng(0).uniform(0, 100, size=(100_000, 3)).round(2)
    table = tmp_path / "scores.csv"
    table.write_text("quiz1,quiz2,midterm\n" + "\n".join(",".join(f"{v:g}" for v in row) for row in rows) + "\n")
    found = tk(
        "infer", "--ray", cluster, "--model", TABULAR, table, "--out", tmp_path / "rows.parquet", "--actors", "2"
    )
    assert found.returncode == 0, found.stderr
    import pyarrow.parquet as pq

    scored = pq.read_table(tmp_path / "rows.parquet").to_pydict()
    assert scored["order"] == list(range(100_000)) and not any(scored["error"])
    values = np.array([json.loads(r)["value"][0] for r in scored["result"]], dtype=np.float32)
    expected = Predictor(TABULAR, device="cpu").run(rows.astype(np.float32))[:, 0]
    np.testing.assert_array_equal(values, expected)  # exactly: the same session, the same float32 rows


def test_without_a_cluster_both_say_what_to_start(tmp_path):
    nowhere = f"127.0.0.1:{free_port()}"
    for args in (
        ["serve", REFERENCE_BUNDLE, "--ray", nowhere],
        [
            "infer",
            "--ray",
            nowhere,
            "--model",
            REFERENCE_BUNDLE,
            REPO / "samples" / "bag-18.png",
            "--out",
            tmp_path / "r.jsonl",
        ],
    ):
        found = tk(*args, timeout=180)
        assert found.returncode == 2 and "ray start --head" in found.stderr and "Traceback" not in found.stderr, (
            found.stderr
        )
    assert not (tmp_path / "r.jsonl").exists()


def fashion_images(count: int) -> np.ndarray:
    """The first `count` Fashion-MNIST test images, prepared as tk prepares a 28x28 PNG of them."""
    raw = np.frombuffer(gzip.open(TEST_IMAGES).read()[16:], np.uint8).reshape(-1, 28, 28)[:count]
    return raw.astype(np.float32) / 255.0


def image_bytes(image: np.ndarray) -> np.ndarray:
    return np.round(image * 255).astype(np.uint8)


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])


def test_a_folder_of_inputs_never_leads_outside_itself(tmp_path):
    from toolkit.deploy.ray_data import image_files

    folder = tmp_path / "in"
    (folder / "class").mkdir(parents=True)
    (folder / "class" / "a.png").write_bytes((REPO / "samples" / "bag-18.png").read_bytes())
    (folder / ".hidden.png").write_bytes(b"")
    (folder / "out.png").symlink_to(REPO / "samples" / "sandal-8.png")  # a file outside the folder
    (folder / "elsewhere").symlink_to(REPO / "samples", target_is_directory=True)
    assert image_files(folder) == [folder / "class" / "a.png"]
