"""tk serve as a hostile or careless client finds it: every bad request gets the protocol's error form
naming the culprit, and the server keeps serving; 64 concurrent clients each get their own answer; the
token; SIGTERM drains; a bad bundle stops the start with one line; /metrics counts it all."""

import http.client
import json
import shutil
import struct
import threading
import time

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from toolkit.runtime import Predictor

from conftest import REFERENCE_BUNDLE, SAMPLES
from serving import request, start

TABULAR = REFERENCE_BUNDLE.parent / "linear-regression"
INFER = "/v2/models/fashion-mlp/infer"
ZEROS = [0.0] * 784


def json_input(data=ZEROS, shape=(1, 1, 28, 28), datatype="FP32", name="input"):
    return {"inputs": [{"name": name, "datatype": datatype, "shape": list(shape), "data": data}]}


def binary_body(raw: bytes, shape=(1, 1, 28, 28), datatype="FP32", size=None) -> tuple:
    """Triton's binary tensor data extension: the JSON header, then the input's bytes."""
    described = {"name": "input", "datatype": datatype, "shape": list(shape)}
    described["parameters"] = {"binary_data_size": len(raw) if size is None else size}
    header = json.dumps({"inputs": [described]}).encode()
    return header + raw, {"Inference-Header-Content-Length": str(len(header))}


def nan_json() -> bytes:
    return json.dumps(json_input()).replace("0.0", "NaN", 1).encode()


BAD_REQUESTS = [  # (path, body, headers, status, words the error names)
    ("/v2/models/nope/infer", json_input(), {}, 404, "unknown model 'nope'"),
    ("/v2/models/fashion-mlp/versions/2/infer", json_input(), {}, 404, "no version '2'"),
    ("/v2/models/nope", None, {}, 404, "unknown model 'nope'"),
    (INFER, json_input(name="pixels"), {}, 400, "unknown input 'pixels'"),
    (INFER, json_input(datatype="INT32", data=[0] * 784), {}, 400, "datatype INT32"),
    (INFER, json_input(shape=(1, 1, 28, 27), data=[0.0] * 756), {}, 400, "shape [1, 1, 28, 27]"),
    (INFER, json_input(data=[0.0] * 783), {}, 400, "783 elements"),
    (INFER, json_input(data=["a"] * 784), {}, 400, "not FP32"),
    (INFER, json_input(datatype="FLOAT"), {}, 400, "unknown datatype 'FLOAT'"),
    (INFER, json_input(shape=(1, -1, 28, 28)), {}, 400, "non-negative integers"),
    (INFER, json_input(shape=(65, 1, 28, 28), data=[0.0] * 65 * 784), {}, 400, "a batch of 65"),
    (INFER, json_input(data=[1e39] + ZEROS[1:]), {}, 400, "non-finite"),
    (INFER, nan_json(), {"Content-Type": "application/json"}, 400, "NaN"),
    (INFER, *binary_body(struct.pack("<f", float("inf")) + bytes(783 * 4)), 400, "non-finite"),
    (INFER, *binary_body(bytes(100)), 400, "100 bytes of data"),
    (INFER, *binary_body(bytes(3136), size=4000), 400, "binary_data_size 4000"),
    (INFER, *binary_body(struct.pack("<I", 5) + b"hello", shape=(1,), datatype="BYTES"), 400, "not an image"),
    (INFER, *binary_body(struct.pack("<I", 9) + b"hi", shape=(1,), datatype="BYTES"), 400, "runs past"),
    (INFER, b"{not json", {}, 400, "not valid JSON"),
    (INFER, b"[1, 2]", {}, 400, "JSON object"),
    (INFER, b"[" * 100_000 + b"]" * 100_000, {}, 400, "JSON"),
    (INFER, {"inputs": []}, {}, 400, "'inputs'"),
    (INFER, {**json_input(), "outputs": [{"name": "probs"}]}, {}, 400, "unknown output 'probs'"),
    (
        INFER,
        {**json_input(), "outputs": [{"name": "logits", "parameters": {"classification": 0}}]},
        {},
        400,
        "classification",
    ),
    (INFER, {**json_input(), "id": 7}, {}, 400, "'id'"),
    (INFER, json_input(), {"Content-Encoding": "gzip"}, 400, "not valid gzip"),
    (INFER, json_input(), {"Content-Encoding": "br"}, 400, "Content-Encoding 'br'"),
    (INFER, None, {"Content-Length": "0"}, 400, "not valid JSON"),
    (
        "/v2/models/linear-regression/infer",
        {**json_input(data=[1.0], shape=(1, 1)), "outputs": [{"name": "logits", "parameters": {"classification": 2}}]},
        {},
        400,
        "no classifier",
    ),  # noqa: E501
    ("/v2/nowhere", None, {}, 404, "no route"),
]


@pytest.fixture(scope="module")
def server():
    # a 2 ms window: the 64 clients below are Python threads, slow enough to arrive one by one otherwise
    served = start(REFERENCE_BUNDLE, TABULAR, "--max-batch", "64", "--max-body-mb", "4", "--max-delay-ms", "2")
    yield served
    assert served.stop() == 0


@pytest.mark.parametrize("path, body, headers, status, words", BAD_REQUESTS, ids=[r[4] for r in BAD_REQUESTS])
def test_a_bad_request_gets_the_protocols_error_form(server, path, body, headers, status, words):
    method = "GET" if body is None and path.endswith(("nope", "nowhere")) else "POST"
    found, answer, _ = request(server, method, path, body, headers)
    assert found == status and set(answer) == {"error"}, answer
    assert words in answer["error"] and "\n" not in answer["error"] and "Traceback" not in answer["error"]
    assert request(server, "GET", "/v2/health/ready")[0] == 200


def test_a_body_over_the_limit_is_refused_before_it_is_read(server):
    connection = http.client.HTTPConnection(server.http, timeout=10)
    connection.putrequest("POST", INFER)
    connection.putheader("Content-Length", str(5 * 2**20))  # the body itself never comes
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 413 and "over this server's limit of 4194304" in json.loads(response.read())["error"]
    connection.close()
    assert request(server, "POST", INFER, json_input())[0] == 200


def test_the_server_keeps_serving_after_bad_requests_over_grpc(server):
    client = grpcclient.InferenceServerClient(server.grpc)
    tensor = grpcclient.InferInput("input", [1, 1, 28, 27], "FP32")
    tensor.set_data_from_numpy(np.zeros((1, 1, 28, 27), np.float32))
    for name, inputs, code in (("nope", [tensor], "NOT_FOUND"), ("fashion-mlp", [tensor], "INVALID_ARGUMENT")):
        with pytest.raises(InferenceServerException, match=code):
            client.infer(name, inputs)
    assert request(server, "GET", INFER)[0] == 405
    good = grpcclient.InferInput("input", [1, 1, 28, 28], "FP32")
    good.set_data_from_numpy(np.zeros((1, 1, 28, 28), np.float32))
    assert client.infer("fashion-mlp", [good]).as_numpy("logits").shape == (1, 10)


def test_64_concurrent_clients_each_get_their_own_answer(server):
    predictor = Predictor(REFERENCE_BUNDLE)
    inputs = np.random.default_rng(1).random((64, 1, 1, 28, 28), dtype=np.float32)
    expected = [predictor.run(x) for x in inputs]
    wrong, errors = [], []

    def client(index: int):
        module = httpclient if index % 2 else grpcclient
        connection = module.InferenceServerClient(server.http if index % 2 else server.grpc)
        tensor = module.InferInput("input", [1, 1, 28, 28], "FP32")
        tensor.set_data_from_numpy(inputs[index])
        try:
            for _ in range(8):
                answer = connection.infer("fashion-mlp", [tensor]).as_numpy("logits")
                if not np.allclose(answer, expected[index], rtol=1e-5, atol=1e-5):
                    wrong.append(index)
        except Exception as exc:  # noqa: BLE001 - reported below with the client's index
            errors.append(f"{index}: {exc}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(64)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors and not wrong, (errors[:3], wrong[:10])
    metrics = request(server, "GET", "/metrics")[1].decode()
    count = float(metric(metrics, 'tk_inference_batch_size_count{model="fashion-mlp"}'))
    rows = float(metric(metrics, 'tk_inference_batch_size_sum{model="fashion-mlp"}'))
    assert rows / count > 1.0, "concurrent requests were never merged into one batch"


def metric(text: str, name: str) -> str:
    return next(line.split()[-1] for line in text.splitlines() if line.startswith(name + " "))


def test_metrics_count_requests_by_model_protocol_and_outcome(server):
    request(server, "POST", "/v2/models/made-up/infer", json_input())
    request(server, "POST", INFER, json_input())
    text = request(server, "GET", "/metrics")[1].decode()
    assert (
        float(metric(text, 'tk_inference_requests_total{model="fashion-mlp",outcome="success",protocol="rest"}')) >= 1
    )
    assert float(metric(text, 'tk_inference_requests_total{model="",outcome="not_found",protocol="rest"}')) >= 1
    assert "made-up" not in text  # a client cannot add labels
    for name in ("tk_inference_request_duration_seconds", "tk_inference_queue_duration_seconds"):
        assert f'{name}_count{{model="fashion-mlp"' in text


def test_a_token_guards_every_route_but_health(tmp_path):
    (tmp_path / "token").write_text("s3cret-token\n")
    served = start(REFERENCE_BUNDLE, "--token-file", tmp_path / "token")
    try:
        assert request(served, "GET", "/v2/health/live")[0] == 200
        for path in ("/v2", "/v2/models/fashion-mlp", "/metrics"):
            assert request(served, "GET", path)[0] == 401
            assert request(served, "GET", path, headers={"Authorization": "Bearer wrong"})[0] == 401
            assert request(served, "GET", path, headers={"Authorization": "Bearer s3cret-token"})[0] == 200
        status, answer, headers = request(served, "POST", INFER, json_input())
        assert status == 401 and "Bearer" in answer["error"] and headers["WWW-Authenticate"] == "Bearer"
        client = grpcclient.InferenceServerClient(served.grpc)
        assert client.is_server_live()
        with pytest.raises(InferenceServerException, match="UNAUTHENTICATED"):
            client.get_model_metadata("fashion-mlp")
        assert client.get_model_metadata("fashion-mlp", headers={"authorization": "Bearer s3cret-token"}).name
    finally:
        assert served.stop() == 0


def test_sigterm_finishes_what_is_in_flight_and_exits_0():
    served = start(REFERENCE_BUNDLE, "--max-delay-ms", "800")  # a lone request waits 0.8 s for company
    answers = []
    image = (SAMPLES / "sandal-8.png").read_bytes()

    def call():
        body, headers = binary_body(struct.pack("<I", len(image)) + image, shape=(1,), datatype="BYTES")
        answers.append(request(served, "POST", INFER, body, headers))

    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(0.3)
    started = time.monotonic()
    assert served.stop() == 0
    caller.join(10)
    assert time.monotonic() - started < 5
    status, answer, _ = answers[0]
    assert status == 200 and np.argmax(answer["outputs"][0]["data"]) == 5  # Sandal
    assert "stopped" in served.process.stderr.read()


def test_a_bad_bundle_stops_the_start_with_one_line(tmp_path):
    bundle = shutil.copytree(REFERENCE_BUNDLE, tmp_path / "bundle")
    with open(bundle / "model.onnx", "r+b") as f:
        f.write(b"\x00" * 16)
    with pytest.raises(AssertionError, match=r"exited 1: tk: error: .*model.onnx: sha256 does not match"):
        start(bundle)
    twin = shutil.copytree(REFERENCE_BUNDLE, tmp_path / "twin")
    with pytest.raises(AssertionError, match=r"exited 2: (?s:.*)tk: error: [^\n]*second bundle of model 'fashion-mlp'"):
        start(REFERENCE_BUNDLE, twin)
