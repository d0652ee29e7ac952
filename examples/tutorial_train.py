"""The "Learn the Basics" tutorial's data, training loop and save, as the tutorial writes them.

    python examples/tutorial_train.py [DATA_ROOT] [EPOCHS]   # then: tk export ... --weights model_weights.pth

torchvision downloads Fashion-MNIST into DATA_ROOT (default "data") unless DATA_ROOT/FashionMNIST/raw
already holds the four unpacked idx files.
"""

import sys

import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision import datasets
from torchvision.transforms import ToTensor
from tutorial_model import NeuralNetwork

root = sys.argv[1] if len(sys.argv) > 1 else "data"
epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 10

training_data = datasets.FashionMNIST(root=root, train=True, download=True, transform=ToTensor())
test_data = datasets.FashionMNIST(root=root, train=False, download=True, transform=ToTensor())
train_dataloader = DataLoader(training_data, batch_size=64)
test_dataloader = DataLoader(test_data, batch_size=64)

model = NeuralNetwork()
learning_rate = 1e-3
loss_fn = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)


def train_loop(dataloader, model, loss_fn, optimizer):
    model.train()
    for X, y in dataloader:
        pred = model(X)
        loss = loss_fn(pred, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()


def test_loop(dataloader, model, loss_fn):
    model.eval()
    correct = 0
    with torch.no_grad():
        for X, y in dataloader:
            correct += (model(X).argmax(1) == y).type(torch.float).sum().item()
    print(f"Accuracy: {100 * correct / len(dataloader.dataset):>0.1f}%")


for t in range(epochs):
    print(f"Epoch {t + 1}")
    train_loop(train_dataloader, model, loss_fn, optimizer)
    test_loop(test_dataloader, model, loss_fn)

torch.save(model.state_dict(), "model_weights.pth")
print("Saved model_weights.pth")
