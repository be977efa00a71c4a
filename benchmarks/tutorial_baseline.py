"""The PyTorch tutorial's CIFAR-10 classifier ("Training a classifier", pytorch.org/tutorials/beginner/
blitz/cifar10_tutorial.html) trained on the engine's copy of the data, as the baseline of the `cpu` demo
(docs/training.md): its LeNet-style Net (conv 6-5, max-pool 2, conv 16-5, max-pool 2, fc 120, 84, 10), inputs
normalised to [-1, 1], cross-entropy, SGD lr 0.001 momentum 0.9, batch 4, 2 epochs over the 50,000 training
images, tested on all 10,000 test images. Prints test accuracy and training seconds.

    python benchmarks/tutorial_baseline.py --data /work/shared/datasets/cifar10

`--train-images N` trains on a stratified N instead (the demo's final run sees 7,000 distinct images).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn


class Net(nn.Module):
    """The tutorial's network, layer for layer."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.fc3(x)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, 32, 32, 3) to the tutorial's input: ToTensor() then Normalize((0.5,) * 3, (0.5,) * 3)."""
    x = torch.tensor(images, dtype=torch.float32).permute(0, 3, 1, 2) / 255.0
    return (x - 0.5) / 0.5


def train_and_test(data, epochs: int = 2, batch: int = 4, seed: int = 0, train_images: int | None = None):
    from nas.train.data import stratified_sample

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    train_x, train_y = data.train_images, data.train_labels
    if train_images is not None and train_images < len(train_y):
        keep = stratified_sample(train_y, train_images, rng)
        train_x, train_y = train_x[keep], train_y[keep]
    x, y = to_tensor(train_x), torch.tensor(train_y, dtype=torch.long)
    net = Net()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(y))  # the tutorial's DataLoader(shuffle=True)
        for i in range(0, len(y), batch):
            idx = order[i : i + batch]
            optimizer.zero_grad()
            loss = criterion(net(x[idx]), y[idx])
            loss.backward()
            optimizer.step()
    train_s = time.perf_counter() - start
    net.eval()
    with torch.no_grad():
        test_x, test_y = to_tensor(data.test_images), torch.tensor(data.test_labels, dtype=torch.long)
        correct = sum(
            (net(test_x[i : i + 1000]).argmax(1) == test_y[i : i + 1000]).sum().item()
            for i in range(0, len(test_y), 1000)
        )
    return correct / len(test_y), train_s, len(y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="CIFAR-10 as nas reads it (default: nas's CIFAR-10)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-images", type=int, default=None, help="a stratified subset of this size")
    args = parser.parse_args()
    from nas.train.data import load_dataset

    data = load_dataset(args.data)
    accuracy, train_s, n = train_and_test(data, args.epochs, seed=args.seed, train_images=args.train_images)
    print(
        f"tutorial Net: test accuracy {accuracy:.4f} on {len(data.test_labels)} test images after "
        f"{args.epochs} epochs of {n} images at batch 4, {train_s:.0f} s of training "
        f"({torch.get_num_threads()} threads, torch {torch.__version__})"
    )


if __name__ == "__main__":
    main()
