"""A small CNN for 3x32x32 images (CIFAR-sized), as a user would write one: `tk train examples/cnn32.py:SmallCNN
--dataset fashion-mnist --input-shape 3,32,32` trains it on Fashion-MNIST resized to 32x32, gray in every channel."""

from torch import nn


class SmallCNN(nn.Module):
    def __init__(self, classes: int = 10, width: int = 16):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(2 * width * 8 * 8, classes))

    def forward(self, x):
        return self.head(self.features(x))
