"""The matmul floor of a training epoch: the time its GEMMs alone take, timed with torch on every core.

A dense model's step is its matrix multiplies plus everything else (the optimizer, the loss, Python).
For each Linear layer a step multiplies forward (x @ W^T), backward for the input (dy @ W, except the
first layer's) and backward for the weight (dy^T @ x); the floor is those GEMMs, shaped as a real step
shapes them, times the steps in an epoch. How close `tk train` gets to it is what its overhead costs.
"""

import statistics
import time

import torch


def step_gemms(batch: int, widths: list) -> list:
    """[(m, k, n)] for one training step of a Linear stack with these widths (784, 512, 512, 10)."""
    shapes = []
    for layer, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        shapes.append((batch, fan_in, fan_out))  # forward
        if layer > 0:
            shapes.append((batch, fan_out, fan_in))  # gradient of the input
        shapes.append((fan_out, batch, fan_in))  # gradient of the weight
    return shapes


def step_floor_seconds(batch: int, widths: list, repeats: int = 200) -> float:
    """Median seconds of one step's GEMMs, each run into a preallocated output."""
    operands = [(torch.randn(m, k), torch.randn(k, n), torch.empty(m, n)) for m, k, n in step_gemms(batch, widths)]
    for a, b, out in operands * 10:  # warm up the BLAS threads and caches
        torch.mm(a, b, out=out)
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        for a, b, out in operands:
            torch.mm(a, b, out=out)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def epoch_floor_seconds(batch: int, widths: list, samples: int) -> float:
    return step_floor_seconds(batch, widths) * (samples // batch)
