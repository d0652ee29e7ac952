"""tk train: recipes, checkpoints, resume, metrics.json, and the real default recipe's accuracy."""

import json

import pytest
import torch

from toolkit.train import checkpoint, train
from toolkit.train.checkpoint import load_training_checkpoint

from conftest import quiet


def test_quick_train_through_cli(cli, in_tmp):
    result = cli("train", "fashion-mlp", "--epochs", "2", "--limit", "2000", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "test accuracy" in result.stdout
    metrics = json.loads((in_tmp / "runs/fashion-mlp/metrics.json").read_text())
    assert {"model", "device", "epochs", "test_accuracy", "train_seconds"} <= set(metrics)
    assert metrics["model"] == "fashion-mlp" and metrics["device"] == "cpu"
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2]
    assert set(metrics["epochs"][0]) == {"epoch", "steps", "train_loss", "test_accuracy", "seconds"}
    assert metrics["epochs"][0]["steps"] == 2000 // 256  # the ragged tail is dropped
    assert metrics["train_seconds"] == pytest.approx(sum(e["seconds"] for e in metrics["epochs"]), abs=1e-2)
    assert 0.5 < metrics["test_accuracy"] <= 1.0
    curves = (in_tmp / "runs/fashion-mlp/curves.png").read_bytes()  # train loss and accuracy per epoch
    assert curves.startswith(b"\x89PNG") and len(curves) > 10_000
    ckpt = load_training_checkpoint(in_tmp / "runs/fashion-mlp/checkpoint.pt", "fashion-mlp")
    assert ckpt["epoch"] == 2
    assert not any(k.startswith("_orig_mod") for k in ckpt["model"])


def test_resume_matches_an_uninterrupted_run(tmp_path, monkeypatch):
    options = dict(epochs=3, limit=1500, batch_size=100, device="cpu", log=quiet)
    train("fashion-mlp", run_dir=tmp_path / "straight", **options)

    # Interrupt a second, identical run right after its first checkpoint is written.
    original_save = checkpoint.save

    def save_then_interrupt(path, payload):
        original_save(path, payload)
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint, "save", save_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        train("fashion-mlp", run_dir=tmp_path / "interrupted", **options)
    monkeypatch.setattr(checkpoint, "save", original_save)
    interrupted = load_training_checkpoint(tmp_path / "interrupted" / "checkpoint.pt", "fashion-mlp")
    assert interrupted["epoch"] == 1

    resumed = train("fashion-mlp", run_dir=tmp_path / "interrupted", resume=True, device="cpu", log=quiet)
    assert [e["epoch"] for e in resumed["epochs"]] == [1, 2, 3]
    straight = load_training_checkpoint(tmp_path / "straight" / "checkpoint.pt", "fashion-mlp")
    finished = load_training_checkpoint(tmp_path / "interrupted" / "checkpoint.pt", "fashion-mlp")
    for key, value in straight["model"].items():
        assert torch.equal(value, finished["model"][key]), key


def test_resume_with_other_options_is_refused(cli, quick_run):
    result = cli("train", "--run-dir", quick_run, "--resume", "--lr", "0.5")
    assert result.exit_code == 1
    assert "run was started with lr=" in result.stderr and "Traceback" not in result.output


def test_resume_without_checkpoint(cli, tmp_path):
    result = cli("train", "--run-dir", tmp_path / "empty", "--resume")
    assert result.exit_code == 1 and "nothing to resume" in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--epochs", "0"], "--epochs must be at least 1"),
        (["--recipe", "fastest"], "has no recipe 'fastest'"),
        (["no-such-model"], "unknown model 'no-such-model'"),
        (["--compile-mode", "reduce-overhead", "--no-compile"], "--compile-mode needs torch.compile"),
    ],
)
def test_bad_options_are_one_line(cli, in_tmp, args, message):
    result = cli("train", *args)
    assert result.exit_code != 0 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_tutorial_recipe_is_available(in_tmp):
    metrics = train("fashion-mlp", recipe="tutorial", epochs=1, limit=640, device="cpu", log=quiet)
    assert metrics["recipe"] == "tutorial" and metrics["config"]["batch_size"] == 64
    assert metrics["config"]["lr"] == 1e-3


@pytest.mark.slow
def test_default_recipe_reaches_target(tmp_path):
    """The full default recipe on the full training split (about 16 s on 2 CPU cores)."""
    metrics = train("fashion-mlp", run_dir=tmp_path, device="cpu", log=quiet)
    assert len(metrics["epochs"]) == 8
    assert metrics["epochs"][0]["test_accuracy"] >= 0.84
    assert metrics["test_accuracy"] >= 0.89


@pytest.mark.slow
def test_large_batch_recipe_reaches_target(tmp_path):
    """fashion-mlp's recipe for GPUs, checked where it is cheap to check: 12 epochs of batch 1024 (about 16 s)."""
    metrics = train("fashion-mlp", recipe="large-batch", run_dir=tmp_path, device="cpu", log=quiet)
    assert metrics["config"]["batch_size"] == 1024 and len(metrics["epochs"]) == 12
    assert metrics["test_accuracy"] >= 0.89


def test_compile_mode_is_recorded(tmp_path):
    metrics = train(
        "fashion-mlp",
        epochs=1,
        limit=1024,
        device="cpu",
        compile=True,
        compile_mode="default",
        run_dir=tmp_path,
        log=quiet,
    )
    assert metrics["compiled"] and metrics["compile_mode"] == "default" and metrics["compile_seconds"] > 0
    assert metrics["world_size"] == 1
