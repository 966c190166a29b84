"""Small PyTorch architectures forgeml ships: a tabular MLP and an image CNN.

They are ordinary ``nn.Module`` classes that keep their constructor arguments as
attributes, so :func:`forgeml.log_model` records them as ``forgeml.flavors.nets:MLP`` +
JSON and rebuilds them anywhere forgeml is installed.

>>> import torch
>>> MLP(inputs=4, outputs=1, hidden=[8])(torch.zeros(2, 4)).shape
torch.Size([2, 1])
>>> SmallCNN(channels=1, size=8, classes=10)(torch.zeros(2, 1, 8, 8)).shape
torch.Size([2, 10])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["MLP", "SmallCNN"]


class MLP(nn.Module):
    """Dense layers with ReLU and dropout; ``outputs`` logits (or values) per row."""

    def __init__(
        self, inputs: int, outputs: int, hidden: Sequence[int] = (64, 32), dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.inputs, self.outputs = inputs, outputs
        self.hidden, self.dropout = list(hidden), dropout
        layers: list[nn.Module] = []
        width = inputs
        for size in self.hidden:
            layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, outputs))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.body(x)
        return out


class SmallCNN(nn.Module):
    """Two 3x3 convolutions and a linear head for small square images."""

    def __init__(self, channels: int = 1, size: int = 8, classes: int = 10, width: int = 16):
        super().__init__()
        self.channels, self.size, self.classes, self.width = channels, size, classes, width
        self.features = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.head = nn.Linear(width * (size // 2) ** 2, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.features(x).flatten(1))
        return out
