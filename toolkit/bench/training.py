"""Training measurements: the tutorial's loop vs tk's recipe, eager and compiled, each in a fresh process.

Per variant: median seconds per epoch (training steps only; evaluation and compilation are outside
the timed region), the training seconds until test accuracy first reached 85% and the model's own
target (at epoch granularity: accuracy is measured after each epoch), final accuracy, compile time
cold (empty inductor cache) and warm (the same cache again), peak memory, and for a chain of Linear
layers the epochs against their matmul floor.
"""

import json
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass

from toolkit.errors import ToolkitError
from toolkit.models import get_spec
from toolkit.train import COMPILE_MODES

MILESTONE = 0.85


@dataclass(frozen=True)
class Variant:
    label: str
    kind: str  # "tutorial" or "tk"
    compile_mode: str | None = None  # tk only: None is eager
    recipe: str | None = None  # tk only: None is the model's default recipe


def variants_for(model: str, device: str, quick: bool) -> list:
    found = [Variant("tutorial loop (DataLoader, batch 64, SGD)", "tutorial"), Variant("tk eager", "tk")]
    if quick:
        return found
    modes = COMPILE_MODES if device == "cuda" else ("default",)
    found += [Variant(f"tk torch.compile {mode}", "tk", mode) for mode in modes]
    if device == "cuda" and "large-batch" in get_spec(model).recipes:  # the recipe made for GPUs
        found.append(
            Variant("tk large-batch recipe, torch.compile reduce-overhead", "tk", "reduce-overhead", "large-batch")
        )
    return found


def run_worker(job: dict, log=print) -> dict:
    """Run one job in a fresh process, passing its per-epoch summary lines on to `log` as they come."""
    command = [sys.executable, "-m", "toolkit.bench.worker", json.dumps(job)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as worker:
        errors = []
        for line in worker.stderr:  # stdout holds one short JSON line, so it cannot fill up meanwhile
            errors.append(line.rstrip())
            if line.startswith("epoch "):
                log(f"    {line.rstrip()}")
        output = worker.stdout.read()
    if worker.returncode != 0:
        last = next((line for line in reversed(errors) if line.strip()), "no output")
        raise ToolkitError(f"bench worker for {job['model']} ({job['kind']}) failed: {last}")
    return json.loads(output.strip().splitlines()[-1])


def seconds_until(history: list, accuracy: float):
    """Training seconds summed up to the first epoch whose test accuracy reached `accuracy`; None if never."""
    elapsed = 0.0
    for epoch in history:
        elapsed += epoch["seconds"]
        if epoch["test_accuracy"] >= accuracy:
            return round(elapsed, 3)
    return None


def summarize(variant: Variant, model: str, results: list, warm_compile) -> dict:
    """One row from the runs of a variant (one run per seed; timings from the first seed's run)."""
    spec = get_spec(model)
    first = results[0]
    history = first["epochs"]
    finals = [r["epochs"][-1]["test_accuracy"] for r in results]
    return {
        "model": model,
        "variant": variant.label,
        "kind": variant.kind,
        "compile_mode": variant.compile_mode,
        "recipe": variant.recipe or "default",
        "device": first["device"],
        "epochs": len(history),
        "seeds": len(results),
        "epoch_seconds_median": round(statistics.median(e["seconds"] for e in history), 3),
        "train_seconds": round(sum(e["seconds"] for e in history), 3),
        "first_epoch_accuracy": history[0]["test_accuracy"],
        "seconds_to_85": seconds_until(history, MILESTONE),
        "target_accuracy": spec.reference_accuracy,
        "seconds_to_target": seconds_until(history, spec.reference_accuracy),
        "final_accuracy": first["epochs"][-1]["test_accuracy"],
        "final_accuracy_mean": round(statistics.fmean(finals), 6),
        "train_seconds_by_seed": [round(sum(e["seconds"] for e in r["epochs"]), 3) for r in results],
        "compile_seconds_cold": first.get("compile_seconds") if variant.compile_mode else None,
        "compile_seconds_warm": warm_compile,
        "peak_memory_mb": first["peak_memory_mb"],
        "accuracy_by_epoch": [e["test_accuracy"] for e in history],
        **against_floor(history, seconds_until(history, spec.reference_accuracy)),
    }


def against_floor(history: list, seconds_to_target) -> dict:
    """The epochs against their matmul floor (toolkit.bench.floor), when the worker measured one after each:
    the median of the per-epoch ratios, and the time to the target in floor-epochs."""
    if not history or "floor_seconds" not in history[0]:
        return {"floor_epoch_seconds": None, "x_floor": None, "floor_epochs_to_target": None}
    floor = statistics.median(e["floor_seconds"] for e in history)
    return {
        "floor_epoch_seconds": round(floor, 6),  # a quick run's floor is ~0.04 s: 3 decimals would be 1% off
        "x_floor": round(statistics.median(e["seconds"] / e["floor_seconds"] for e in history), 3),
        "floor_epochs_to_target": None if seconds_to_target is None else round(seconds_to_target / floor, 2),
    }


def bench_training(
    models, device: str, quick: bool, seeds: int, tutorial_epochs: int, data_dir=None, log=print
) -> list:
    rows = []
    for model in models:
        for variant in variants_for(model, device, quick):
            log(f"training {model}: {variant.label} ...")
            base = {"model": model, "kind": variant.kind, "data_dir": str(data_dir) if data_dir else None}
            if variant.kind == "tutorial":
                results = [run_worker(dict(base, epochs=tutorial_epochs), log)]
                warm = None
            else:
                with tempfile.TemporaryDirectory() as cache:
                    job = dict(
                        base,
                        device=device,
                        compile_mode=variant.compile_mode,
                        recipe=variant.recipe,
                        inductor_cache=cache,
                    )
                    results = [run_worker(dict(job, seed=seed), log) for seed in range(seeds)]
                    warm = None
                    if variant.compile_mode:  # the same cache again, for one short epoch: the warm compile
                        warm = run_worker(dict(job, epochs=1, limit=8192), lambda _line: None)["compile_seconds"]
            row = summarize(variant, model, results, warm)
            rows.append(row)
            log(
                f"  {row['epoch_seconds_median']:.2f} s/epoch, {row['final_accuracy']:.2%} after {row['epochs']} epochs"
            )
    return rows
