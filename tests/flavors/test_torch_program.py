"""torch.export programs (.pt2) are not stored: their loader unpickles part of the archive.

forgeml stores PyTorch models as safetensors + ``module:Class``. A ``.pt2`` archive holds
its example inputs as a ``torch.save`` file, which ``torch.export.load`` reads with
``torch.load`` (and, when that fails, with unrestricted pickle). These tests pin both
facts: should a PyTorch release load ``.pt2`` without pickle, the first one fails and the
format can be reconsidered.
"""

from __future__ import annotations

import io

import pytest
import torch

from forgeml.flavors.nets import MLP
from forgeml.registry.scan import needs_pickle


@pytest.fixture(scope="module")
def program_bytes() -> bytes:
    torch.manual_seed(0)
    net = MLP(inputs=3, outputs=2, hidden=[4]).eval()
    batch = torch.export.Dim("batch")
    program = torch.export.export(net, (torch.zeros(2, 3),), dynamic_shapes=({0: batch},))
    sink = io.BytesIO()
    torch.export.save(program, sink)
    return sink.getvalue()


def test_loading_a_pt2_program_needs_torch_load(
    program_bytes: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    def refuse(*args: object, **kwargs: object) -> None:
        calls.append(1)
        raise RuntimeError("torch.load refused")

    monkeypatch.setattr(torch, "load", refuse)
    with pytest.raises(RuntimeError):
        torch.export.load(io.BytesIO(program_bytes))
    assert calls  # the archive cannot be read without torch.load (pickle underneath)


def test_scan_flags_a_pt2_archive_as_needing_pickle(program_bytes: bytes) -> None:
    verdict = needs_pickle(program_bytes)
    assert verdict is not None and "sample_inputs" in verdict
