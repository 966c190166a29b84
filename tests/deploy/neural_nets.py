"""A PyTorch module for deploy tests: importable by name, from no installed distribution."""

from __future__ import annotations

import torch
from torch import nn


class Branchy(nn.Module):
    """Doubles its input when any value is positive, else triples it: ONNX tracing on
    zeros records the second branch only, so the exported graph differs from the module."""

    def __init__(self, inputs: int = 3) -> None:
        super().__init__()
        self.inputs = inputs
        self.scale = nn.Linear(inputs, inputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.scale(x)
        if bool((x > 0).any()):
            return out * 2
        return out * 3
