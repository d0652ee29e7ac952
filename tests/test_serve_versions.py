"""Model versions in tk serve: Triton's repository layout and version policies, a new version rolled out
under load by --model-control poll (while `tk export` writes it) and by the repository API (a stock
tritonclient calls load and unload), with zero failed requests and every answer from the version it
names; a broken version leaves the old one serving and says why in the index and the metrics."""

import http.client
import json
import shutil
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from toolkit.runtime import Predictor

from conftest import REFERENCE_BUNDLE, REPO, SAMPLES
from serving import request, start

LINEAR = REFERENCE_BUNDLE.parent / "fashion-linear"
PIXELS = Predictor(REFERENCE_BUNDLE, device="cpu").preprocess(SAMPLES / "bag-18.png")[None]
BODY = json.dumps({"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 1, 28, 28],
                               "data": PIXELS.ravel().tolist()}]}).encode()  # fmt: skip


def expected_logits(bundle) -> np.ndarray:
    return Predictor(bundle, device="cpu").run(PIXELS)[0]


class Load:
    """64 clients posting the same image as fast as they can, each on its own keep-alive connection."""

    def __init__(self, served, path="/v2/models/fashion-mlp/infer", clients=64):
        self.served, self.path, self.stop, self.answers = served, path, threading.Event(), []
        self.threads = [threading.Thread(target=self._client, args=(n,)) for n in range(clients)]

    def _client(self, number: int):
        connection = http.client.HTTPConnection("127.0.0.1", self.served.port, timeout=30)
        while not self.stop.is_set():
            try:
                connection.request("POST", self.path, BODY, {"Content-Type": "application/json"})
                response = connection.getresponse()
                self.answers.append((response.status, response.read(), number))
            except OSError as exc:  # a dropped connection is a failed request too
                self.answers.append((0, repr(exc).encode(), number))
                connection = http.client.HTTPConnection("127.0.0.1", self.served.port, timeout=30)

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(30)

    def wait_for_version(self, version: str, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(
                status == 200 and json.loads(body)["model_version"] == version for status, body, _ in self.answers[-64:]
            ):
                return
            time.sleep(0.1)
        raise AssertionError(f"version {version} never answered")

    def versions_seen(self, logits_of: dict) -> set:
        """Every answer was a 200 whose logits are those of the version it names, and no client, once answered
        by the new version, was answered by the old one again (its next request came after the switch)."""
        failed = [(status, body[:200]) for status, body, _ in self.answers if status != 200]
        assert not failed, f"{len(failed)} of {len(self.answers)} requests failed: {failed[:3]}"
        last = {}
        for _, body, client in self.answers:
            answer = json.loads(body)
            version = answer["model_version"]
            np.testing.assert_allclose(answer["outputs"][0]["data"], logits_of[version], rtol=1e-5, atol=1e-5)
            assert int(version) >= int(last.get(client, 0)), f"client {client}: version {version} after {last[client]}"
            last[client] = version
        return {json.loads(body)["model_version"] for _, body, _ in self.answers}


@pytest.fixture(scope="module")
def version_two(quick_run, tmp_path_factory):
    """A second version of fashion-mlp (the quick run's weights: its answers differ from version 1's)."""
    out = tmp_path_factory.mktemp("v2") / "2"
    export(quick_run, out)
    return out


def export(quick_run, out):
    command = [sys.executable, "-m", "toolkit", "export", "fashion-mlp", "--format", "onnx"]
    command += ["--checkpoint", str(quick_run / "checkpoint.pt"), "--out", str(out)]
    subprocess.run(command, cwd=REPO, check=True, capture_output=True)


def repository(tmp_path, versions=(1,)):
    """DIR/fashion-mlp/<v>/ (Triton's layout) beside DIR/fashion-linear/ (a plain bundle folder)."""
    repo = tmp_path / "repo"
    for version in versions:
        shutil.copytree(REFERENCE_BUNDLE, repo / "fashion-mlp" / str(version))
    shutil.copytree(LINEAR, repo / "fashion-linear")
    return repo


def test_poll_rolls_out_a_version_exported_under_load_with_no_failed_request(tmp_path, quick_run, version_two):
    repo = repository(tmp_path)
    served = start("--repository", repo, "--model-control", "poll", "--poll-seconds", "0.5")
    try:
        with Load(served) as load:
            time.sleep(1)
            export(quick_run, repo / "fashion-mlp" / "2")  # tk export, into the live repository
            load.wait_for_version("2")
            time.sleep(1)
        logits = {"1": expected_logits(REFERENCE_BUNDLE), "2": expected_logits(version_two)}
        assert load.versions_seen(logits) == {"1", "2"}
        assert len(load.answers) > 500
        _, metadata, _ = request(served, "GET", "/v2/models/fashion-mlp")
        assert metadata["versions"] == ["2"]  # latest:1 retired version 1
        status, _, _ = request(served, "POST", "/v2/models/fashion-mlp/versions/1/infer", BODY)
        assert status == 404
    finally:
        assert served.stop() == 0
    assert "fashion-mlp version 2 <- " in served.process.stderr.read()


def test_the_repository_api_loads_and_unloads_under_load_with_no_failed_request(tmp_path, version_two):
    repo = repository(tmp_path)
    served = start("--repository", repo, "--model-control", "explicit", "--version-policy", "latest:2")
    client = httpclient.InferenceServerClient(served.http)
    try:
        assert "model_repository" in client.get_server_metadata()["extensions"]
        with Load(served) as load:
            time.sleep(1)
            shutil.copytree(version_two, repo / "fashion-mlp" / "2")
            assert load.answers and all(json.loads(b)["model_version"] == "1" for _, b, _ in load.answers[-64:])
            client.load_model("fashion-mlp")  # a stock tritonclient, as for Triton
            load.wait_for_version("2")
            client.unload_model("fashion-linear")
            assert not client.is_model_ready("fashion-linear")
            client.load_model("fashion-linear")
            time.sleep(1)
        logits = {"1": expected_logits(REFERENCE_BUNDLE), "2": expected_logits(version_two)}
        assert load.versions_seen(logits) == {"1", "2"}
        index = {(m["name"], m["version"]): m["state"] for m in client.get_model_repository_index()}
        assert index == {("fashion-mlp", "1"): "READY", ("fashion-mlp", "2"): "READY", ("fashion-linear", "1"): "READY"}
        status, answer, _ = request(served, "POST", "/v2/models/fashion-mlp/versions/1/infer", BODY)
        assert status == 200 and answer["model_version"] == "1"  # latest:2 keeps both
        grpc_index = grpcclient.InferenceServerClient(served.grpc).get_model_repository_index(as_json=True)
        assert len(grpc_index["models"]) == 3
    finally:
        assert served.stop() == 0


def test_a_version_that_fails_to_load_leaves_the_old_one_serving(tmp_path):
    repo = repository(tmp_path)
    served = start("--repository", repo, "--model-control", "explicit")
    client = grpcclient.InferenceServerClient(served.grpc)
    try:
        broken = shutil.copytree(REFERENCE_BUNDLE, repo / "fashion-mlp" / "3")
        with open(broken / "model.onnx", "r+b") as f:
            f.write(b"\x00" * 16)
        with pytest.raises(InferenceServerException, match="did not load: .*sha256 does not match"):
            client.load_model("fashion-mlp")
        status, answer, _ = request(served, "POST", "/v2/models/fashion-mlp/infer", BODY)
        assert status == 200 and answer["model_version"] == "1"
        _, index, _ = request(served, "POST", "/v2/repository/index", {})
        row = next(m for m in index if m["version"] == "3")
        assert row["state"] == "UNAVAILABLE" and "sha256 does not match" in row["reason"]
        _, metrics, _ = request(served, "GET", "/metrics")
        assert 'tk_model_loads_total{model="fashion-mlp",outcome="failure"} 1.0' in metrics.decode()
        with pytest.raises(InferenceServerException, match="no model 'nope'"):
            client.load_model("nope")
    finally:
        assert served.stop() == 0
    assert "fashion-mlp version 3 did not load" in served.process.stderr.read()


def test_version_policies_choose_from_the_version_folders(tmp_path):
    repo = repository(tmp_path, versions=(1, 2, 3))
    for policy, versions in (("latest:2", ["2", "3"]), ("all", ["1", "2", "3"]), ("specific:1,3", ["1", "3"])):
        served = start("--repository", repo, "--version-policy", policy, "--grpc-port", "0")
        try:
            _, metadata, _ = request(served, "GET", "/v2/models/fashion-mlp")
            assert metadata["versions"] == versions, policy
            _, answer, _ = request(served, "POST", "/v2/models/fashion-mlp/infer", BODY)
            assert answer["model_version"] == versions[-1]  # no version asked for: the newest ready
        finally:
            assert served.stop() == 0


def test_a_bundle_in_another_models_folder_is_refused_and_bad_options_are_one_line(tmp_path):
    repo = repository(tmp_path)
    served = start("--repository", repo, "--model-control", "poll", "--poll-seconds", "0.2")
    try:
        shutil.copytree(LINEAR, repo / "fashion-mlp" / ".2.tk-staging-x")  # as tk export writes: then one rename
        (repo / "fashion-mlp" / ".2.tk-staging-x").rename(repo / "fashion-mlp" / "2")  # fashion-linear as v2
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            _, index, _ = request(served, "POST", "/v2/repository/index", {})
            row = next((m for m in index if m["version"] == "2"), {"state": "LOADING"})
            if row["state"] != "LOADING" and row.get("reason"):
                break
            time.sleep(0.2)
        assert row["state"] == "UNAVAILABLE" and "its manifest is model 'fashion-linear'" in row["reason"]
        _, answer, _ = request(served, "POST", "/v2/models/fashion-mlp/infer", BODY)
        assert answer["model_version"] == "1"  # the failed version 2 left version 1 serving
    finally:
        assert served.stop() == 0
    for args, words in (
        (["--version-policy", "newest"], "--version-policy 'newest'"),
        (["--model-control", "explicit", "--workers", "2"], "reach one worker only"),
    ):
        found = subprocess.run([sys.executable, "-m", "toolkit", "serve", "--repository", str(repo), *args],
                               cwd=REPO, capture_output=True, text=True, timeout=60)  # fmt: skip
        assert found.returncode == 2 and found.stderr.count("\n") == 1 and words in found.stderr, found.stderr
    found = subprocess.run([sys.executable, "-m", "toolkit", "serve", "--model-control", "poll", str(LINEAR)],
                           cwd=REPO, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert found.returncode == 2 and "give --repository DIR" in found.stderr
