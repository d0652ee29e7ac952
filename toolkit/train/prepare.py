"""Preparing a training run: the config, the device, the resident data, the model, the compiled step.

Everything `train` needs before its first epoch (or its next one, on --resume) is gathered in a Run.
"""

import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from toolkit.data import load_dataset
from toolkit.errors import UsageError
from toolkit.models import get_spec, image_input
from toolkit.models.forward_check import check_forward
from toolkit.models.own_runs import check_resumed
from toolkit.train import checkpoint, distributed
from toolkit.train.recipes import TrainConfig, loss_function, make_optimizer, resolve_config

RUNS = Path("runs")  # where `tk train MODEL` writes by default: runs/<model>/


def default_run_dir(model: str) -> Path:
    return RUNS / model


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA GPU is available here (use --device cpu or auto)")
    if device not in ("cpu", "cuda"):
        raise UsageError(f"--device must be auto, cpu or cuda, got {device!r}")
    return torch.device(device)


@dataclass
class Run:
    """One training run, as prepared: what every epoch needs."""

    spec: object
    config: TrainConfig
    run_dir: Path
    device: torch.device
    cluster: object  # distributed.Cluster under torchrun, else None
    data: object
    net: torch.nn.Module  # the eager module that owns the weights
    optimizer: object
    step: object  # (x, y) -> loss tensor: forward (maybe compiled), backward, update
    history: list
    metrics: dict
    log: object

    @property
    def is_main(self) -> bool:  # only rank 0 logs and writes files
        return self.cluster is None or self.cluster.is_main

    @property
    def recipe(self):
        return self.spec.recipes[self.config.recipe]


def prepare(model, options, device, compile, compile_mode, run_dir, resume, data_dir, log):
    """A Run ready for its first (or next) epoch; None when a resumed run has nothing left to do."""
    config, spec = resolve_config(model, **options), get_spec(model)
    dev = resolve_device(device)
    cluster, dev = distributed.start(dev)  # under torchrun: this rank's device; else (None, dev)
    log = log if cluster is None or cluster.is_main else _silent
    state = None
    if resume:
        state, config = checkpoint.resume_state(run_dir, config, options)
        check_resumed(spec, state.get("data"), run_dir)  # on the data it began with, or not at all
        if state["epoch"] >= config.epochs:
            log(f"{model}: {run_dir} already finished all {config.epochs} epochs; nothing to resume")
            distributed.finish(cluster)
            return None
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True  # TF32 tensor cores: fp32 storage, ~10-bit mantissa products
        torch.backends.cudnn.allow_tf32 = True

    started = time.perf_counter()
    data = load_dataset(spec.dataset, data_dir, image=image_input(spec))
    if config.limit is not None:
        data = replace(data, train_x=data.train_x[: config.limit], train_y=data.train_y[: config.limit])
    data = data.to(dev)
    data_seconds = time.perf_counter() - started

    net = _build(spec, config.seed, dev)
    optimizer = make_optimizer(net, config, spec.recipes[config.recipe])
    history = []
    if state is not None:
        checkpoint.load_into(net, state["model"], run_dir / checkpoint.CHECKPOINT_NAME)
        optimizer.load_state_dict(state["optimizer"])
        history = list(state["history"])
    use_compile = (dev.type == "cuda") if compile is None else compile
    step, compile_seconds = _compiled_step(spec, net, optimizer, data, config, cluster, dev, use_compile, compile_mode)
    metrics = {
        "model": model,
        "device": str(dev),
        "recipe": config.recipe,
        "config": asdict(config),
        "compiled": use_compile,
        "compile_mode": compile_mode if use_compile else None,
        "data_seconds": round(data_seconds, 3),
        "compile_seconds": round(compile_seconds, 3),
        "world_size": cluster.world_size if cluster else 1,
    }
    if spec.data_record is not None:  # own data: where from, and how many samples on each side
        metrics["data"] = {key: spec.data_record.get(key) for key in ("kind", "path", "digest", "train", "test")}
    return Run(spec, config, run_dir, dev, cluster, data, net, optimizer, step, history, metrics, log)


def _build(spec, seed: int, dev) -> torch.nn.Module:
    """The model with its seeded initial weights, on the device; one that does not take its input is refused."""
    torch.manual_seed(seed)
    net = spec.build()
    if spec.source is not None or spec.data_record is not None:  # yours, or fitted to your data: ask first
        check_forward(net.eval(), spec)
        net.train()
    return net.to(dev)


def _compiled_step(spec, net, optimizer, data, config, cluster, dev, use_compile, compile_mode) -> tuple:
    """(the step function, seconds spent compiling it): only the training forward is compiled."""
    samples = len(data.train_x)
    batch = min(config.batch_size or samples, samples)
    distributed.check_batch(cluster, batch)
    train_forward = distributed.wrap(net, spec.train_method, cluster, dev)
    forward = torch.compile(train_forward, mode=compile_mode) if use_compile else train_forward
    # reduce-overhead replays CUDA graphs; marking each step's start lets it reuse their memory safely.
    mark_step = use_compile and compile_mode == "reduce-overhead" and dev.type == "cuda"
    step = _make_step(forward, optimizer, loss_function(spec, spec.recipes[config.recipe]), mark_step)
    rank_batch = batch // (cluster.world_size if cluster else 1)
    return step, (_warm_up(forward, net, data, rank_batch) if use_compile else 0.0)


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


def _silent(_message):
    pass
