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

from toolkit import checkpoint, distributed
from toolkit.atomic import write_text
from toolkit.data import load_dataset
from toolkit.errors import CheckpointError, UsageError
from toolkit.models import get_spec
from toolkit.progress import ProgressBar

EVAL_BATCH = 2048
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")  # torch.compile's; the last two matter on CUDA


@dataclass(frozen=True)
class TrainConfig:
    model: str
    recipe: str
    epochs: int
    batch_size: int | None  # None: the whole dataset in every step
    lr: float
    seed: int
    limit: int | None


def resolve_config(model, recipe=None, epochs=None, batch_size=None, lr=None, seed=None, limit=None):
    spec = get_spec(model)
    if not spec.trainable:
        raise UsageError(f"{model} is not trained by tk (no dataset here); export it with 'tk export {model} --weights FILE'")
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


def make_optimizer(model, config: TrainConfig, recipe, device: torch.device):
    if recipe.optimizer == "adamw":
        # CUDA: one fused kernel for the whole update instead of a few per parameter tensor.
        fused = True if device.type == "cuda" else None
        return torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=recipe.weight_decay, fused=fused)
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(
            model.parameters(), lr=config.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay
        )
    raise ValueError(f"unknown optimizer {recipe.optimizer!r}")


def loss_function(spec, recipe):
    if spec.loss == "cross_entropy":
        return lambda out, y: F.cross_entropy(out, y, label_smoothing=recipe.label_smoothing)
    if spec.loss == "bce":
        return F.binary_cross_entropy  # the model outputs P(class 1), as in the lab
    if spec.loss == "mse":
        return F.mse_loss
    raise ValueError(f"unknown loss {spec.loss!r}")


def metric_name(spec) -> str:
    return "test_mae" if spec.task == "regression" else "test_accuracy"


@torch.no_grad()
def evaluate(spec, model, data) -> float:
    """Test accuracy (classification) or mean absolute error (regression), in eval mode."""
    was_training = model.training
    model.eval()
    score = 0.0
    for start in range(0, len(data.test_x), EVAL_BATCH):
        out = model(data.to_input(data.test_x[start : start + EVAL_BATCH]))
        y = data.test_y[start : start + EVAL_BATCH]
        if spec.task == "regression":
            score += (out - y).abs().sum().item() / out.shape[1]
        elif spec.task == "binary-classification":
            score += ((out > 0.5).float() == y).sum().item()
        else:
            score += (out.argmax(1) == y).sum().item()
    model.train(was_training)
    return score / len(data.test_x)


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
    compile_mode: str = "default",
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
    cluster, dev = distributed.start(dev)  # under torchrun: this rank's device; else (None, dev)
    main = cluster is None or cluster.is_main  # only rank 0 logs and writes files
    if not main:
        log = _silent
    use_compile = (dev.type == "cuda") if compile is None else compile
    if compile_mode not in COMPILE_MODES:
        raise UsageError(f"--compile-mode must be one of {', '.join(COMPILE_MODES)}, got {compile_mode!r}")
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True  # TF32 tensor cores: fp32 storage, ~10-bit mantissa products
        torch.backends.cudnn.allow_tf32 = True

    state = None
    if resume:
        if not (run_dir / checkpoint.CHECKPOINT_NAME).is_file():
            raise CheckpointError(f"{run_dir}: nothing to resume (no {checkpoint.CHECKPOINT_NAME})")
        explicit = {"recipe": recipe, "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed, "limit": limit}
        state, config = _resume_state(run_dir, config, explicit)
    recipe_spec = spec.recipes[config.recipe]

    started = time.perf_counter()
    data = load_dataset(spec.dataset, data_dir)
    if config.limit is not None:
        data = replace(data, train_x=data.train_x[: config.limit], train_y=data.train_y[: config.limit])
    data = data.to(dev)
    data_seconds = time.perf_counter() - started

    torch.manual_seed(config.seed)
    net = spec.build().to(dev)
    optimizer = make_optimizer(net, config, recipe_spec, dev)
    history, first_epoch = [], 0
    if state is not None:
        checkpoint.load_into(net, state["model"], run_dir / checkpoint.CHECKPOINT_NAME)
        optimizer.load_state_dict(state["optimizer"])
        history, first_epoch = list(state["history"]), state["epoch"]
        if first_epoch >= config.epochs:
            log(f"{model}: {run_dir} already finished all {config.epochs} epochs; nothing to resume")
            distributed.finish(cluster)
            return json.loads((run_dir / "metrics.json").read_text())

    samples = len(data.train_x)
    batch = min(config.batch_size or samples, samples)
    batches_per_pass = samples // batch  # the ragged tail is dropped: every step has the same shape
    distributed.check_batch(cluster, batch)
    rank_batch = batch // (cluster.world_size if cluster else 1)
    steps_per_epoch = batches_per_pass * recipe_spec.passes_per_epoch
    total_steps = steps_per_epoch * config.epochs
    # Only the training forward is compiled; `net` stays the eager module that owns the weights.
    train_forward = distributed.wrap(net, spec.train_method, cluster, dev)
    forward = torch.compile(train_forward, mode=compile_mode) if use_compile else train_forward
    # reduce-overhead replays CUDA graphs; marking each step's start lets it reuse their memory safely.
    mark_step = use_compile and compile_mode == "reduce-overhead" and dev.type == "cuda"
    step_fn = _make_step(forward, optimizer, loss_function(spec, recipe_spec), mark_step)
    compile_seconds = _warm_up(forward, net, data, rank_batch) if use_compile else 0.0

    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
    metric = metric_name(spec)
    metrics = {"model": model, "device": str(dev), "recipe": config.recipe, "config": asdict(config),
               "compiled": use_compile, "compile_mode": compile_mode if use_compile else None,
               "data_seconds": round(data_seconds, 3), "compile_seconds": round(compile_seconds, 3),
               "world_size": cluster.world_size if cluster else 1, "epochs": history}  # fmt: skip
    for epoch in range(first_epoch, config.epochs):
        generator = torch.Generator().manual_seed(config.seed * 100_003 + epoch)
        torch.manual_seed(config.seed * 100_003 + epoch)  # dropout and friends, per epoch
        bar = ProgressBar(steps_per_epoch, f"epoch {epoch + 1}/{config.epochs}", enabled=main)
        net.train()
        timer = EpochTimer(dev)
        loss_sum = torch.zeros((), device=dev)
        step = epoch * steps_per_epoch
        for _ in range(recipe_spec.passes_per_epoch):
            order = torch.randperm(samples, generator=generator).to(dev)
            for i in range(batches_per_pass):
                index = order[i * batch : (i + 1) * batch]
                if cluster is not None:
                    index = cluster.shard(index)
                for group in optimizer.param_groups:
                    group["lr"] = learning_rate(step, total_steps, config, recipe_spec)
                loss_sum += step_fn(data.to_input(data.train_x[index]), data.train_y[index])
                step += 1
                bar.update(1)
        seconds = timer.stop()
        train_loss = distributed.mean_over_ranks(loss_sum, cluster).item() / steps_per_epoch  # the epoch's one host sync
        score = evaluate(spec, net, data)
        history.append({"epoch": epoch + 1, "train_loss": round(train_loss, 6), metric: score, "seconds": round(seconds, 3)})
        bar.close(f"loss {train_loss:.4f}  {describe(metric, score)}  {seconds:.1f}s")
        if main:
            checkpoint.save(run_dir / checkpoint.CHECKPOINT_NAME, {
                "model_name": model, "config": asdict(config), "epoch": epoch + 1, "history": history,
                "model": net.state_dict(), "optimizer": optimizer.state_dict(),
            })  # fmt: skip
            _write_metrics(run_dir, metrics, history, metric)

    final = _write_metrics(run_dir, metrics, history, metric, write=main)
    distributed.finish(cluster)
    wall = time.perf_counter() - started
    log(f"{model}: {describe(metric, final[metric])} after {len(history)} epochs; "
        f"{final['train_seconds']:.1f}s training, {wall:.1f}s wall ({dev.type}) -> {run_dir}")  # fmt: skip
    return final


class EpochTimer:
    """Seconds of one epoch's training steps: CUDA events on a GPU (no host sync inside the epoch), else a clock."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        if self.cuda:
            self.start_event = torch.cuda.Event(enable_timing=True)
            self.end_event = torch.cuda.Event(enable_timing=True)
            self.start_event.record()
        self.started = time.perf_counter()

    def stop(self) -> float:
        if not self.cuda:
            return time.perf_counter() - self.started
        self.end_event.record()
        self.end_event.synchronize()
        return self.start_event.elapsed_time(self.end_event) / 1000


def describe(metric: str, score: float) -> str:
    return f"test accuracy {score:.2%}" if metric == "test_accuracy" else f"mean abs error {score:.4g}"


def _write_metrics(run_dir: Path, metrics: dict, history: list, metric: str, write: bool = True) -> dict:
    metrics = dict(metrics, epochs=history)
    metrics[metric] = history[-1][metric] if history else None
    metrics["train_seconds"] = round(sum(e["seconds"] for e in history), 3)
    if write:
        write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return metrics


def _silent(_message):
    pass


def _make_step(forward, optimizer, loss_fn, mark_step: bool = False):
    """One optimisation step; returns the loss as a device tensor (no host sync)."""

    def step(x, y):
        if mark_step:
            torch.compiler.cudagraph_mark_step_begin()
        loss = loss_fn(forward(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.detach()

    return step


def _warm_up(forward, net, data, batch: int) -> float:
    """Trigger compilation of forward and backward outside the timed region, without a weight update."""
    started = time.perf_counter()
    forward(data.to_input(data.train_x[:batch])).float().sum().backward()
    net.zero_grad(set_to_none=True)
    if data.train_x.is_cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - started
