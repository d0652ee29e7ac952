"""`tk bench`: run the training, inference and cold-start measurements and report them together."""

import json
import time
from dataclasses import dataclass
from pathlib import Path

from toolkit.atomic import write_text
from toolkit.bench import report as report_module
from toolkit.bench.machine import describe_machine
from toolkit.bench.targets import judge
from toolkit.errors import UsageError
from toolkit.models import get_spec, model_names
from toolkit.train.prepare import RUNS

TRAINING_MODELS = ("fashion-mlp", "fashion-cnn")  # the two the training targets are about
TUTORIAL_EPOCHS = 10  # the tutorial's own


def default_inference_models() -> list:
    return [name for name in model_names() if get_spec(name).trainable]


@dataclass(frozen=True)
class Plan:
    """What one `tk bench` run measures, and under which name it is reported."""

    device: str  # "cpu" or "cuda"
    quick: bool
    training_models: list
    inference_models: list
    seeds: int
    tutorial_epochs: int
    key: str  # one BENCHMARKS.md section (and JSON file) per kind of run
    command: str  # the command line that reproduces it


def make_plan(quick, models, device, seeds, tutorial_epochs) -> Plan:
    """Check the options before minutes of measuring, and fill in the defaults."""
    from toolkit.train.prepare import resolve_device

    dev = resolve_device(device).type
    for name in models or ():
        get_spec(name)  # an unknown name fails here
    if (seeds is not None and seeds < 1) or (tutorial_epochs is not None and tutorial_epochs < 1):
        raise UsageError("--seeds and --tutorial-epochs must be at least 1")
    chosen = models or (["fashion-mlp"] if quick else TRAINING_MODELS)
    given = {"--seeds": seeds, "--tutorial-epochs": tutorial_epochs, "--device": None if device == "auto" else device}
    command = " ".join(
        ["tk bench"]
        + (["--quick"] if quick else [])
        + [f"--model {m}" for m in models or ()]
        + [f"{flag} {value}" for flag, value in given.items() if value is not None]
    )
    return Plan(
        device=dev,
        quick=quick,
        training_models=[m for m in chosen if get_spec(m).dataset == "fashion-mnist"],
        inference_models=list(models or (["fashion-mlp"] if quick else default_inference_models())),
        seeds=seeds or (5 if dev == "cuda" and not quick else 1),
        tutorial_epochs=tutorial_epochs or (1 if quick else TUTORIAL_EPOCHS),
        key=dev + ("-quick" if quick else "") + "".join(f"-{m}" for m in models or ()),
        command=command,
    )


def run_bench(
    *,
    quick: bool = False,
    models=None,
    device: str = "auto",
    seeds=None,
    tutorial_epochs=None,
    json_out=None,
    benchmarks=Path("BENCHMARKS.md"),
    data_dir=None,
    log=print,
) -> dict:
    """Measure, print the tables, write the JSON report and update `benchmarks` (None: leave it alone)."""
    started = time.perf_counter()
    plan = make_plan(quick, models, device, seeds, tutorial_epochs)
    report = measure(plan, data_dir, log)
    report["seconds"] = round(time.perf_counter() - started, 1)
    section = report_module.render(report)
    log("\n" + section)
    json_out = Path(json_out) if json_out is not None else RUNS / "bench" / f"{plan.key}.json"
    json_out.parent.mkdir(parents=True, exist_ok=True)
    write_text(json_out, json.dumps(report, indent=2) + "\n")
    log(f"bench: {report['seconds'] / 60:.1f} minutes -> {json_out}" + (f" and {benchmarks}" if benchmarks else ""))
    if benchmarks is not None:
        report_module.update_benchmarks(Path(benchmarks), plan.key, section)
    return report


def measure(plan: Plan, data_dir, log) -> dict:
    """Training, inference and cold start, then the targets judged against them."""
    from toolkit.bench.cold_start import bench_cold_start
    from toolkit.bench.inference import bench_inference, weights_file
    from toolkit.bench.training import bench_training

    report = {"command": plan.command, "key": plan.key, "machine": describe_machine(), "quick": plan.quick}
    report["training"] = bench_training(
        plan.training_models, plan.device, plan.quick, plan.seeds, plan.tutorial_epochs, data_dir, log
    )
    report["inference"] = bench_inference(plan.inference_models, plan.quick, log=log)
    weights = weights_file("fashion-mlp")
    if weights is not None:
        report["cold_start"] = bench_cold_start(weights, runs=5 if plan.quick else 15, data_dir=data_dir, log=log)
    else:
        log("cold start: skipped (no fashion-mlp weights: no run and no exported/fashion-mlp bundle)")
        report["cold_start"] = None
    report["targets"] = judge(report)
    return report
