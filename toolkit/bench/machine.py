"""The facts that make a benchmark figure meaningful: CPU, cores, GPU, driver, library versions, date."""

import os
import platform
import subprocess
import time
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def nvidia_driver() -> str | None:
    try:
        found = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return found.stdout.strip().splitlines()[0] if found.returncode == 0 and found.stdout.strip() else None


def describe_machine() -> dict:
    import onnxruntime
    import torch

    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    memory_gib = None
    try:
        memory_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30)
    except (ValueError, OSError, AttributeError):
        pass
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": memory_gib,
        "gpu": gpu,
        "driver": nvidia_driver() if gpu else None,
        "cuda": torch.version.cuda if gpu else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "date": time.strftime("%Y-%m-%d"),
    }


def one_line(machine: dict) -> str:
    """E.g. "AMD EPYC, 2 cores, 24 GiB; Python 3.11.7, torch 2.14.1, onnxruntime 1.31.1; 2026-11-22"."""
    hardware = f"{machine['cpu']}, {machine['cores']} cores"
    if machine.get("memory_gib"):
        hardware += f", {machine['memory_gib']} GiB"
    if machine.get("gpu"):
        hardware += f"; {machine['gpu']} (driver {machine.get('driver') or '?'}, CUDA {machine.get('cuda') or '?'})"
    versions = f"Python {machine['python']}, torch {machine['torch']}, onnxruntime {machine['onnxruntime']}"
    return f"{hardware}; {versions}; {machine['date']}"
