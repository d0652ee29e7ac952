"""`tk bench`: run the training, inference and cold-start measurements and report them together."""

import json
import time
from pathlib import Path

from toolkit.atomic import write_text
from toolkit.bench import report as report_module
from toolkit.bench.machine import describe_machine
from toolkit.bench.targets import judge
from toolkit.errors import UsageError
from toolkit.models import get_spec, model_names

TRAINING_MODELS = ("fashion-mlp", "fashion-cnn")  # the two the training targets are about
TUTORIAL_EPOCHS = 10  # the tutorial's own


def default_inference_models() -> list:
    return [name for name in model_names() if get_spec(name).trainable]


def run_bench(*, quick: bool = False, models=None, device: str = "auto", seeds=None, tutorial_epochs=None,
              json_out=None, benchmarks=Path("BENCHMARKS.md"), data_dir=None, log=print) -> dict:  # fmt: skip
    """Measure, print the tables, write the JSON report and update `benchmarks` (None: leave it alone)."""
    from toolkit.bench.cold_start import bench_cold_start
    from toolkit.bench.inference import bench_inference, reference_weights
    from toolkit.bench.training import bench_training
    from toolkit.train import resolve_device

    started = time.perf_counter()
    dev = resolve_device(device).type
    for name in models or ():
        get_spec(name)  # an unknown name fails here, before minutes of measuring
    if (seeds is not None and seeds < 1) or (tutorial_epochs is not None and tutorial_epochs < 1):
        raise UsageError("--seeds and --tutorial-epochs must be at least 1")
    training_models = [m for m in (models or (["fashion-mlp"] if quick else TRAINING_MODELS)) if get_spec(m).dataset == "fashion-mnist"]
    inference_models = list(models or (["fashion-mlp"] if quick else default_inference_models()))
    key = dev + ("-quick" if quick else "") + "".join(f"-{m}" for m in models or ())  # one BENCHMARKS.md section each
    given = {"--seeds": seeds, "--tutorial-epochs": tutorial_epochs, "--device": None if device == "auto" else device}
    command = " ".join(["tk bench"] + (["--quick"] if quick else []) + [f"--model {m}" for m in models or ()]
                       + [f"{flag} {value}" for flag, value in given.items() if value is not None])  # fmt: skip
    seeds = seeds or (5 if dev == "cuda" and not quick else 1)
    tutorial_epochs = tutorial_epochs or (1 if quick else TUTORIAL_EPOCHS)

    report = {"command": command, "key": key, "machine": describe_machine(), "quick": quick}
    report["training"] = bench_training(training_models, dev, quick, seeds, tutorial_epochs, data_dir, log)
    report["inference"] = bench_inference(inference_models, quick, log=log)
    weights = reference_weights("fashion-mlp", Path("runs"))
    if weights is not None:
        report["cold_start"] = bench_cold_start(weights, runs=5 if quick else 15, data_dir=data_dir, log=log)
    else:
        log("cold start: skipped (no fashion-mlp weights: no exported/fashion-mlp bundle and no run)")
        report["cold_start"] = None
    report["targets"] = judge(report)
    report["seconds"] = round(time.perf_counter() - started, 1)

    section = report_module.render(report)
    log("\n" + section)
    json_out = Path(json_out) if json_out is not None else Path("runs") / "bench" / f"{key}.json"
    json_out.parent.mkdir(parents=True, exist_ok=True)
    write_text(json_out, json.dumps(report, indent=2) + "\n")
    log(f"bench: {report['seconds'] / 60:.1f} minutes -> {json_out}" + (f" and {benchmarks}" if benchmarks else ""))
    if benchmarks is not None:
        report_module.update_benchmarks(Path(benchmarks), key, section)
    return report
