"""`tk train` under torchrun: 2 CPU ranks with gloo match one process training on the same global batch."""

import json
import subprocess
import sys

import pytest
import torch

from toolkit.train import train

from conftest import quiet

OPTIONS = {"epochs": 2, "limit": 2048, "batch_size": 256, "device": "cpu"}


def torchrun(*args, cwd):
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "toolkit",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.mark.parametrize("model", ["fashion-mlp", "fashion-mlp-small"])  # forward, and a train_method (logits)
def test_two_gloo_ranks_match_a_single_process(tmp_path, model):
    single = train(model, run_dir=tmp_path / "single", log=quiet, **OPTIONS)
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in OPTIONS.items()]
    done = torchrun("train", model, *flags, "--run-dir", str(tmp_path / "ddp"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]

    metrics = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and single["world_size"] == 1
    # Only rank 0 logs: the closing line and each epoch's summary appear once.
    assert done.stdout.count(f"{model}: test accuracy") == 1, done.stdout
    assert done.stderr.count("epoch 2/2") == 1, done.stderr
    for ours, theirs in zip(metrics["epochs"], single["epochs"], strict=True):
        assert ours["train_loss"] == pytest.approx(theirs["train_loss"], abs=1e-4)
        assert ours["test_accuracy"] == pytest.approx(theirs["test_accuracy"], abs=2e-3)
    distributed = torch.load(tmp_path / "ddp" / "checkpoint.pt", weights_only=True)["model"]
    alone = torch.load(tmp_path / "single" / "checkpoint.pt", weights_only=True)["model"]
    assert distributed.keys() == alone.keys()
    for name in alone:
        torch.testing.assert_close(distributed[name], alone[name], atol=2e-5, rtol=1e-4)


def test_a_batch_that_does_not_split_over_the_ranks_is_refused(tmp_path):
    done = torchrun(
        "train",
        "fashion-mlp",
        "--epochs=1",
        "--limit=512",
        "--batch-size=255",
        "--device=cpu",
        "--run-dir",
        str(tmp_path / "run"),
        cwd=tmp_path,
    )
    assert done.returncode != 0
    assert "tk: error: --batch-size 255 does not split evenly over 2 processes" in done.stderr
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_each_rank_takes_its_own_slice_of_the_global_batch():
    from toolkit.train.distributed import Cluster

    batch = torch.arange(256)
    shards = [Cluster(rank, 4, rank).shard(batch) for rank in range(4)]
    assert all(len(s) == 64 for s in shards)
    torch.testing.assert_close(torch.cat(shards), batch)  # disjoint, in order, covering the batch
