"""The whole pipeline as a user runs it: real processes, train --limit -> export -> verify -> infer."""

import json
import subprocess
import sys

from conftest import SAMPLES


def tk(*args, cwd):
    return subprocess.run([sys.executable, "-m", "toolkit", *map(str, args)], capture_output=True, text=True, cwd=cwd)


def test_pipeline_in_real_processes(tmp_path):
    steps = [
        ("train", "fashion-mlp", "--epochs", "1", "--limit", "3000", "--device", "cpu"),
        ("export", "--format", "all"),
        ("verify",),
        ("infer", SAMPLES / "trouser-2.png", "--json", "--model", "exported/fashion-mlp"),
    ]
    results = []
    for step in steps:
        result = tk(*step, cwd=tmp_path)
        assert result.returncode == 0, f"{step[0]}: {result.stderr}"
        results.append(result)
    assert (tmp_path / "runs/fashion-mlp/metrics.json").is_file()
    assert json.loads((tmp_path / "exported/fashion-mlp/verification.json").read_text())["passed"]
    assert json.loads(results[-1].stdout)["label"] == "Trouser"
