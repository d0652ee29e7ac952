"""The torch-free runtime: imports, hash checks, providers, and embedding a bundle elsewhere."""

import json
import subprocess
import sys

import numpy as np
import pytest

from toolkit.errors import BundleError, InputError, UsageError
from toolkit.runtime import Predictor, bundle

from conftest import REFERENCE_BUNDLE, REPO, SAMPLES
from page_blocks import block

RUNTIME_MODULES = sorted(  # the runtime, the server over it, and tk image, which ships them
    f"toolkit.{stage}" + ("" if path.stem == "__init__" else f".{path.stem}")
    for stage in ("runtime", "serve", "deploy")
    for path in (REPO / "toolkit" / stage).glob("*.py")
)


def test_the_torch_free_list_is_every_runtime_module():
    assert "toolkit.runtime.predictor" in RUNTIME_MODULES and "toolkit.serve.server" in RUNTIME_MODULES


def test_runtime_never_imports_torch():
    code = (
        "import importlib, sys\n"
        f"for name in {RUNTIME_MODULES!r} + ['toolkit.cli']:\n"
        "    importlib.import_module(name)\n"
        "from toolkit.runtime import Predictor\n"
        f"p = Predictor({str(REFERENCE_BUNDLE)!r})\n"
        f"print(p.predict_image({str(SAMPLES / 'sandal-8.png')!r}).label)\n"
        "heavy = [m for m in ('torch', 'torchvision', 'onnx', 'onnxscript') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Sandal"


def test_predict_shapes_and_probabilities():
    predictor = Predictor(REFERENCE_BUNDLE, device="cpu")
    assert predictor.provider == "CPUExecutionProvider"
    batch = np.random.default_rng(0).random((5, 1, 28, 28), dtype=np.float32)
    probabilities = predictor.probabilities(batch)
    assert probabilities.shape == (5, 10) and np.allclose(probabilities.sum(1), 1, atol=1e-5)
    predictions = predictor.predict(batch, top_k=3)
    assert len(predictions) == 5 and len(predictions[0].top) == 3
    assert predictions[0].top[0]["probability"] >= predictions[0].top[1]["probability"]
    assert predictor.predict(batch[0], top_k=3)[0] == predictions[0]  # a single sample is batched for you
    with pytest.raises(InputError, match="does not match the model"):
        predictor.run(np.zeros((2, 3, 28, 28)))


def test_tampered_onnx_is_refused(quick_bundle):
    with open(quick_bundle / "model.onnx", "r+b") as f:
        f.seek(-8, 2)
        f.write(b"\x00" * 8)
    with pytest.raises(BundleError, match="model.onnx: sha256 does not match the manifest"):
        Predictor(quick_bundle)


def test_bundle_problems_are_named(quick_bundle, tmp_path):
    with pytest.raises(UsageError, match="no such bundle folder"):
        Predictor(tmp_path / "nope")
    with pytest.raises(BundleError, match="no manifest.json"):
        Predictor(tmp_path)
    manifest = json.loads((quick_bundle / "manifest.json").read_text())
    (quick_bundle / "manifest.json").write_text(json.dumps({**manifest, "schema_version": 99}))
    with pytest.raises(BundleError, match="schema_version 99 is not supported"):
        Predictor(quick_bundle)
    (quick_bundle / "manifest.json").write_text("{")
    with pytest.raises(BundleError, match="not valid JSON"):
        Predictor(quick_bundle)


def test_cuda_request_without_gpu_is_an_error():
    from toolkit.runtime.session import cuda_present

    if cuda_present():
        pytest.skip("a GPU is present")
    with pytest.raises(UsageError, match="--device cuda: no NVIDIA GPU"):
        Predictor(REFERENCE_BUNDLE, device="cuda")


def test_readme_embedding_example_runs_with_onnxruntime_alone(tmp_path):
    """The README's snippet, run from a folder outside the repo with only the bundle copied in."""
    import shutil

    shutil.copytree(REFERENCE_BUNDLE, tmp_path / "fashion-mlp")
    shutil.copy(SAMPLES / "trouser-2.png", tmp_path / "trouser.png")
    (tmp_path / "embed.py").write_text(block("deploying/embedding.md", "# embed.py"))
    code = (
        "import runpy, sys; runpy.run_path('embed.py'); "
        "assert 'torch' not in sys.modules and 'toolkit' not in sys.modules"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, "fashion-mlp", "trouser.png"], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("trouser.png: Trouser")


def test_manifest_hashes_are_checked_for_every_format(quick_bundle):
    manifest = bundle.read_manifest(quick_bundle)
    assert set(manifest.formats) == {"state-dict", "safetensors", "torchscript", "onnx"}
    for fmt, name in manifest.formats.items():
        assert bundle.artifact_path(quick_bundle, manifest, fmt).is_file()  # intact: accepted
        original = (quick_bundle / name).read_bytes()
        (quick_bundle / name).write_bytes(original[:-1] + bytes([original[-1] ^ 1]))  # one bit flipped
        with pytest.raises(BundleError, match=f"{name}: sha256 does not match the manifest"):
            bundle.artifact_path(quick_bundle, manifest, fmt)
        with pytest.raises(BundleError, match=f"{name}: sha256 does not match the manifest"):
            bundle.read_artifact(quick_bundle, manifest, fmt)
        (quick_bundle / name).write_bytes(original)
