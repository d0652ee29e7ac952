"""The training loop: the dataset as tensors on the device, shuffled slices, torch.compile on CUDA.

`train(...)` prepares a run (config, device, data, model, optimizer, compiled step), runs its epochs
and finishes it. Each epoch writes `checkpoint.pt` (atomically) and `metrics.json`; each epoch's
shuffle and RNG state come from (seed, epoch), so a resumed run matches an uninterrupted one.
"""

import json
import time
from dataclasses import asdict
from pathlib import Path

import torch

from toolkit.atomic import write_text
from toolkit.errors import UsageError
from toolkit.progress import ProgressBar
from toolkit.train import COMPILE_MODES, checkpoint, distributed
from toolkit.train.curves import write_curves
from toolkit.train.evaluation import describe, evaluate, metric_name
from toolkit.train.prepare import Run, default_run_dir, prepare
from toolkit.train.recipes import learning_rate

METRICS_NAME = "metrics.json"


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
    compile_mode: str | None = None,
    run_dir=None,
    resume: bool = False,
    force: bool = False,
    data_dir=None,
    log=print,
    after_epoch=None,
) -> dict:
    """Train `model`; returns the metrics dict that is also written to <run_dir>/metrics.json.

    `compile`: torch.compile the training forward (default: on CUDA only); a `compile_mode` implies it.
    A run_dir that already holds a run is continued with `resume`, replaced with `force`, else refused.
    `after_epoch(entry)` is called with each epoch's metrics entry, outside the timed steps (tk bench
    measures the matmul floor there); keys it adds go into the final metrics.json."""
    options = {"recipe": recipe, "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed, "limit": limit}
    if compile_mode is not None:
        if compile is False:
            raise UsageError("--compile-mode needs torch.compile; drop --no-compile")
        if compile_mode not in COMPILE_MODES:
            raise UsageError(f"--compile-mode must be one of {', '.join(COMPILE_MODES)}, got {compile_mode!r}")
        compile = True
    run_dir = Path(run_dir) if run_dir is not None else default_run_dir(model)
    if not resume and not force and (run_dir / checkpoint.CHECKPOINT_NAME).exists():
        raise UsageError(f"{run_dir} already holds a run; --resume continues it, --force trains a new one over it")
    started = time.perf_counter()
    run = prepare(model, options, device, compile, compile_mode or "default", run_dir, resume, data_dir, log)
    if run is None:  # resumed a run that had already finished
        return json.loads((run_dir / METRICS_NAME).read_text())
    if run.is_main and run.spec.data_record is not None:  # own data: what export finds the model by
        from toolkit.models.own_runs import write_record

        write_record(run.run_dir, run.spec)
    for epoch in range(len(run.history), run.config.epochs):
        run_epoch(run, epoch)
        if after_epoch is not None:
            after_epoch(run.history[-1])
    return finish(run, time.perf_counter() - started)


def run_epoch(run: Run, epoch: int) -> None:
    """One epoch of shuffled, equally sized batches; then its evaluation, checkpoint and metrics."""
    config, recipe, data = run.config, run.recipe, run.data
    samples = len(data.train_x)
    batch = min(config.batch_size or samples, samples)
    batches_per_pass = samples // batch  # the ragged tail is dropped: every step has the same shape
    steps_per_epoch = batches_per_pass * recipe.passes_per_epoch
    generator = torch.Generator().manual_seed(config.seed * 100_003 + epoch)
    torch.manual_seed(config.seed * 100_003 + epoch)  # dropout and friends, per epoch
    bar = ProgressBar(steps_per_epoch, f"epoch {epoch + 1}/{config.epochs}", enabled=run.is_main)
    run.net.train()
    timer = EpochTimer(run.device)
    loss_sum = torch.zeros((), device=run.device)
    step = epoch * steps_per_epoch
    for _ in range(recipe.passes_per_epoch):
        order = torch.randperm(samples, generator=generator).to(run.device)
        for i in range(batches_per_pass):
            index = order[i * batch : (i + 1) * batch]
            if run.cluster is not None:
                index = run.cluster.shard(index)
            for group in run.optimizer.param_groups:
                group["lr"] = learning_rate(step, steps_per_epoch * config.epochs, config, recipe)
            # index_select, not train_x[index]: on the CPU advanced indexing gathers a uint8 batch ~10x slower
            x, y = data.train_x.index_select(0, index), data.train_y.index_select(0, index)
            loss_sum += run.step(data.to_input(x), y)
            step += 1
            bar.update(1)
    seconds = timer.stop()
    train_loss = distributed.mean_over_ranks(loss_sum, run.cluster).item() / steps_per_epoch  # the one host sync
    metric = metric_name(run.spec)
    score = evaluate(run.spec, run.net, data)
    run.history.append(
        {
            "epoch": epoch + 1,
            "steps": steps_per_epoch,
            "train_loss": round(train_loss, 6),
            metric: score,
            "seconds": round(seconds, 3),
        }
    )
    bar.close(f"loss {train_loss:.4f}  {describe(metric, score)}  {seconds:.1f}s")
    if run.is_main:
        _save_checkpoint(run, epoch + 1)
        _write_metrics(run)


def finish(run: Run, seconds: float) -> dict:
    """The final metrics.json, curves.png and the summary line; leaves the process group."""
    final = _write_metrics(run, write=run.is_main)
    metric = metric_name(run.spec)
    if run.is_main and run.history:
        target = run.spec.reference_accuracy if metric == "test_accuracy" else None
        write_curves(run.run_dir, run.history, metric, target, run.config.model)
    distributed.finish(run.cluster)
    run.log(
        f"{run.config.model}: {describe(metric, final[metric])} after {len(run.history)} epochs; "
        f"{final['train_seconds']:.1f}s training, {seconds:.1f}s wall ({run.device.type}) -> {run.run_dir}"
    )
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


def _save_checkpoint(run: Run, epochs_done: int) -> None:
    checkpoint.save(
        run.run_dir / checkpoint.CHECKPOINT_NAME,
        {
            "model_name": run.config.model,
            "config": asdict(run.config),
            "epoch": epochs_done,
            "history": run.history,
            "device": str(run.device),  # where it trained, for the bundle's record
            "data": run.spec.data_record,  # own data: where it came from
            "model": run.net.state_dict(),
            "optimizer": run.optimizer.state_dict(),
        },
    )


def _write_metrics(run: Run, write: bool = True) -> dict:
    metric = metric_name(run.spec)
    metrics = dict(run.metrics, epochs=run.history)
    metrics[metric] = run.history[-1][metric] if run.history else None
    metrics["train_seconds"] = round(sum(e["seconds"] for e in run.history), 3)
    if write:
        run.run_dir.mkdir(parents=True, exist_ok=True)
        write_text(run.run_dir / METRICS_NAME, json.dumps(metrics, indent=2) + "\n")
    return metrics
