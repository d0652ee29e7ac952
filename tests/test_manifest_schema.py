"""schema/manifest.schema.json: what the reader builds it from, as strict as the reader, and usable from Node (ajv)."""

import copy
import json
import shutil
import subprocess
from dataclasses import fields

import jsonschema
import pytest

from toolkit.errors import BundleError
from toolkit.runtime import manifest_schema
from toolkit.runtime.schema import Manifest, Preprocessing
from toolkit.runtime.text import TokenizerSpec

from conftest import REPO

SCHEMA = json.loads((REPO / "schema" / "manifest.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
COMMITTED = sorted((REPO / "exported").glob("*/manifest.json"))
NODE_EXAMPLE = REPO / "examples" / "node"


def committed(name: str) -> dict:
    return json.loads((REPO / "exported" / name / "manifest.json").read_text())


def reader_accepts(data: dict) -> bool:
    try:
        Manifest.from_dict(data)
        return True
    except BundleError:
        return False


def test_the_committed_schema_is_what_the_reader_builds():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert (REPO / "schema" / "manifest.schema.json").read_text() == manifest_schema.dumps(), (
        "schema/manifest.schema.json is stale: python -m toolkit.runtime.manifest_schema --write"
    )


def test_the_schema_names_the_dataclasses_fields():
    assert set(SCHEMA["properties"]) == {f.name for f in fields(Manifest)}
    nested = SCHEMA["properties"]
    assert set(nested["preprocessing"]["anyOf"][0]["properties"]) == {f.name for f in fields(Preprocessing)}
    assert set(nested["tokenizer"]["anyOf"][0]["properties"]) == {f.name for f in fields(TokenizerSpec)}


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.parent.name)
def test_every_committed_manifest_passes(path):
    errors = [e.message for e in VALIDATOR.iter_errors(json.loads(path.read_text()))]
    assert not errors, errors


@pytest.mark.parametrize("name", ["fashion-mlp", "review-sentiment", "multivariate-regression"])
def test_each_field_is_required_by_the_schema_when_the_reader_needs_it(name):
    """Drop each top-level field in turn: the schema refuses exactly what the reader refuses."""
    manifest = committed(name)
    for key in list(manifest):
        dropped = {k: v for k, v in manifest.items() if k != key}
        assert VALIDATOR.is_valid(dropped) == reader_accepts(dropped), key


def mutations():
    sha = "model.onnx"
    return {
        "short sha256": lambda m: m["files"][sha].update(sha256="abc"),
        "upper-case sha256": lambda m: m["files"][sha].update(sha256=m["files"][sha]["sha256"].upper()),
        "a file no bundle holds": lambda m: m["files"].update({"../evil.so": m["files"][sha]}),
        "an unknown field": lambda m: m.update(extra=1),
        "an unknown task": lambda m: m.update(task="ranking"),
        "a format's wrong file": lambda m: m["formats"].update(onnx="other.onnx"),
        "an unknown format": lambda m: m["formats"].update(tflite="model.tflite"),
        "two channels": lambda m: m["preprocessing"].update(channels=2),
        "a zero scale": lambda m: m["preprocessing"].update(scale=0),
        "an unknown resize": lambda m: m["preprocessing"].update(resize="stretch"),
        "a negative std": lambda m: m["preprocessing"].update(mean=[0.5], std=[-1.0]),
        "the batch dim missing": lambda m: m["input"].update(shape=[1, 28, 28]),
        "a float32 label": lambda m: m["labels"].__setitem__(0, 3.0),
        "a newer schema": lambda m: m.update(schema_version=2),
        "a bool as a size": lambda m: m["preprocessing"].update(size=True),
        "a file entry's extra key": lambda m: m["files"][sha].update(mode="0755"),
    }


@pytest.mark.parametrize("problem", sorted(mutations()))
def test_what_the_reader_refuses_the_schema_refuses(problem):
    manifest = copy.deepcopy(committed("fashion-mlp"))
    mutations()[problem](manifest)
    assert not reader_accepts(manifest)
    assert not VALIDATOR.is_valid(manifest)


def test_node_validates_manifests_with_ajv(tmp_path):
    if shutil.which("node") is None or not (NODE_EXAMPLE / "node_modules" / "ajv").is_dir():
        pytest.skip("node or examples/node/node_modules missing (scripts/setup.sh installs them)")
    broken = committed("fashion-mlp")
    broken["files"]["model.onnx"]["sha256"] = "not a digest"
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    files = [*map(str, COMMITTED), str(tmp_path / "broken.json")]
    done = subprocess.run(["node", "validate.js", *files], cwd=NODE_EXAMPLE, capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:-1] == [f"{path}: valid" for path in COMMITTED]
    assert lines[-1].startswith(f"{tmp_path / 'broken.json'}: invalid: /files/model.onnx/sha256 must match pattern")
