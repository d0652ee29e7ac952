"""The matmul floor of a training epoch: the time its GEMMs alone take, timed with torch on every core.

A dense model's step is its matrix multiplies plus everything else (the optimizer, the loss, Python).
For each Linear layer a step multiplies forward (x @ W^T), backward for the input (dy @ W, except the
first layer's) and backward for the weight (dy^T @ x); the floor is those GEMMs, laid out as autograd
lays them out, times the steps in an epoch. How far `tk train` is above it is what its overhead costs.
"""

import statistics
import time

import torch
from torch import nn

PARAMETER_FREE = (nn.Flatten, nn.ReLU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid, nn.Dropout, nn.Identity, nn.Sequential)


def linear_widths(model: nn.Module) -> list | None:
    """[784, 512, 512, 10] for a chain of Linear layers (activations between them); None for anything else,
    whose floor would need more than these GEMMs (convolutions, normalisation, embeddings)."""
    widths = []
    for module in model.modules():
        if isinstance(module, nn.Linear):
            if widths and widths[-1] != module.in_features:
                return None
            widths = (widths or [module.in_features]) + [module.out_features]
        elif not isinstance(module, PARAMETER_FREE) and module is not model:
            return None
    return widths or None


def step_operands(batch: int, widths: list, device="cpu") -> list:
    """(a, b, out) for each GEMM of one step, strided as autograd's: W^T and dy^T are transposed views."""
    operands = []
    for layer, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        x, weight, dy = (
            torch.randn(rows, cols, device=device)
            for rows, cols in [(batch, fan_in), (fan_out, fan_in), (batch, fan_out)]
        )
        operands.append((x, weight.t(), torch.empty(batch, fan_out, device=device)))  # forward
        if layer > 0:  # the first layer's input (the data) needs no gradient
            operands.append((dy, weight, torch.empty(batch, fan_in, device=device)))  # gradient of the input
        operands.append((dy.t(), x, torch.empty(fan_out, fan_in, device=device)))  # gradient of the weight
    return operands


def step_floor_seconds(batch: int, widths: list, device="cpu", repeats: int = 200) -> float:
    """Median seconds of one step's GEMMs, each run into a preallocated output."""
    operands = step_operands(batch, widths, torch.device(device))
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    for a, b, out in operands * 10:  # warm up the BLAS threads and caches
        torch.mm(a, b, out=out)
    samples = []
    for _ in range(repeats):
        sync()
        started = time.perf_counter()
        for a, b, out in operands:
            torch.mm(a, b, out=out)
        sync()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)
