"""The manifests written beside an image: deploy/k8s.yaml (a Deployment and its Service) and deploy/kserve.yaml
(a KServe InferenceService running the image as its custom container, Open Inference Protocol v2).

Both run the container as locked down as `podman run --read-only --cap-drop=ALL` does: non-root, read-only
root file system, no capabilities, no privilege escalation, bounded CPU and memory. The token, when the
image wants one, comes from a Secret mounted where the image reads it.
"""

import json
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from toolkit.deploy.context import GRPC_PORT, HEALTH, REST_PORT
from toolkit.deploy.prune import USER_ID
from toolkit.errors import UsageError
from toolkit.serve.server import DRAIN_SECONDS

LIVE = "/v2/health/live"
GRACE_SECONDS = 3 * DRAIN_SECONDS  # longer than the drain: Kubernetes kills what is still running after it
REQUESTS = {"cpu": "500m", "memory": "128Mi"}
LIMITS = {"cpu": "1", "memory": "256Mi"}  # the memory tk image's tests run the container in


@dataclass(frozen=True)
class Workload:
    image: str  # the image reference the cluster pulls
    name: str  # the Kubernetes name: a DNS label
    token_file: str | None = None  # where the image reads its token

    @classmethod
    def for_image(cls, image: str, token_file=None) -> "Workload":
        return cls(image, kubernetes_name(image), token_file)


def kubernetes_name(image: str) -> str:
    """registry.example.com/team/tk-fashion-mlp:1 -> tk-fashion-mlp (a DNS-1123 label)."""
    last = image.rsplit("/", 1)[-1].split("@")[0].split(":")[0]
    name = re.sub(r"[^a-z0-9-]+", "-", last.lower()).strip("-")[:63].strip("-")
    return name or "tk-serve"


def check_token_path(path: str) -> str:
    """The token's path inside the container: absolute, in a folder of its own (a Secret volume covers it)."""
    pure = PurePosixPath(path)
    if not re.fullmatch(r"[\w./-]+", path) or not pure.is_absolute() or ".." in pure.parts or len(pure.parts) < 3:
        raise UsageError(f"--token-file {path}: must be an absolute path in the container, e.g. /run/secrets/tk/token")
    if pure.parts[1] in ("models", "opt", "usr", "etc", "proc", "sys", "dev"):
        raise UsageError(f"--token-file {path}: mount the secret outside /{pure.parts[1]}, e.g. /run/secrets/tk/token")
    return path


def security_context() -> dict:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": USER_ID,
        "runAsGroup": USER_ID,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container(workload: Workload, name: str) -> dict:
    spec = {
        "name": name,
        "image": workload.image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [
            {"name": "http", "containerPort": REST_PORT, "protocol": "TCP"},
            {"name": "grpc", "containerPort": GRPC_PORT, "protocol": "TCP"},
        ],
        "readinessProbe": {"httpGet": {"path": HEALTH, "port": REST_PORT}, "periodSeconds": 5},
        "livenessProbe": {"httpGet": {"path": LIVE, "port": REST_PORT}, "periodSeconds": 10, "failureThreshold": 3},
        "resources": {"requests": dict(REQUESTS), "limits": dict(LIMITS)},
        "securityContext": security_context(),
    }
    if workload.token_file:
        folder = str(PurePosixPath(workload.token_file).parent)
        spec["volumeMounts"] = [{"name": "token", "mountPath": folder, "readOnly": True}]
    return spec


def token_volumes(workload: Workload) -> list:
    if not workload.token_file:
        return []
    secret = {"secretName": f"{workload.name}-token", "items": [{"key": "token", "path": token_name(workload)}]}
    return [{"name": "token", "secret": secret}]


def token_name(workload: Workload) -> str:
    return PurePosixPath(workload.token_file).name


def labels(workload: Workload) -> dict:
    return {"app.kubernetes.io/name": workload.name, "app.kubernetes.io/component": "model-server"}


def scrape_annotations() -> dict:
    return {"prometheus.io/scrape": "true", "prometheus.io/port": str(REST_PORT), "prometheus.io/path": "/metrics"}


def deployment(workload: Workload, replicas: int = 2) -> dict:
    pod = {
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": GRACE_SECONDS,
        "securityContext": {"runAsNonRoot": True, "runAsUser": USER_ID, "runAsGroup": USER_ID},
        "containers": [container(workload, "tk-serve")],
    }
    if workload.token_file:
        pod["volumes"] = token_volumes(workload)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": workload.name, "labels": labels(workload)},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": workload.name}},
            "template": {"metadata": {"labels": labels(workload), "annotations": scrape_annotations()}, "spec": pod},
        },
    }


def service(workload: Workload) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": workload.name, "labels": labels(workload)},
        "spec": {
            "selector": {"app.kubernetes.io/name": workload.name},
            "ports": [
                {"name": "http", "port": REST_PORT, "targetPort": "http", "protocol": "TCP"},
                {"name": "grpc", "port": GRPC_PORT, "targetPort": "grpc", "appProtocol": "kubernetes.io/h2c"},
            ],
        },
    }


def inference_service(workload: Workload) -> dict:
    """KServe's InferenceService: the image as the predictor's custom container. RawDeployment mode, the
    one that exposes the REST and gRPC ports together (Knative takes a single port)."""
    serving = container(workload, "kserve-container")
    serving["ports"] = [
        {"name": "http1", "containerPort": REST_PORT, "protocol": "TCP"},
        {"name": "h2c", "containerPort": GRPC_PORT, "protocol": "TCP"},
    ]
    predictor = {"minReplicas": 1, "maxReplicas": 4, "containers": [serving]}
    if workload.token_file:
        predictor["volumes"] = token_volumes(workload)
    annotations = {"serving.kserve.io/deploymentMode": "RawDeployment", **scrape_annotations()}
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": workload.name, "annotations": annotations},
        "spec": {"predictor": predictor},
    }


def to_yaml(value, indent: int = 0) -> str:
    """A small YAML writer for what the manifests hold (dicts, lists, strings, numbers, booleans): strings
    in JSON's double quotes, which YAML reads as the same strings."""
    pad = " " * indent
    if isinstance(value, dict):
        lines = []
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{pad}{key}:\n{to_yaml(item, indent + 2)}")
            else:
                lines.append(f"{pad}{key}: {scalar(item)}")
        return "\n".join(lines)
    lines = []
    for item in value:
        if isinstance(item, (dict, list)) and item:
            nested = to_yaml(item, indent + 2)
            lines.append(f"{pad}- {nested[indent + 2 :]}")
        else:
            lines.append(f"{pad}- {scalar(item)}")
    return "\n".join(lines)


def scalar(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (dict, list)):  # empty
        return "{}" if isinstance(value, dict) else "[]"
    return json.dumps(str(value))


def manifests(workload: Workload) -> dict:
    """{file name: text} for deploy/."""
    note = "# Written by tk image for {image}.{token}\n"
    token = ""
    if workload.token_file:
        token = (
            f"\n# The token: kubectl create secret generic {workload.name}-token --from-file=token=TOKEN_FILE"
            "\n# (Prometheus then scrapes /metrics with it as a bearer token)."
        )
    head = note.format(image=workload.image, token=token)
    k8s = head + "---\n" + to_yaml(deployment(workload)) + "\n---\n" + to_yaml(service(workload)) + "\n"
    kserve = head + "---\n" + to_yaml(inference_service(workload)) + "\n"
    return {"k8s.yaml": k8s, "kserve.yaml": kserve}
