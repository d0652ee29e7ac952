"""The PyTorch tutorial's own training loop, as the baseline tk is measured against.

"Learn the Basics" / Optimization: torchvision's FashionMNIST with a per-sample ToTensor transform, a
DataLoader with batch 64 (no shuffle, no workers), CrossEntropyLoss, SGD at lr 1e-3, and its
train_loop / test_loop. Only the data source differs: the idx files tk already found are unpacked
into the folder layout torchvision expects, because downloading is not always possible.
"""

import gzip
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from toolkit.data.fashion_mnist import FILES, find_data_dir
from toolkit.models import get_spec

BATCH_SIZE, LEARNING_RATE = 64, 1e-3


def tutorial_datasets(data_dir, workdir: Path):
    """torchvision FashionMNIST train/test datasets with ToTensor, read from the local idx files."""
    from torchvision import datasets
    from torchvision.transforms import ToTensor

    source = find_data_dir(data_dir, download=False)
    raw = workdir / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name in FILES.values():
        with gzip.open(source / name, "rb") as packed, open(raw / name.removesuffix(".gz"), "wb") as unpacked:
            shutil.copyfileobj(packed, unpacked)
    train = datasets.FashionMNIST(root=str(workdir), train=True, download=False, transform=ToTensor())
    test = datasets.FashionMNIST(root=str(workdir), train=False, download=False, transform=ToTensor())
    return train, test


def train_loop(dataloader, forward, loss_fn, optimizer):
    for X, y in dataloader:
        loss = loss_fn(forward(X), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()


def test_loop(dataloader, model) -> float:
    model.eval()
    correct = 0
    with torch.no_grad():
        for X, y in dataloader:
            correct += (model(X).argmax(1) == y).type(torch.float).sum().item()
    model.train()
    return correct / len(dataloader.dataset)


def run_tutorial(model: str, epochs: int, data_dir=None, seed: int = 0) -> dict:
    """Train `model` with the tutorial's loop on the CPU; per-epoch seconds (training only) and accuracy."""
    from torch.utils.data import DataLoader

    spec = get_spec(model)
    torch.manual_seed(seed)
    net = spec.build()
    forward = getattr(net, spec.train_method) if spec.train_method else net
    with tempfile.TemporaryDirectory() as workdir:
        train_data, test_data = tutorial_datasets(data_dir, Path(workdir))
        train_dataloader = DataLoader(train_data, batch_size=BATCH_SIZE)
        test_dataloader = DataLoader(test_data, batch_size=BATCH_SIZE)
        loss_fn = nn.CrossEntropyLoss()
        optimizer = torch.optim.SGD(net.parameters(), lr=LEARNING_RATE)
        history = []
        net.train()
        for epoch in range(epochs):
            started = time.perf_counter()
            train_loop(train_dataloader, forward, loss_fn, optimizer)
            seconds = time.perf_counter() - started
            accuracy = test_loop(test_dataloader, net)
            history.append({"epoch": epoch + 1, "seconds": round(seconds, 3), "test_accuracy": accuracy})
            print(
                f"epoch {epoch + 1}/{epochs} test accuracy {accuracy:.2%}  {seconds:.1f}s", file=sys.stderr, flush=True
            )
    return {"device": "cpu", "epochs": history, "compile_seconds": None}
