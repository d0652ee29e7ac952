"""CUDA paths: training with torch.compile on the GPU, and ONNX Runtime's CUDA provider in verify.

Marked `gpu`: skipped where torch sees no CUDA device.
"""

import pytest
import torch

from toolkit.train import train
from toolkit.verify import verify

from conftest import quiet

pytestmark = pytest.mark.gpu


def test_train_on_cuda_compiles_and_saves_plain_keys(tmp_path):
    metrics = train("fashion-mlp", epochs=2, limit=8192, device="cuda", run_dir=tmp_path, log=quiet)
    assert metrics["device"].startswith("cuda") and metrics["compiled"] and metrics["compile_seconds"] > 0
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)["model"]
    assert not any(key.startswith("_orig_mod") for key in state)
    assert metrics["test_accuracy"] > 0.7


def test_verify_uses_the_cuda_provider(quick_bundle):
    from toolkit.runtime.session import cuda_present

    if not cuda_present():
        pytest.skip("onnxruntime's CUDA provider is not usable here")
    report = verify("fashion-mlp", bundle_dir=quick_bundle, log=quiet)
    cuda_rows = [row for row in report["rows"] if row["runtime"] == "onnxruntime-cuda"]
    assert cuda_rows and all(row["passed"] for row in cuda_rows)


@pytest.mark.parametrize("mode", ["reduce-overhead", "max-autotune"])
def test_train_with_each_compile_mode_on_cuda(tmp_path, mode):
    metrics = train(
        "fashion-mlp", epochs=1, limit=8192, device="cuda", compile=True, compile_mode=mode, run_dir=tmp_path, log=quiet
    )
    assert metrics["compile_mode"] == mode and metrics["test_accuracy"] > 0.5


def test_bench_runs_the_gpu_variants(cli, tmp_path):
    import json

    out = tmp_path / "bench.json"
    result = cli(
        "bench",
        "--model",
        "fashion-mlp",
        "--seeds",
        "1",
        "--tutorial-epochs",
        "1",
        "--json-out",
        str(out),
        "--benchmarks",
        str(tmp_path / "B.md"),
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    modes = {(r["recipe"], r["compile_mode"]) for r in report["training"] if r["kind"] == "tk"}
    assert modes == {
        ("default", None),
        ("default", "default"),
        ("default", "reduce-overhead"),
        ("default", "max-autotune"),
        ("large-batch", "reduce-overhead"),
    }
    runtimes = {r["runtime"] for r in report["inference"] if "reason" not in r}
    assert "eager" in runtimes
    from toolkit.runtime.session import cuda_present

    if cuda_present():
        assert "onnxruntime-cuda (IOBinding)" in runtimes
