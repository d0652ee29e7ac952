"""One training measurement in a fresh process: `python -m toolkit.bench.worker '<job json>'`.

A fresh process per variant keeps the measurements apart: peak memory is this variant's own, and
torch.compile starts from the cache folder the job names (empty for a cold compile, filled for a
warm one). The result is one JSON object on the last line of stdout.
"""

import json
import os
import resource
import sys
import tempfile


def peak_memory_mb(device: str) -> float:
    if device.startswith("cuda"):
        import torch

        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux: KiB


def floor_recorder(job: dict):
    """after_epoch for train(): each epoch's matmul floor (toolkit.bench.floor) as `floor_seconds`, measured
    right after it, so that epoch and floor see the machine alike; None unless the model is a Linear chain."""
    from toolkit.bench.floor import linear_widths, step_floor_seconds
    from toolkit.models import get_spec
    from toolkit.train.prepare import resolve_device
    from toolkit.train.recipes import resolve_config

    widths = linear_widths(get_spec(job["model"]).build())
    batch = resolve_config(job["model"], recipe=job.get("recipe")).batch_size
    if widths is None or batch is None:
        return None
    device = resolve_device(job["device"])

    def record(entry: dict) -> None:
        entry["floor_seconds"] = round(step_floor_seconds(batch, widths, device) * entry["steps"], 4)

    return record


def run_job(job: dict) -> dict:
    if job.get("inductor_cache"):
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = job["inductor_cache"]  # before torch is imported
    if job["kind"] == "tutorial":
        from toolkit.bench.tutorial import run_tutorial

        result = run_tutorial(job["model"], job["epochs"], job.get("data_dir"), job.get("seed", 0))
    else:
        from toolkit.train import train

        with tempfile.TemporaryDirectory() as run_dir:
            result = train(
                job["model"],
                recipe=job.get("recipe"),
                epochs=job.get("epochs"),
                limit=job.get("limit"),
                seed=job.get("seed"),
                device=job["device"],
                compile=job.get("compile_mode") is not None,
                compile_mode=job.get("compile_mode"),
                run_dir=run_dir,
                data_dir=job.get("data_dir"),
                log=lambda _line: None,
                after_epoch=floor_recorder(job),
            )
    result["peak_memory_mb"] = peak_memory_mb(result["device"])
    return result


def main():
    from toolkit.export.torch_formats import quiet_torch_logs

    with quiet_torch_logs():
        result = run_job(json.loads(sys.argv[1]))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
