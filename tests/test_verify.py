"""tk verify: parity of every artifact with the eager model, and loud failures."""

import json
from types import SimpleNamespace

import numpy as np
import onnx
import pytest

from toolkit.errors import BundleError
from toolkit.runtime import bundle
from toolkit.verify import verify

from conftest import CLASSIC_FORMATS, FAST, REPO, quiet, rehash


def test_verify_passes_and_writes_report(quick_bundle):
    report = verify("fashion-mlp", bundle_dir=quick_bundle, log=quiet, skip=FAST)
    assert report["passed"]
    assert [(r["artifact"], r["runtime"]) for r in report["rows"]][:5] == [
        ("model.safetensors", "eager"),  # the reference: the weights in a format that cannot carry code
        ("model.safetensors", "torch.compile"),
        ("state_dict.pth", "eager"),  # the tutorials' torch.load file holds the very same weights
        ("model.ts", "torchscript"),
        ("model.onnx", "onnxruntime-cpu"),
    ]
    assert report["rows"][1]["passed"] is None and report["rows"][1]["status"] == "not run: skipped on request"
    assert report["inputs"]["batch_sizes"] == [1, 7, 512] and report["inputs"]["kinds"] == ["real", "random", "edge"]
    on_disk = json.loads((quick_bundle / "verification.json").read_text())
    assert on_disk["passed"] and len(on_disk["rows"]) == len(report["rows"])
    for row in (r for r in on_disk["rows"] if r["passed"] is not None):
        assert {
            "artifact",
            "runtime",
            "max_abs",
            "max_rel",
            "p99_abs",
            "min_atol",
            "argmax_agreement",
            "accuracy",
            "passed",
        } <= set(row)
        assert row["max_abs"] <= 1e-4 and row["argmax_agreement"] == 1.0 and row["min_atol"] == row["max_abs"]
    manifest = json.loads((quick_bundle / "manifest.json").read_text())
    assert manifest["verification"]["passed"] and manifest["verification"]["file"] == "verification.json"


def tamper_onnx_weights(bundle_dir, delta=0.01, index=3):
    """Nudge output bias `index` (all of them when None) in model.onnx and re-hash it: only the numbers are wrong."""
    path = bundle_dir / "model.onnx"
    model = onnx.load(path)
    bias = next(init for init in model.graph.initializer if init.name == "linear_relu_stack.4.bias")
    values = onnx.numpy_helper.to_array(bias).copy()
    values[slice(None) if index is None else index] += delta
    bias.CopyFrom(onnx.numpy_helper.from_array(values, bias.name))
    path.write_bytes(model.SerializeToString())
    rehash(bundle_dir, "model.onnx")


def test_a_wrong_artifact_fails_loudly(cli, quick_bundle):
    tamper_onnx_weights(quick_bundle)
    result = cli("verify", "--bundle", quick_bundle, "--skip", "torch.compile")
    assert result.exit_code == 1
    assert "model.onnx on onnxruntime-cpu (max abs diff 0.01 > atol 0.0001" in result.stderr
    assert "torchscript" not in result.stderr  # only the failing backend is listed
    assert "FAIL" in result.stdout
    report = json.loads((quick_bundle / "verification.json").read_text())
    assert not report["passed"]
    assert json.loads((quick_bundle / "manifest.json").read_text())["verification"]["passed"] is False


def test_atol_option(cli, quick_bundle):
    tamper_onnx_weights(quick_bundle, delta=1e-3, index=None)  # every logit shifts alike: argmax intact
    assert cli("verify", "--bundle", quick_bundle, "--atol", "0.01", "--skip", "torch.compile").exit_code == 0
    assert cli("verify", "--bundle", quick_bundle, "--atol", "1e-5", "--skip", "torch.compile").exit_code == 1


def test_hash_mismatch_is_refused(quick_bundle):
    with open(quick_bundle / "model.ts", "ab") as f:
        f.write(b"\0")
    with pytest.raises(BundleError, match="model.ts: sha256 does not match the manifest"):
        verify("fashion-mlp", bundle_dir=quick_bundle, log=quiet, skip=FAST)


def test_json_output(cli, quick_bundle):
    result = cli("verify", "--bundle", quick_bundle, "--json", "--skip", "torch.compile")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["passed"] is True


def test_json_output_never_shows_an_earlier_passing_report(cli, quick_bundle):
    assert cli("verify", "--bundle", quick_bundle, "--skip", "torch.compile").exit_code == 0  # a passing report on disk
    with open(quick_bundle / "model.ts", "ab") as f:
        f.write(b"\0")  # verify now fails before it writes a report
    result = cli("verify", "--bundle", quick_bundle, "--json", "--skip", "torch.compile")
    assert result.exit_code == 1 and "model.ts: sha256 does not match" in result.stderr
    assert result.stdout == ""  # nothing, rather than the previous run's "passed": true
    tamper_onnx_weights(quick_bundle)
    (quick_bundle / "model.ts").unlink()
    manifest = bundle.read_manifest(quick_bundle)
    del manifest.formats["torchscript"], manifest.files["model.ts"]
    bundle.write_manifest(quick_bundle, manifest)
    result = cli("verify", "--bundle", quick_bundle, "--json", "--skip", "torch.compile")
    assert result.exit_code == 1 and json.loads(result.stdout)["passed"] is False  # this run's failing report


def test_the_model_comes_from_the_manifest(cli, quick_bundle, tmp_path):
    from toolkit.export import export

    weights = REPO / "exported" / "softmax-classifier" / "state_dict.pth"
    export("softmax-classifier", formats=["onnx"], out_dir=tmp_path / "lab6", checkpoint_file=weights, log=quiet)
    report = verify(bundle_dir=tmp_path / "lab6", log=quiet, skip=FAST)  # no model named: the manifest's
    assert report["passed"] and report["model"] == "softmax-classifier"
    result = cli("verify", "--bundle", tmp_path / "lab6", "--skip", "torch.compile")  # not the default fashion-mlp
    assert result.exit_code == 0, result.output
    result = cli("verify", "fashion-mlp", "--bundle", tmp_path / "lab6")
    assert result.exit_code == 2 and "holds 'softmax-classifier', not 'fashion-mlp'" in result.stderr


def test_missing_bundle(cli, in_tmp):
    result = cli("verify")
    assert result.exit_code == 2 and "no such bundle folder" in result.stderr


def test_verification_survives_a_reexport_of_the_same_weights(quick_bundle, quick_run):
    from toolkit.export import export

    verify("fashion-mlp", bundle_dir=quick_bundle, log=quiet, skip=FAST)
    manifest_before = (quick_bundle / "manifest.json").read_bytes()
    export(
        "fashion-mlp",
        formats=CLASSIC_FORMATS,
        out_dir=quick_bundle,
        checkpoint_file=quick_run / "checkpoint.pt",
        log=quiet,
    )
    assert (quick_bundle / "manifest.json").read_bytes() == manifest_before


def test_reexport_with_other_weights_drops_stale_verification(quick_bundle, tmp_path):
    import torch

    from toolkit.models import get_spec

    verify("fashion-mlp", bundle_dir=quick_bundle, log=quiet, skip=FAST)
    torch.save(get_spec("fashion-mlp").build().state_dict(), tmp_path / "other.pth")
    from toolkit.export import export

    manifest = export(
        "fashion-mlp", formats=["onnx"], out_dir=quick_bundle, checkpoint_file=tmp_path / "other.pth", log=quiet
    )
    assert manifest.verification is None and not (quick_bundle / "verification.json").exists()
    assert "torchscript" not in manifest.formats and not (quick_bundle / "model.ts").exists()  # stale: removed


def test_every_failing_row_is_listed_at_once(cli, quick_run, tmp_path):
    from toolkit.export import export

    export(
        "fashion-mlp",
        formats=["onnx", "onnx-fp16"],
        out_dir=tmp_path,
        checkpoint_file=quick_run / "checkpoint.pt",
        log=quiet,
    )
    tamper_onnx_weights(tmp_path, delta=0.01)  # model.onnx: fails the exact rule
    fp16 = tmp_path / "model.fp16.onnx"
    model = onnx.load(fp16)  # model.fp16.onnx: push every answer to class 3, failing the task rule
    bias = next(init for init in model.graph.initializer if init.name == "linear_relu_stack.4.bias")
    values = onnx.numpy_helper.to_array(bias).copy()
    values[3] += 50
    bias.CopyFrom(onnx.numpy_helper.from_array(values, bias.name))
    fp16.write_bytes(model.SerializeToString())
    rehash(tmp_path, "model.fp16.onnx")
    result = cli("verify", "--bundle", tmp_path, "--skip", "torch.compile")
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert "model.onnx on onnxruntime-cpu (max abs diff" in line
    assert "model.fp16.onnx on onnxruntime-cpu (accuracy" in line
    report = json.loads((tmp_path / "verification.json").read_text())
    assert [r["passed"] for r in report["rows"] if r["runtime"] == "onnxruntime-cpu"] == [False, False]


def test_a_near_tie_may_split_but_a_clear_decision_may_not():
    """Outputs within atol can only disagree where eager's two best scores are within 2 x atol."""
    from toolkit.models import get_spec
    from toolkit.verify.compare import compare

    spec, atol, unlabelled = get_spec("fashion-mlp"), 1e-4, [SimpleNamespace(y=None)]
    eager = np.array([[1.0, 1.00005, 0.0], [2.0, 0.0, 0.0]], dtype=np.float32)
    within = np.array([[1.00005, 1.0, 0.0], [2.0, 0.0, 0.0]], dtype=np.float32)
    row = compare(spec, [eager], [within], unlabelled, atol, "exact", {})
    assert row["passed"] and row["near_tie_splits"] == 1 and row["argmax_agreement"] == 0.5
    flipped = np.array([[1.0, 1.00005, 0.0], [2.0, 2.1, 0.0]], dtype=np.float32)
    row = compare(spec, [eager], [flipped], unlabelled, atol, "exact", {})
    assert not row["passed"] and row["near_tie_splits"] == 0
    assert row["failures"] == ["max abs diff 2.1 > atol 0.0001", "argmax differs on 1 of 2 inputs (not near ties)"]
