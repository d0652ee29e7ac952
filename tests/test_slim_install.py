"""The slim install: `pip install .` into a fresh venv gives tk infer and tk serve without torch."""

import shutil
import subprocess
import sys

import numpy as np
import tritonclient.http as httpclient

from conftest import REFERENCE_BUNDLE, REPO, SAMPLES
from serving import start


def test_a_fresh_venv_runs_tk_infer_and_tk_serve_without_torch(tmp_path):
    source = tmp_path / "source"  # only what the distribution is built from; nothing lands in the repo
    shutil.copytree(REPO / "toolkit", source / "toolkit", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run([python, "-m", "pip", "install", "--quiet", source], capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-2000:]
    # training, Ray and the device converters are extras: .[train], .[ray], .[edge]
    for heavy in ("torch", "ray", "executorch", "openvino", "coremltools", "ai_edge_litert"):
        missing = subprocess.run([python, "-c", f"import {heavy}"], capture_output=True, text=True, cwd=tmp_path)
        assert f"No module named '{heavy}'" in missing.stderr
    infer = subprocess.run(
        [venv / "bin" / "tk", "infer", SAMPLES / "bag-18.png", "--model", REFERENCE_BUNDLE],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert infer.returncode == 0 and infer.stdout.startswith(f"{SAMPLES / 'bag-18.png'}: Bag"), infer.stderr
    served = start(REFERENCE_BUNDLE, python=python, cwd=tmp_path)
    try:
        image = httpclient.InferInput("input", [1], "BYTES")
        image.set_data_from_numpy(np.array([(SAMPLES / "bag-18.png").read_bytes()], dtype=object))
        top = httpclient.InferRequestedOutput("logits", class_count=1)
        answer = httpclient.InferenceServerClient(served.http).infer("fashion-mlp", [image], outputs=[top])
        assert answer.as_numpy("logits")[0][0].decode().endswith(":8:Bag")
    finally:
        assert served.stop() == 0
