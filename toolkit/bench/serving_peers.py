"""The servers tk bench --serving compares, how each starts, and the request body each takes per payload.

tk serve runs from this interpreter; the peers from their own venvs under PEERS_DIR (scripts/serve_peers.sh
makes them: kserve, mlserver, fastapi) with their scripts from scripts/peers/. A peer whose venv is
missing is left out and said so; so is a payload a peer does not speak.
"""

import base64
import json
import socket
import sys
import tempfile
from pathlib import Path

import numpy as np

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts" / "peers"
JSON_HEADERS = {"Content-Type": "application/json"}
BARE, WORKERS = "bare stack", "tk serve --workers 2"  # what tk serve is measured against, not peers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def v2_json(pixels: np.ndarray) -> bytes:
    tensor = {"name": "input", "datatype": "FP32", "shape": list(pixels.shape), "data": pixels.ravel().tolist()}
    return json.dumps({"inputs": [tensor]}).encode()


def v2_binary(datatype: str, shape: list, raw: bytes, binary_output: bool = True) -> tuple:
    """Triton's binary tensor data extension: the JSON header, then the input's bytes."""
    tensor = {"name": "input", "datatype": datatype, "shape": shape, "parameters": {"binary_data_size": len(raw)}}
    header = {"inputs": [tensor], "outputs": [{"name": "logits", "parameters": {"binary_data": binary_output}}]}
    text = json.dumps(header).encode()
    return text + raw, {"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": str(len(text))}


def answer_class(body: bytes) -> int:
    """The argmax of the first output, from a JSON answer or one with binary outputs after its JSON."""
    if body[:1] == b"{":
        try:
            answer = json.loads(body)
        except ValueError:  # binary outputs follow the JSON header
            header_end = json.JSONDecoder().raw_decode(body.decode("latin-1"))[1]
            return int(np.argmax(np.frombuffer(body[header_end:], dtype="<f4")))
        return int(np.argmax(answer["outputs"][0]["data"]))
    raise ValueError(f"not an answer: {body[:80]!r}")


def servers(bundle: Path, peers_dir: Path, pixels: np.ndarray, png: bytes) -> tuple:
    """([server], [what is not measured and why])."""
    peers_dir = Path(peers_dir).resolve()
    json_body = v2_json(pixels)
    png_base64 = {"name": "input", "datatype": "BYTES", "shape": [1], "parameters": {"content_type": "base64"}}
    png_base64 = json.dumps({"inputs": [{**png_base64, "data": [base64.b64encode(png).decode()]}]}).encode()
    binary = v2_binary("FP32", list(pixels.shape), pixels.astype("<f4").tobytes())
    png_binary = v2_binary("BYTES", [1], len(png).to_bytes(4, "little") + png)
    found, skipped = [], []
    port, grpc_port = free_port(), free_port()
    infer = f"http://127.0.0.1:{port}/v2/models/fashion-mlp/infer"
    tk = [sys.executable, "-m", "toolkit", "serve", str(bundle), "--port", str(port), "--grpc-port", str(grpc_port)]
    payloads = {"json": (infer, json_body, JSON_HEADERS), "binary": (infer, *binary), "png": (infer, *png_binary)}
    found.append(_server("tk serve", tk, port, payloads, grpc=grpc_port))
    found += [_bare(json_body), _workers(bundle, json_body)]
    for name, make in (("KServe", _kserve), ("MLServer", _mlserver), ("plain FastAPI", _fastapi)):
        venv = peers_dir / name.split()[-1].lower()
        if not (venv / "bin" / "python").exists():
            skipped.append(f"{name}: no venv at {venv} (scripts/serve_peers.sh makes it)")
            continue
        server, not_spoken = make(venv, bundle, free_port(), json_body, binary, png, png_base64)
        found.append(server)
        skipped += not_spoken
    return found, skipped


def _server(name, command, port, payloads, ready_path="/v2/health/ready", cwd=None, grpc=None, check=True) -> dict:
    payloads = {
        k: (url, body, headers, answer_class if check else None) for k, (url, body, headers) in payloads.items()
    }
    return {
        "name": name,
        "command": command,
        "cwd": cwd,
        "ready": f"http://127.0.0.1:{port}{ready_path}",
        "payloads": payloads,
        "grpc": f"127.0.0.1:{grpc}" if grpc else None,
    }


def _bare(json_body) -> dict:
    """The bare HTTP stack tk serve stands on, with no model (its answer is ten zeros: not checked)."""
    port = free_port()
    payloads = {"json": (f"http://127.0.0.1:{port}/v2/models/fashion-mlp/infer", json_body, JSON_HEADERS)}
    return _server(BARE, [sys.executable, SCRIPTS / "bare_stack.py", str(port)], port, payloads, check=False)


def _workers(bundle, json_body) -> dict:
    port = free_port()
    command = [sys.executable, "-m", "toolkit", "serve", str(bundle), "--port", str(port), "--grpc-port", "0"]
    payloads = {"json": (f"http://127.0.0.1:{port}/v2/models/fashion-mlp/infer", json_body, JSON_HEADERS)}
    return _server(WORKERS, [*command, "--workers", "2"], port, payloads)


def _kserve(venv, bundle, port, json_body, binary, png, png_base64) -> tuple:
    infer = f"http://127.0.0.1:{port}/v2/models/fashion-mlp/infer"
    grpc_port = free_port()
    command = [venv / "bin" / "python", SCRIPTS / "kserve_onnx.py", bundle, str(port), str(grpc_port)]
    payloads = {
        "json": (infer, json_body, JSON_HEADERS),
        "binary": (infer, *binary),
        "png": (infer, png_base64, JSON_HEADERS),
    }
    not_spoken = [
        "KServe, png: sent as base64 text in JSON; KServe 0.21 fails on a binary BYTES input ('Failed to encode')"
    ]
    return _server("KServe", command, port, payloads, grpc=grpc_port), not_spoken


def _mlserver(venv, bundle, port, json_body, binary, png, png_base64) -> tuple:
    folder = Path(tempfile.mkdtemp(prefix="tk-mlserver-"))
    (folder / "onnx_runtime.py").write_text((SCRIPTS / "mlserver" / "onnx_runtime.py").read_text())
    # parallel_workers 0: MLServer 1.7.1's default worker pool dies here at start-up ("There is no current
    # event loop in thread 'MainThread'"), so inference runs in the server's own process
    grpc_port = free_port()
    settings = {"http_port": port, "grpc_port": grpc_port, "metrics_port": free_port(), "parallel_workers": 0}
    (folder / "settings.json").write_text(json.dumps(settings))
    model = {"name": "fashion-mlp", "implementation": "onnx_runtime.OnnxModel", "parameters": {"uri": str(bundle)}}
    (folder / "model-settings.json").write_text(json.dumps(model))
    infer = f"http://127.0.0.1:{port}/v2/models/fashion-mlp/infer"
    payloads = {"json": (infer, json_body, JSON_HEADERS), "png": (infer, png_base64, JSON_HEADERS)}
    command = [venv / "bin" / "mlserver", "start", str(folder)]
    not_spoken = [
        "MLServer, binary: its REST API does not implement Triton's binary tensor data extension",
        "MLServer, png: sent as base64 text in JSON (its codecs' way for BYTES over REST)",
        "MLServer runs with parallel_workers 0: its default worker pool dies at start-up here (1.7.1)",
    ]
    return _server("MLServer", command, port, payloads, cwd=folder, grpc=grpc_port), not_spoken


def _fastapi(venv, bundle, port, json_body, binary, png, png_base64) -> tuple:
    base = f"http://127.0.0.1:{port}"
    payloads = {
        "json": (f"{base}/v2/models/fashion-mlp/infer", json_body, JSON_HEADERS),
        "png": (f"{base}/predict_png", png, {"Content-Type": "image/png"}),
    }
    command = [venv / "bin" / "python", SCRIPTS / "plain_fastapi.py", bundle, str(port)]
    not_spoken = [
        "plain FastAPI, binary: the plain server a user writes first speaks JSON only; its PNG route takes the raw file"
    ]
    return _server("plain FastAPI", command, port, payloads, ready_path="/docs"), not_spoken
