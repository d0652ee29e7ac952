"""Training: the dataset as tensors on the device, shuffled slices, torch.compile on CUDA.

One call, `train(...)`, trains a registered model with its recipe, writes `checkpoint.pt` after every
epoch (atomically) and `metrics.json`, and can resume an interrupted run where it stopped. Each
epoch's shuffle and RNG state come from (seed, epoch), so a resumed run matches an uninterrupted one.
"""

import json
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F

from toolkit import checkpoint
from toolkit.atomic import write_text
from toolkit.data import load_fashion_mnist
from toolkit.errors import CheckpointError, UsageError
from toolkit.models import get_spec
from toolkit.progress import ProgressBar

EVAL_BATCH = 2048


@dataclass(frozen=True)
class TrainConfig:
    model: str
    recipe: str
    epochs: int
    batch_size: int
    lr: float
    seed: int
    limit: int | None


def resolve_config(model, recipe=None, epochs=None, batch_size=None, lr=None, seed=None, limit=None):
    spec = get_spec(model)
    recipe = recipe or "default"
    if recipe not in spec.recipes:
        raise UsageError(f"model {model!r} has no recipe {recipe!r}; choose from {', '.join(spec.recipes)}")
    base = spec.recipes[recipe]
    config = TrainConfig(
        model=model, recipe=recipe,
        epochs=base.epochs if epochs is None else epochs,
        batch_size=base.batch_size if batch_size is None else batch_size,
        lr=base.lr if lr is None else lr,
        seed=0 if seed is None else seed,
        limit=limit,
    )  # fmt: skip
    for name in ("epochs", "batch_size", "limit"):
        value = getattr(config, name)
        if value is not None and value < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if not config.lr > 0:
        raise UsageError(f"--lr must be positive, got {config.lr}")
    return config


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA GPU is available here (use --device cpu or auto)")
    if device not in ("cpu", "cuda"):
        raise UsageError(f"--device must be auto, cpu or cuda, got {device!r}")
    return torch.device(device)


def learning_rate(step: int, total_steps: int, config: TrainConfig, recipe) -> float:
    """Constant, or one-cycle: linear warm-up to the peak, then cosine down to zero."""
    if recipe.schedule == "constant":
        return config.lr
    progress = step / max(total_steps, 1)
    if progress < recipe.warmup_fraction:
        return config.lr * progress / recipe.warmup_fraction
    cooled = (progress - recipe.warmup_fraction) / (1 - recipe.warmup_fraction)
    return config.lr * 0.5 * (1 + math.cos(math.pi * cooled))


def make_optimizer(model, config: TrainConfig, recipe):
    if recipe.optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=recipe.weight_decay)
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(
            model.parameters(), lr=config.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay
        )
    raise ValueError(f"unknown optimizer {recipe.optimizer!r}")


def as_input(images_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 [N, 28, 28] -> float32 [N, 1, 28, 28] in [0, 1], the exported models' input contract."""
    return images_uint8.unsqueeze(1).float().div_(255.0)


@torch.no_grad()
def evaluate(model, images: torch.Tensor, labels: torch.Tensor) -> float:
    was_training = model.training
    model.eval()
    correct = 0
    for start in range(0, len(images), EVAL_BATCH):
        logits = model(as_input(images[start : start + EVAL_BATCH]))
        correct += (logits.argmax(1) == labels[start : start + EVAL_BATCH]).sum().item()
    model.train(was_training)
    return correct / len(images)


def _resume_state(run_dir: Path, config: TrainConfig, explicit: dict):
    """Load the run's checkpoint; options given on the command line must match the run's own."""
    state = checkpoint.load_training_checkpoint(run_dir / checkpoint.CHECKPOINT_NAME, config.model)
    stored = TrainConfig(**state["config"])
    for name, value in explicit.items():
        if value is not None and getattr(stored, name) != value:
            raise CheckpointError(
                f"{run_dir}: run was started with {name}={getattr(stored, name)}, not {value}; "
                "resume with the same options or train again without --resume"
            )
    return state, stored


def train(
    model: str,
    *,
    recipe: str | None = None,
    epochs=None,
    batch_size=None,
    lr=None,
    seed=None,
    limit=None,
    device: str = "auto",
    compile: bool | None = None,
    run_dir=None,
    resume: bool = False,
    data_dir=None,
    log=print,
) -> dict:
    """Train `model`; returns the metrics dict that is also written to <run_dir>/metrics.json."""
    config = resolve_config(model, recipe, epochs, batch_size, lr, seed, limit)
    spec = get_spec(model)
    run_dir = Path(run_dir) if run_dir is not None else Path("runs") / model
    dev = resolve_device(device)
    use_compile = (dev.type == "cuda") if compile is None else compile

    state = None
    if resume:
        if not (run_dir / checkpoint.CHECKPOINT_NAME).is_file():
            raise CheckpointError(f"{run_dir}: nothing to resume (no {checkpoint.CHECKPOINT_NAME})")
        explicit = {"recipe": recipe, "epochs": epochs,
                    "batch_size": batch_size, "lr": lr, "seed": seed, "limit": limit}  # fmt: skip
        state, config = _resume_state(run_dir, config, explicit)
    recipe_spec = spec.recipes[config.recipe]

    started = time.perf_counter()
    data = load_fashion_mnist(data_dir)
    train_x, train_y = data.train_images, data.train_labels
    if config.limit is not None:
        train_x, train_y = train_x[: config.limit], train_y[: config.limit]
    train_x, train_y = train_x.to(dev), train_y.to(dev)
    test_x, test_y = data.test_images.to(dev), data.test_labels.to(dev)
    data_seconds = time.perf_counter() - started

    torch.manual_seed(config.seed)
    net = spec.build().to(dev)
    optimizer = make_optimizer(net, config, recipe_spec)
    history, first_epoch = [], 0
    if state is not None:
        checkpoint.load_into(net, state["model"], run_dir / checkpoint.CHECKPOINT_NAME)
        optimizer.load_state_dict(state["optimizer"])
        history, first_epoch = list(state["history"]), state["epoch"]
        if first_epoch >= config.epochs:
            log(f"{model}: {run_dir} already finished all {config.epochs} epochs; nothing to resume")
            return json.loads((run_dir / "metrics.json").read_text())

    steps_per_epoch = max(1, len(train_x) // config.batch_size)  # drop the ragged tail: fixed shapes
    total_steps = steps_per_epoch * config.epochs
    # Only the forward pass is compiled; `net` stays the eager module that owns the weights.
    forward = torch.compile(net) if use_compile else net
    step_fn = _make_step(forward, optimizer, recipe_spec)
    compile_seconds = _warm_up(forward, net, train_x, train_y, config) if use_compile else 0.0

    run_dir.mkdir(parents=True, exist_ok=True)
    metrics = {"model": model, "device": str(dev), "recipe": config.recipe, "config": asdict(config),
               "compiled": use_compile, "data_seconds": round(data_seconds, 3),
               "compile_seconds": round(compile_seconds, 3), "epochs": history}  # fmt: skip
    for epoch in range(first_epoch, config.epochs):
        generator = torch.Generator().manual_seed(config.seed * 100_003 + epoch)
        torch.manual_seed(config.seed * 100_003 + epoch)  # dropout and friends, per epoch
        order = torch.randperm(len(train_x), generator=generator).to(dev)
        bar = ProgressBar(steps_per_epoch, f"epoch {epoch + 1}/{config.epochs}")
        net.train()
        epoch_started = time.perf_counter()
        loss_sum = torch.zeros((), device=dev)
        for i in range(steps_per_epoch):
            index = order[i * config.batch_size : (i + 1) * config.batch_size]
            lr_now = learning_rate(epoch * steps_per_epoch + i, total_steps, config, recipe_spec)
            for group in optimizer.param_groups:
                group["lr"] = lr_now
            loss_sum += step_fn(as_input(train_x[index]), train_y[index])
            bar.update(1)
        train_loss = loss_sum.item() / steps_per_epoch  # the one host sync of the epoch
        seconds = time.perf_counter() - epoch_started
        accuracy = evaluate(net, test_x, test_y)
        history.append({"epoch": epoch + 1, "train_loss": round(train_loss, 6),
                        "test_accuracy": accuracy, "seconds": round(seconds, 3)})  # fmt: skip
        bar.close(f"loss {train_loss:.4f}  test accuracy {accuracy:.2%}  {seconds:.1f}s")
        checkpoint.save(run_dir / checkpoint.CHECKPOINT_NAME, {
            "model_name": model, "config": asdict(config), "epoch": epoch + 1, "history": history,
            "model": net.state_dict(), "optimizer": optimizer.state_dict(),
        })  # fmt: skip
        _write_metrics(run_dir, metrics, history)

    final = _write_metrics(run_dir, metrics, history)
    wall = time.perf_counter() - started
    log(f"{model}: test accuracy {final['test_accuracy']:.2%} after {len(history)} epochs; "
        f"{final['train_seconds']:.1f}s training, {wall:.1f}s wall ({dev.type}) -> {run_dir}")  # fmt: skip
    return final


def _write_metrics(run_dir: Path, metrics: dict, history: list) -> dict:
    metrics = dict(metrics, epochs=history)
    metrics["test_accuracy"] = history[-1]["test_accuracy"] if history else None
    metrics["train_seconds"] = round(sum(e["seconds"] for e in history), 3)
    write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return metrics


def _make_step(forward, optimizer, recipe):
    """One optimisation step; returns the loss as a device tensor (no host sync)."""

    def step(x, y):
        loss = F.cross_entropy(forward(x), y, label_smoothing=recipe.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.detach()

    return step


def _warm_up(forward, net, train_x, train_y, config) -> float:
    """Trigger compilation of forward and backward outside the timed region, without a weight update."""
    started = time.perf_counter()
    n = min(config.batch_size, len(train_x))
    loss = F.cross_entropy(forward(as_input(train_x[:n])), train_y[:n])
    loss.backward()
    net.zero_grad(set_to_none=True)
    if train_x.is_cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - started
