"""Prometheus metrics at /metrics (prometheus-client), in a registry of the server's own.

Model labels are only ever the served models' names ("" for a name that is not served), so that a
client cannot grow the label set by asking for made-up models; loads are counted by the repository's
model names (folders on the server's own disk).
"""

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
OUTCOMES = {200: "success", 400: "bad_request", 404: "not_found", 413: "too_large", 503: "busy"}


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self, served):
        self.known = served  # a live mapping: the names served now
        self.children = {}
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "tk_inference_requests", "Inference requests by model, protocol and outcome.",
            ["model", "protocol", "outcome"], registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "tk_inference_request_duration_seconds", "Time from a request's arrival to its answer.",
            ["model", "protocol"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.queue = Histogram(
            "tk_inference_queue_duration_seconds", "Time a request waited for its batch to start.",
            ["model"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.batches = Histogram(
            "tk_inference_batch_size", "Rows per ONNX Runtime call (requests merged by dynamic batching).",
            ["model"], buckets=BATCH_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.loads = Counter(
            "tk_model_loads", "Model version loads, at the start and while serving, by model and outcome.",
            ["model", "outcome"], registry=self.registry,
        )  # fmt: skip

    def model_load(self, model: str, ok: bool):
        self.loads.labels(model, "success" if ok else "failure").inc()

    def label(self, model: str) -> str:
        return model if model in self.known else ""

    def request(self, model: str, protocol: str, status: int, seconds: float):
        model = self.label(model)
        self._child(self.requests, model, protocol, OUTCOMES.get(status, "error")).inc()
        if status == 200:
            self._child(self.latency, model, protocol).observe(seconds)

    def queue_time(self, model: str, seconds: float):
        self._child(self.queue, model).observe(seconds)

    def batch_size(self, model: str, rows: int):
        self._child(self.batches, model).observe(rows)

    def _child(self, metric, *labels):
        """metric.labels(*labels), kept: looking a child up takes a lock and builds a key on every request."""
        key = (metric, labels)
        child = self.children.get(key)
        if child is None:
            child = self.children[key] = metric.labels(*labels)
        return child

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
