"""The gRPC load for tk bench --serving: N concurrent ModelInfer calls from tritonclient's asyncio client,
each sent again as soon as it is answered, for S seconds; prints requests/s and latency percentiles as JSON.

No gRPC load generator installs here (ghz is a Go binary from the internet), so this is a bounded asyncio
loop over the stock client, run as its own process: python -m toolkit.bench.grpc_load ADDRESS N S.
The client is Python, so at high concurrency it, not the server, may set the pace; the same loop drives
every server, which keeps the comparison fair, and BENCHMARKS.md says so.
"""

import asyncio
import json
import sys
import time

import numpy as np
import tritonclient.grpc.aio as grpcclient

from toolkit.runtime import Predictor

MODEL = "fashion-mlp"


def sample() -> np.ndarray:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    return Predictor(root / "exported" / MODEL, device="cpu").preprocess(root / "samples" / "bag-18.png")[None]


def answer_class(response) -> int:
    """The argmax of the first output, from raw_output_contents (tk serve, MLServer) or typed contents (KServe's
    Python server answers so: both are the protocol's)."""
    if response.raw_output_contents:
        return int(np.argmax(np.frombuffer(response.raw_output_contents[0], dtype="<f4")))
    return int(np.argmax(response.outputs[0].contents.fp32_contents))


async def load(address: str, clients: int, seconds: float) -> dict:
    pixels = sample()
    client = grpcclient.InferenceServerClient(address)
    tensor = grpcclient.InferInput("input", list(pixels.shape), "FP32")
    tensor.set_data_from_numpy(pixels)
    found = answer_class((await client.infer(MODEL, [tensor])).get_response())
    latencies, errors = [], 0
    stop = time.perf_counter() + seconds

    async def one_client():
        nonlocal errors
        while time.perf_counter() < stop:
            started = time.perf_counter()
            try:
                await client.infer(MODEL, [tensor])
                latencies.append(time.perf_counter() - started)
            except Exception:  # counted, as wrk counts non-2xx answers
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(one_client() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    await client.close()
    ms = np.array(latencies) * 1000
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "errors": errors,
        "class": found,
    }


if __name__ == "__main__":
    address, clients, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    print(json.dumps(asyncio.run(load(address, clients, seconds))))
