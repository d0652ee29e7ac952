"""A bundle is untrusted input: confined file names, a validated manifest, and graphs checked against it."""

import json
import os
import pickle
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import onnx
import pytest

from conftest import REFERENCE_BUNDLE, SAMPLES, quiet, rehash

SANDAL = SAMPLES / "sandal-8.png"


@pytest.fixture
def hostile(tmp_path):
    """A private copy of the reference bundle, and a way to rewrite its manifest."""
    bundle_dir = tmp_path / "bundle"
    shutil.copytree(REFERENCE_BUNDLE, bundle_dir)

    def rewrite(change):
        manifest = json.loads((bundle_dir / "manifest.json").read_text())
        change(manifest)
        (bundle_dir / "manifest.json").write_text(json.dumps(manifest))
        return bundle_dir

    return rewrite


def one_line_error(result, *fragments):
    assert result.exit_code == 1, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("tk: error: ") and "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in line, line


@pytest.mark.parametrize(
    "name",
    ["../../../../etc/passwd", "/etc/passwd", str(REFERENCE_BUNDLE.resolve() / "model.onnx"), "model.fp16.onnx"],
)
def test_file_names_outside_the_schema_are_refused(cli, hostile, name):
    bundle_dir = hostile(lambda m: m["formats"].update(onnx=name))
    one_line_error(cli("infer", SANDAL, "--model", bundle_dir), "formats['onnx'] must be 'model.onnx'")


def test_a_deeply_nested_manifest_is_one_line(cli, hostile):
    bundle_dir = hostile(lambda m: None)
    (bundle_dir / "manifest.json").write_text("[" * 200_000 + "]" * 200_000)
    one_line_error(cli("infer", SANDAL, "--model", bundle_dir), "manifest.json: JSON nested too deeply")


def test_a_symlinked_artifact_is_refused(cli, hostile, tmp_path):
    bundle_dir = hostile(lambda m: None)
    other = tmp_path / "elsewhere.onnx"
    shutil.move(bundle_dir / "model.onnx", other)
    (bundle_dir / "model.onnx").symlink_to(other)
    one_line_error(cli("infer", SANDAL, "--model", bundle_dir), "model.onnx: is a symlink")


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m["files"].pop("model.onnx"), "formats['onnx'] names 'model.onnx', which files does not list"),
        (lambda m: m.update(formats=list(m["formats"])), "formats must be dict, not list"),
        (lambda m: m["input"].pop("name"), "missing input.name"),
        (lambda m: m.update(labels=m["labels"][:9]), "labels has 9 names; a logits output of width 10 needs 10"),
        (lambda m: m.update(preprocessing=None), "preprocessing is missing: an image model needs it"),
        (lambda m: m["preprocessing"].update(size=-28), "preprocessing.size -28 is outside 1..2048"),
        (lambda m: m["preprocessing"].update(size=100_000), "preprocessing.size 100000 is outside 1..2048"),
        (lambda m: m["preprocessing"].update(colour="red"), "preprocessing has unknown field 'colour'"),
        (lambda m: m["files"].update({"../x": {}}), "files['../x'] is not a file a bundle holds"),
        (lambda m: m["files"]["model.onnx"].update(sha256="abc"), "files['model.onnx'].sha256 is not a sha256"),
        (lambda m: m["input"].update(shape=["batch", 1, 28]), "input.shape ['batch', 1, 28] does not match"),
    ],
)
def test_a_malformed_manifest_is_one_line_naming_the_field(cli, hostile, change, message):
    bundle_dir = hostile(change)
    one_line_error(cli("infer", SANDAL, "--model", bundle_dir), f"{bundle_dir}/manifest.json: {message}")


def test_a_graph_that_disagrees_with_its_manifest_is_refused_before_inference(cli, hostile):

    bundle_dir = hostile(lambda m: None)
    model = onnx.load(bundle_dir / "model.onnx")
    del model.graph.input[0].type.tensor_type.shape.dim[-1]  # rank 3, where the manifest says 4
    (bundle_dir / "model.onnx").write_bytes(model.SerializeToString())
    rehash(bundle_dir, "model.onnx")
    one_line_error(cli("infer", SANDAL, "--model", bundle_dir), "model.onnx: input 'input' is", "in the manifest")


def test_reexport_never_deletes_a_file_the_old_manifest_named_outside_the_bundle(quick_bundle, quick_run, tmp_path):
    from toolkit.export import export

    victim = quick_bundle.parent / "victim.txt"
    victim.write_text("keep me")
    manifest = json.loads((quick_bundle / "manifest.json").read_text())
    manifest["formats"]["torchscript"] = "../victim.txt"
    manifest["files"]["../victim.txt"] = {"sha256": "0" * 64, "bytes": 7}
    (quick_bundle / "manifest.json").write_text(json.dumps(manifest))
    export(
        "fashion-mlp", formats=["onnx"], out_dir=quick_bundle, checkpoint_file=quick_run / "checkpoint.pt", log=quiet
    )
    assert victim.read_text() == "keep me"


def plant_pickle(pt2: Path, marker: Path) -> None:
    """Mark one weight of an ExportedProgram as a pickle and make that pickle run a shell command."""

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    with zipfile.ZipFile(pt2) as source:
        entries = {info.filename: source.read(info) for info in source.infolist()}
    config_name = next(name for name in entries if name.endswith("weights/model_weights_config.json"))
    config = json.loads(entries[config_name])
    weight = config["config"]["linear_relu_stack.4.bias"]
    weight["use_pickle"] = True
    entries[config_name] = json.dumps(config).encode()
    entries[next(n for n in entries if n.endswith(f"weights/{weight['path_name']}"))] = pickle.dumps(Payload())
    with zipfile.ZipFile(pt2, "w") as target:
        for name, data in entries.items():
            target.writestr(name, data)


def test_a_pickle_planted_in_an_exported_program_never_runs(cli, quick_run, tmp_path):
    from toolkit.export import export

    bundle_dir, marker = tmp_path / "bundle", tmp_path / "PWNED"
    export(
        "fashion-mlp",
        formats=["exported-program", "onnx"],
        out_dir=bundle_dir,
        checkpoint_file=quick_run / "checkpoint.pt",
        log=quiet,
    )
    plant_pickle(bundle_dir / "model.pt2", marker)
    rehash(bundle_dir, "model.pt2")
    result = cli("verify", "--bundle", bundle_dir, "--skip", "torch.compile", "--json")
    assert result.exit_code == 0, result.output  # every other row still runs and passes
    (row,) = [r for r in json.loads(result.stdout)["rows"] if r["artifact"] == "model.pt2"]
    assert row["passed"] is None and row["status"].startswith("not run: may execute code")
    assert not marker.exists()
    # The planted file is a real exploit: torch's own loader runs the command.
    subprocess.run(
        [sys.executable, "-c", f"import torch; torch.export.load({str(bundle_dir / 'model.pt2')!r})"],
        capture_output=True,
    )
    assert marker.exists()


def test_code_carrying_files_from_elsewhere_run_only_with_trust_code(cli, quick_bundle, tmp_path, monkeypatch):
    monkeypatch.setenv("TK_TRUST_FILE", str(tmp_path / "another-machine.txt"))  # it did not export model.ts
    result = cli("verify", "--bundle", quick_bundle, "--skip", "torch.compile", "--json")
    assert result.exit_code == 0, result.output
    rows = {(r["artifact"], r["runtime"]): r for r in json.loads(result.stdout)["rows"]}
    assert rows[("model.ts", "torchscript")]["status"].startswith("not run: may execute code")
    assert rows[("model.safetensors", "eager")]["passed"] and rows[("state_dict.pth", "eager")]["passed"]  # plain data
    result = cli("verify", "--bundle", quick_bundle, "--skip", "torch.compile", "--json", "--trust-code")
    assert {r["artifact"]: r for r in json.loads(result.stdout)["rows"]}["model.ts"]["passed"] is True
