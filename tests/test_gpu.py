"""CUDA paths: training with torch.compile on the GPU, and ONNX Runtime's CUDA provider in verify.

Marked `gpu`: skipped where torch sees no CUDA device.
"""

import pytest
import torch

from conftest import quiet
from toolkit.train import train
from toolkit.verify import verify

pytestmark = pytest.mark.gpu


def test_train_on_cuda_compiles_and_saves_plain_keys(tmp_path):
    metrics = train("fashion-mlp", epochs=2, limit=8192, device="cuda", run_dir=tmp_path, log=quiet)
    assert metrics["device"].startswith("cuda") and metrics["compiled"] and metrics["compile_seconds"] > 0
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)["model"]
    assert not any(key.startswith("_orig_mod") for key in state)
    assert metrics["test_accuracy"] > 0.7


def test_verify_uses_the_cuda_provider(quick_bundle):
    from toolkit.runtime import cuda_present

    if not cuda_present():
        pytest.skip("onnxruntime's CUDA provider is not usable here")
    report = verify("fashion-mlp", bundle_dir=quick_bundle, log=quiet)
    cuda_rows = [row for row in report["rows"] if row["runtime"] == "onnxruntime-cuda"]
    assert cuda_rows and all(row["passed"] for row in cuda_rows)
