"""The performance targets tk holds itself to, judged against a bench report.

Each target is met (True), missed (False) or not measured (None: that part did not run here, e.g.
every GPU target on a machine without one). Judging never raises: a missing row is "not measured".
"""

CPU_TRAIN_SECONDS, CPU_ACCURACY, CPU_FIRST_EPOCH, CPU_EPOCH_SPEEDUP = 20.0, 0.89, 0.84, 3.0
CPU_X_FLOOR, CPU_FLOOR_EPOCHS_TO_TARGET = 1.6, 14.0  # an epoch against its matmul floor (toolkit.bench.floor)
INFER_SECONDS, INFER_SPEEDUP = 0.3, 5.0
ORT_CPU_BATCH1_US = 100.0
GPU_MLP_SECONDS, GPU_MLP_ACCURACY, GPU_CNN_SECONDS, GPU_CNN_ACCURACY = 0.5, 0.89, 3.0, 0.92
ORT_CUDA_SPEEDUP = 1.3


def _row(rows, **match):
    return next((r for r in rows if all(r.get(k) == v for k, v in match.items())), None)


def _mean_seconds(row) -> float:
    return sum(row["train_seconds_by_seed"]) / len(row["train_seconds_by_seed"])


def _fastest_gpu_row(rows, model, accuracy):
    """The quickest tk variant on CUDA among those reaching `accuracy` on average (else the quickest)."""
    found = [r for r in rows if r["model"] == model and r["kind"] == "tk" and r["device"].startswith("cuda")]
    good = [r for r in found if r["final_accuracy_mean"] >= accuracy] or found
    return min(good, key=_mean_seconds, default=None)


def judge(report: dict) -> list:
    """Every target, met (True), missed (False) or not measured (None)."""
    return cpu_targets(report) + gpu_targets(report)


def _collector() -> tuple:
    targets = []

    def add(name, measured, met):
        targets.append({"target": name, "measured": measured, "met": met})

    return targets, add


def cpu_targets(report: dict) -> list:
    training, inference, cold = report.get("training", []), report.get("inference", []), report.get("cold_start")
    targets, add = _collector()
    eager = _row(training, model="fashion-mlp", kind="tk", compile_mode=None, device="cpu")
    tutorial = _row(training, model="fashion-mlp", kind="tutorial")
    if eager:
        add(
            f"CPU: fashion-mlp default recipe >= {CPU_ACCURACY:.1%} in <= {CPU_TRAIN_SECONDS:g} s of training",
            f"{eager['final_accuracy']:.2%} in {eager['train_seconds']:.1f} s",
            eager["final_accuracy"] >= CPU_ACCURACY and eager["train_seconds"] <= CPU_TRAIN_SECONDS,
        )
        add(
            f"CPU: fashion-mlp >= {CPU_FIRST_EPOCH:.0%} after one epoch",
            f"{eager['first_epoch_accuracy']:.2%}",
            eager["first_epoch_accuracy"] >= CPU_FIRST_EPOCH,
        )
        floor_targets(eager, add)
    else:
        add("CPU: fashion-mlp training targets", "not measured (no CPU training run)", None)
    if eager and tutorial:
        ratio = tutorial["epoch_seconds_median"] / eager["epoch_seconds_median"]
        add(
            f"CPU: one epoch >= {CPU_EPOCH_SPEEDUP:g}x faster than the tutorial loop",
            f"{ratio:.2f}x ({eager['epoch_seconds_median']:.2f} s vs {tutorial['epoch_seconds_median']:.2f} s)",
            ratio >= CPU_EPOCH_SPEEDUP,
        )
    if cold:
        add(
            f"tk infer one image <= {INFER_SECONDS:g} s process wall time and >= {INFER_SPEEDUP:g}x the torch script",
            f"{cold['tk_infer_seconds']:.3f} s, {cold['speedup']:.1f}x",
            cold["tk_infer_seconds"] <= INFER_SECONDS and cold["speedup"] >= INFER_SPEEDUP,
        )
    ort = _row(inference, model="fashion-mlp", runtime="onnxruntime-cpu", artifact="model.onnx")
    add(
        f"ONNX Runtime CPU batch-1 p50 <= {ORT_CPU_BATCH1_US:g} us (fashion-mlp)",
        f"{ort['batch1_p50_us']:.0f} us (p99 {ort['batch1_p99_us']:.0f} us)" if ort else "not measured",
        ort["batch1_p50_us"] <= ORT_CPU_BATCH1_US if ort else None,
    )
    return targets


def floor_targets(eager: dict, add) -> None:
    if eager.get("x_floor") is None:
        add("CPU: fashion-mlp against its matmul floor", "not measured", None)
        return
    add(
        f"CPU: one fashion-mlp epoch <= {CPU_X_FLOOR:g}x its matmul floor (median of the epochs)",
        f"{eager['x_floor']:.2f}x ({eager['epoch_seconds_median']:.2f} s vs {eager['floor_epoch_seconds']:.2f} s)",
        eager["x_floor"] <= CPU_X_FLOOR,
    )
    to_target = eager["floor_epochs_to_target"]
    add(
        f"CPU: fashion-mlp default recipe >= {CPU_ACCURACY:.1%} within {CPU_FLOOR_EPOCHS_TO_TARGET:g} floor-epochs",
        "never reached" if to_target is None else f"{to_target:.1f} floor-epochs ({eager['seconds_to_target']:.2f} s)",
        to_target is not None and to_target <= CPU_FLOOR_EPOCHS_TO_TARGET,
    )


def gpu_targets(report: dict) -> list:
    training, inference = report.get("training", []), report.get("inference", [])
    targets, add = _collector()
    for model, seconds, accuracy in (
        ("fashion-mlp", GPU_MLP_SECONDS, GPU_MLP_ACCURACY),
        ("fashion-cnn", GPU_CNN_SECONDS, GPU_CNN_ACCURACY),
    ):
        best = _fastest_gpu_row(training, model, accuracy)
        name = f"GPU: {model} >= {accuracy:.1%} (mean of seeds) in <= {seconds:g} s of training"
        if best is None:
            add(name, "not measured on GPU yet", None)
        else:
            mean = _mean_seconds(best)
            add(
                name,
                f"{best['final_accuracy_mean']:.2%} over {best['seeds']} seeds in {mean:.2f} s ({best['variant']})",
                best["final_accuracy_mean"] >= accuracy and mean <= seconds,
            )
    cuda = _row(inference, model="fashion-mlp", runtime="onnxruntime-cuda (IOBinding)")
    torch_eager = _row(inference, model="fashion-mlp", runtime="eager", device="cuda")
    name = f"GPU: ONNX Runtime CUDA (IOBinding) >= {ORT_CUDA_SPEEDUP:g}x eager throughput at batch 4096"
    if cuda and torch_eager and "batch4096_samples_per_s" in cuda:
        ratio = cuda["batch4096_samples_per_s"] / torch_eager["batch4096_samples_per_s"]
        add(name, f"{ratio:.2f}x", ratio >= ORT_CUDA_SPEEDUP)
    else:
        add(name, "not measured on GPU yet", None)
    return targets
