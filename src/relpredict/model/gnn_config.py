"""The GNN's architecture and training settings, apart from the network (no torch import).

Kept in its own module so that reading a model artifact, or planning a Kumo-style training run,
does not import torch and PyTorch Geometric: a LightGBM or baseline model is loaded and scored
without them (a job's worker starts seconds sooner).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["GNNConfig"]


@dataclass(frozen=True)
class GNNConfig:
    """Architecture and training settings (defaults chosen on rel-f1 validation)."""

    channels: int = 64
    layers: int = 2
    fanout: tuple[int, ...] = (32, 16)
    strategy: Literal["last", "uniform"] = "last"
    dropout: float = 0.2
    lr: float = 2e-3
    weight_decay: float = 1e-5
    batch_size: int = 256
    max_epochs: int = 25
    patience: int = 5
    max_steps_per_epoch: int = 200
