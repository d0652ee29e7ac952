"""`tk bench`: a small real run through the CLI, the BENCHMARKS.md section it owns, and its errors."""

import json
import subprocess
import sys

import pytest

from toolkit.bench.report import update_benchmarks

from conftest import REPO


def test_bench_measures_training_inference_and_cold_start(cli, tmp_path):
    out, markdown = tmp_path / "bench.json", tmp_path / "BENCHMARKS.md"
    markdown.write_text("# Benchmarks\n\nHand-written notes stay.\n")
    result = cli(
        "bench",
        "--quick",
        "--model",
        "fashion-linear",
        "--model",
        "linear-regression",
        "--json-out",
        str(out),
        "--benchmarks",
        str(markdown),
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["machine"]["cores"] >= 1 and report["machine"]["torch"]

    # Training: only the Fashion-MNIST model; the tutorial's loop and tk's recipe, side by side.
    assert [(r["model"], r["kind"]) for r in report["training"]] == [
        ("fashion-linear", "tutorial"),
        ("fashion-linear", "tk"),
    ]
    tutorial, tk = report["training"]
    assert tutorial["epochs"] == 1 and tk["epochs"] == 10
    assert 0.1 < tutorial["final_accuracy"] < 1 and tk["final_accuracy"] >= 0.8
    assert tk["seconds_to_target"] is not None and tk["peak_memory_mb"] > 0
    assert 0 < tk["epoch_seconds_median"] < tutorial["epoch_seconds_median"]
    # A chain of Linear layers is measured against its matmul floor after every epoch; no step beats its GEMMs.
    assert tk["x_floor"] > 1 and tutorial["x_floor"] is None
    assert tk["floor_epochs_to_target"] == pytest.approx(tk["seconds_to_target"] / tk["floor_epoch_seconds"], rel=0.01)

    # Inference: every format of both models on every runtime, and ORT CUDA listed as not run.
    for model in ("fashion-linear", "linear-regression"):
        rows = {(r["runtime"], r["artifact"]): r for r in report["inference"] if r["model"] == model}
        expected = {
            ("eager", "state_dict.pth"),
            ("torch.compile", "state_dict.pth"),
            ("torchscript", "model.ts"),
            ("exported-program", "model.pt2"),
            ("aoti-cpu", "model.aoti.pt2"),
            ("onnxruntime-cpu", "model.onnx"),
        }
        assert expected <= set(rows)
        for key in expected:
            assert 0 < rows[key]["batch1_p50_us"] <= rows[key]["batch1_p99_us"]
            assert rows[key]["batch4096_samples_per_s"] > 0
        assert rows[("torch.compile", "state_dict.pth")]["compile_seconds"] > 0
    assert {("onnxruntime-cpu", "model.int8.onnx"), ("onnxruntime-cpu", "model.fp16.onnx")} <= {
        (r["runtime"], r["artifact"]) for r in report["inference"] if r["model"] == "fashion-linear"
    }
    cold = report["cold_start"]
    assert cold["tk_infer_seconds"] > 0
    assert cold["speedup"] == pytest.approx(cold["torch_script_seconds"] / cold["tk_infer_seconds"], rel=0.02)

    # Targets are judged; without a GPU the GPU ones say so instead of passing.
    gpu_targets = [t for t in report["targets"] if t["target"].startswith("GPU")]
    assert gpu_targets and all(t["met"] is None and "not measured" in t["measured"] for t in gpu_targets)

    text = markdown.read_text()
    assert (
        "Hand-written notes stay." in text
        and text.count("<!-- tk bench cpu-quick-fashion-linear-linear-regression -->") == 1
    )
    assert "| fashion-linear | tk eager | cpu |" in text and "Targets:" in text


def test_the_matmul_floor_covers_linear_chains_only():
    from toolkit.bench.floor import linear_widths, step_operands
    from toolkit.models import get_spec

    assert linear_widths(get_spec("fashion-mlp").build()) == [784, 512, 512, 10]
    assert linear_widths(get_spec("fashion-cnn").build()) is None  # convolutions: not just GEMMs
    assert linear_widths(get_spec("fashion-mlp-bn").build()) is None  # batch norm has parameters too
    shapes = [(tuple(a.shape), tuple(b.shape)) for a, b, _ in step_operands(256, [784, 512, 10])]
    assert shapes == [
        ((256, 784), (784, 512)),  # forward
        ((512, 256), (256, 784)),  # gradient of the first weight; the data needs none
        ((256, 512), (512, 10)),
        ((256, 10), (10, 512)),  # gradient of the hidden activations
        ((10, 256), (256, 512)),
    ]


def test_a_new_run_replaces_only_its_own_section(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    update_benchmarks(path, "cpu", "first cpu run\n")
    update_benchmarks(path, "gpu", "gpu run\n")
    update_benchmarks(path, "cpu", "second cpu run\n")
    text = path.read_text()
    assert "first cpu run" not in text and text.count("second cpu run") == 1 and "gpu run" in text
    assert text.index("second cpu run") < text.index("gpu run")  # replaced in place


def test_bench_refuses_unknown_models_and_bad_counts(cli, tmp_path):
    result = cli("bench", "--quick", "--model", "nope", "--benchmarks", str(tmp_path / "B.md"))
    assert result.exit_code != 0 and "nope" in result.output and "Traceback" not in result.output
    result = cli("bench", "--quick", "--seeds", "0", "--benchmarks", str(tmp_path / "B.md"))
    assert result.exit_code == 2 and "--seeds" in result.output
    assert not (tmp_path / "B.md").exists()


def test_bench_serving_measures_tk_serve_and_names_the_peers_it_lacks(tmp_path):
    """tk bench --serving end to end with no peer venvs: tk serve alone, every cell answered without errors."""
    benchmarks = tmp_path / "BENCHMARKS.md"
    command = [sys.executable, "-m", "toolkit", "bench", "--serving", "--seconds", "1", "--peers", tmp_path / "none"]
    result = subprocess.run(
        [*map(str, command), "--benchmarks", str(benchmarks)], cwd=REPO, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    text = benchmarks.read_text()
    rows = [line.split(" | ") for line in text.splitlines() if line.startswith("| tk serve |")]
    assert sorted((r[1], r[2]) for r in rows) == sorted(
        (p, c) for p in ("json", "binary", "png", "FP32 raw") for c in ("1", "8", "64")
    )  # REST, and gRPC (raw FP32)
    ours = [line.split(" | ") for line in text.splitlines() if line.startswith(("| bare stack |", "| tk serve --w"))]
    assert sorted((r[0], r[2]) for r in ours) == sorted(
        (s, c) for s in ("| bare stack", "| tk serve --workers 2") for c in ("1", "8", "64")
    )
    assert all(float(r[3]) > 0 and r[6] == "0 |" for r in rows + ours), rows + ours
    assert "json, 64 clients: >= 0.8x the bare stack's req/s" in text and "2 workers" in text
    for peer in ("KServe", "MLServer", "plain FastAPI"):
        assert f"- {peer}: no venv at {tmp_path / 'none'}" in text
