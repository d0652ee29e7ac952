"""tk serve's REST surface fuzzed by schemathesis against the protocol's own OpenAPI file
(tests/data/open_inference_rest.yaml, from kserve/open-inference-protocol, Apache 2.0): no 5xx, no hang,
and the server still serving afterwards.

Two adaptations, both needed for the generated requests to reach the server's code at all: the file's
path templates read `${MODEL_NAME}` (a `$` OpenAPI would send literally), so `{MODEL_NAME}` is used; and
the model name and version are drawn from the served ones plus one made up, so that most cases reach
the metadata and infer handlers rather than the unknown-model answer.
"""

import json

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from conftest import REFERENCE_BUNDLE, REPO
from serving import request, start

SPEC = REPO / "tests" / "data" / "open_inference_rest.yaml"
NAMES = {"MODEL_NAME": ["fashion-mlp", "linear-regression", "nope"], "MODEL_VERSION": ["1", "2"]}


def adapted_spec() -> dict:
    spec = json.loads(json.dumps(yaml.safe_load(SPEC.read_text())).replace("${", "{"))
    for path in spec["paths"].values():
        for parameter in path.get("parameters", []):
            if parameter["name"] in NAMES:
                parameter["schema"] = {"type": "string", "enum": NAMES[parameter["name"]]}
    return spec


schema = schemathesis.openapi.from_dict(adapted_spec())
schema.config.generation.update(modes=list(GenerationMode))  # valid requests and invalid ones


@pytest.fixture(scope="module")
def server():
    served = start(REFERENCE_BUNDLE, REFERENCE_BUNDLE.parent / "linear-regression", "--max-body-mb", "1")
    yield served
    status, _, _ = request(served, "GET", "/v2/health/ready")
    assert status == 200, "the server stopped serving under fuzzing"
    assert served.stop() == 0


@schema.parametrize()
@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_the_protocol_describes_makes_the_server_fail(case, server):
    response = case.call(base_url=server.url, timeout=10)
    case.validate_response(response, checks=[not_a_server_error])
    if response.status_code >= 400:
        assert set(response.json()) == {"error"}, response.text
