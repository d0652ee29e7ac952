"""Cold start: `tk infer image.png` as a whole process vs a plain torch script doing the same job.

The torch script is what a user would write without tk: import torch, define the tutorial's model,
load the state_dict, read and scale the image, forward, print the label (no torchvision, no tk).
Both answer the same test image from the same weights; the median wall time of N runs of each is
reported, the runs interleaved.
"""

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from toolkit.errors import ToolkitError
from toolkit.runtime import bundle

TORCH_SCRIPT = """
import sys
import numpy as np
import torch
from PIL import Image
from torch import nn

class NeuralNetwork(nn.Module):  # the tutorial's model, as the tutorial writes it
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28 * 28, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10),
        )

    def forward(self, x):
        return self.linear_relu_stack(self.flatten(x))

net = NeuralNetwork()
net.load_state_dict(torch.load(sys.argv[1], weights_only=True))
net.eval()
x = torch.from_numpy(np.asarray(Image.open(sys.argv[2]).convert("L"), dtype=np.float32) / 255).reshape(1, 1, 28, 28)
with torch.no_grad():
    print(net(x).argmax(1).item())
"""


def tk_command() -> list:
    found = Path(sys.executable).with_name("tk")
    if found.is_file():
        return [str(found)]
    return [shutil.which("tk")] if shutil.which("tk") else [sys.executable, "-m", "toolkit"]


def wall_seconds(command: list) -> float:
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise ToolkitError(
            f"cold start: {' '.join(command[:2])} failed: {(completed.stderr.strip().splitlines() or ['?'])[-1]}"
        )
    return seconds


def bench_cold_start(weights: Path, runs: int, data_dir=None, log=print) -> dict:
    """Both processes `runs` times (interleaved, after one untimed warm-up each for the file cache)."""
    from PIL import Image

    from toolkit.data.fashion_mnist import load_fashion_mnist
    from toolkit.export import export

    log(f"cold start: tk infer vs a torch script, {runs} runs each ...")
    with tempfile.TemporaryDirectory() as tmp:
        bundle_dir, image = Path(tmp) / "bundle", Path(tmp) / "test-0.png"
        export(
            "fashion-mlp",
            formats=["state-dict", "onnx"],
            out_dir=bundle_dir,
            checkpoint_file=weights,
            log=lambda _m: None,
        )
        Image.fromarray(load_fashion_mnist(data_dir, download=False).test_images[0].numpy()).save(image)
        commands = {
            "tk_infer": tk_command() + ["infer", str(image), "--model", str(bundle_dir)],
            "torch_script": [
                sys.executable,
                "-c",
                TORCH_SCRIPT,
                str(bundle_dir / bundle.FORMAT_FILES["state-dict"]),
                str(image),
            ],
        }
        times = {name: [] for name in commands}
        for command in commands.values():
            wall_seconds(command)
        for _ in range(runs):
            for name, command in commands.items():
                times[name].append(wall_seconds(command))
    tk_infer, torch_script = statistics.median(times["tk_infer"]), statistics.median(times["torch_script"])
    return {
        "runs": runs,
        "tk_infer_seconds": round(tk_infer, 3),
        "torch_script_seconds": round(torch_script, 3),
        "speedup": round(torch_script / tk_infer, 2),
    }
