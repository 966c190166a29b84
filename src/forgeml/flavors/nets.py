"""Small PyTorch architectures forgeml ships: tabular MLPs and an image CNN.

They are ordinary ``nn.Module`` classes that keep their constructor arguments as
attributes, so :func:`forgeml.log_model` records them as ``forgeml.flavors.nets:MLP`` +
JSON and rebuilds them anywhere forgeml is installed.

>>> import torch
>>> MLP(inputs=4, outputs=1, hidden=[8])(torch.zeros(2, 4)).shape
torch.Size([2, 1])
>>> SmallCNN(channels=1, size=8, classes=10)(torch.zeros(2, 1, 8, 8)).shape
torch.Size([2, 10])
>>> net = TabularNet(numeric=[0], categorical=[1], cardinalities=[3], outputs=1,
...                  task="binary", hidden=[8])
>>> net(torch.tensor([[0.5, 2.0], [float("nan"), float("nan")]])).shape
torch.Size([2, 1])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["MLP", "SmallCNN", "TabularNet", "embedding_width"]


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


def embedding_width(cardinality: int) -> int:
    """The embedding width of a categorical column with ``cardinality`` codes (fast.ai's
    rule of thumb, at most 16).

    >>> [embedding_width(n) for n in (2, 5, 50, 1000)]
    [2, 4, 14, 16]
    """
    scaled: float = 1.6 * cardinality**0.56
    return max(1, min(16, round(scaled)))


class TabularNet(nn.Module):
    """An MLP for rows of a table, with its preprocessing inside: what ``forgeml train``'s
    ``mlp`` candidate fits.

    It reads the feature matrix of forgeml's tree preprocessing (numbers as they are, NaN
    where missing; a categorical column as its category's code). Numeric columns are
    standardised with the training rows' means and standard deviations (buffers saved
    with the weights); a missing value becomes the mean, flagged by an extra input for the
    ``flagged`` columns (those with missing values at fit time). Each categorical column
    (``cardinalities[i]`` codes; a missing or unseen value is one more) is looked up in
    its own embedding. The outputs are what forgeml scores: the positive-class
    probability (binary), class probabilities (multiclass) or the value (regression);
    :meth:`logits` are the raw outputs training uses.
    """

    numeric_index: torch.Tensor
    category_index: torch.Tensor
    flag_index: torch.Tensor
    mean: torch.Tensor
    scale: torch.Tensor
    target_mean: torch.Tensor
    target_scale: torch.Tensor

    def __init__(
        self,
        numeric: Sequence[int],
        categorical: Sequence[int],
        cardinalities: Sequence[int],
        outputs: int,
        task: str,
        hidden: Sequence[int] = (128, 64),
        dropout: float = 0.0,
        flagged: Sequence[int] = (),
    ) -> None:
        super().__init__()
        self.numeric, self.categorical = list(numeric), list(categorical)
        self.cardinalities, self.flagged = list(cardinalities), list(flagged)
        self.outputs, self.task = outputs, task
        self.hidden, self.dropout = list(hidden), dropout
        self.register_buffer("numeric_index", torch.tensor(self.numeric, dtype=torch.long))
        self.register_buffer("category_index", torch.tensor(self.categorical, dtype=torch.long))
        self.register_buffer("flag_index", torch.tensor(self.flagged, dtype=torch.long))
        self.register_buffer("mean", torch.zeros(len(self.numeric)))
        self.register_buffer("scale", torch.ones(len(self.numeric)))
        # regression: the target's mean and standard deviation (the network predicts z-scores)
        self.register_buffer("target_mean", torch.zeros(1))
        self.register_buffer("target_scale", torch.ones(1))
        self.embeddings = nn.ModuleList(
            nn.Embedding(n + 1, embedding_width(n + 1)) for n in self.cardinalities
        )
        width = len(self.numeric) + len(self.flagged)
        width += sum(embedding_width(n + 1) for n in self.cardinalities)
        layers: list[nn.Module] = []
        for size in self.hidden:
            layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, outputs))
        self.body = nn.Sequential(*layers)

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """The network's input layer: standardised numbers, flags and embeddings."""
        numbers = x.index_select(1, self.numeric_index)
        present = torch.isfinite(numbers)
        z = torch.where(present, (numbers - self.mean) / self.scale, 0.0).clamp(-10.0, 10.0)
        parts = [z]
        if self.flagged:
            parts.append((~present).index_select(1, self.flag_index).to(z.dtype))
        if self.categorical:
            codes = x.index_select(1, self.category_index)
            for i, (embedding, missing) in enumerate(
                zip(self.embeddings, self.cardinalities, strict=True)
            ):
                column = codes[:, i]  # a code below the cardinality, or missing/unseen
                known = torch.isfinite(column) & (column >= 0) & (column < missing)
                index = torch.where(known, column, float(missing)).long()
                parts.append(embedding(index))
        return torch.cat(parts, dim=1)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """The raw outputs: logits to classify, the target's z-score to regress."""
        out: torch.Tensor = self.body(self.inputs(x))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raw = self.logits(x)
        if self.task == "regression":
            return raw * self.target_scale + self.target_mean
        if self.task == "binary":
            return torch.sigmoid(raw.double())
        return torch.softmax(raw.double(), dim=1)  # in float64, the probabilities sum to 1
