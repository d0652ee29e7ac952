"""Check a YAML InferenceService against the KServe SDK's own models, strictly: every field must be one the
SDK's generated model (or the Kubernetes client's, which it builds on) declares, with the declared type,
and every model is constructed, so a missing required field fails too. Runs in the KServe SDK's venv:

    runs/peers/kserve/bin/python tests/data/kserve_check.py deploy/kserve.yaml
"""

import re
import sys

import kserve.models as kserve_models
import kubernetes.client.models as k8s_models
import yaml

PRIMITIVES = {"str": str, "int": int, "bool": bool, "float": (int, float), "object": object}


def build(value, type_name: str, where: str):
    """`value` (from YAML) as the SDK's `type_name`, or SystemExit naming the field at fault."""
    if match := re.fullmatch(r"[Ll]ist\[(.+)\]", type_name):
        if not isinstance(value, list):
            sys.exit(f"{where}: a list expected, got {value!r}")
        return [build(item, match.group(1), f"{where}[{i}]") for i, item in enumerate(value)]
    if match := re.fullmatch(r"dict\((\w+), (.+)\)|Dict\[(\w+), (.+)\]", type_name):
        if not isinstance(value, dict):
            sys.exit(f"{where}: a mapping expected, got {value!r}")
        item_type = match.group(2) or match.group(4)
        return {key: build(item, item_type, f"{where}.{key}") for key, item in value.items()}
    if type_name in PRIMITIVES:
        if not isinstance(value, PRIMITIVES[type_name]) or (type_name == "int" and isinstance(value, bool)):
            sys.exit(f"{where}: {type_name} expected, got {value!r}")
        return value
    model = getattr(kserve_models, type_name, None) or getattr(k8s_models, type_name, None)
    if model is None:
        sys.exit(f"{where}: the SDK has no model {type_name}")
    if not isinstance(value, dict):
        sys.exit(f"{where}: a {type_name} mapping expected, got {value!r}")
    by_key = {key: attribute for attribute, key in model.attribute_map.items()}
    unknown = sorted(set(value) - set(by_key))
    if unknown:
        sys.exit(f"{where}: {type_name} has no field {unknown[0]!r}")
    fields = {by_key[k]: build(v, model.openapi_types[by_key[k]], f"{where}.{k}") for k, v in value.items()}
    try:
        return model(**fields)
    except ValueError as exc:  # a required field missing, a value out of its enumeration
        sys.exit(f"{where}: {exc}")


if __name__ == "__main__":
    documents = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
    if len(documents) != 1 or documents[0].get("kind") != "InferenceService":
        sys.exit(f"{sys.argv[1]}: one InferenceService expected")
    service = build(documents[0], "V1beta1InferenceService", "InferenceService")
    print(type(service).__name__, service.metadata.name)
