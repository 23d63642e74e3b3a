"""Seed features of the GNN: the target history as a normalised matrix with missing flags.

The history table (:func:`relpredict.features.history.target_history`) has NULL where an entity
had no label at a past anchor. The GNN reads ``[(x − mean) / std with NULL → 0, is-NULL flag]``
per column, with mean and std fitted on the training rows and stored in the artifact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

KEYS = ("ENTITY", "ANCHOR_TIMESTAMP")


def feature_matrix(table: pa.Table, columns: list[str] | None = None) -> tuple[list[str], np.ndarray]:
    """The non-key columns of ``table`` as float64 ``[N, F]`` (NULL → NaN), with their names."""
    names = columns if columns is not None else [c for c in table.column_names if c not in KEYS]
    if not names:
        return [], np.zeros((table.num_rows, 0), dtype=np.float64)
    cols = [np.asarray(table.column(c).to_numpy(zero_copy_only=False), dtype=np.float64) for c in names]
    return names, np.stack(cols, axis=1)


@dataclass
class Standardizer:
    """Column-wise ``(x − mean) / std``; NaN becomes 0 and gets a flag column."""

    columns: list[str]
    mean: list[float]
    std: list[float]

    @classmethod
    def fit(cls, columns: list[str], x: np.ndarray) -> Standardizer:
        with np.errstate(all="ignore"):
            mean = np.nan_to_num(np.nanmean(x, axis=0)) if x.size else np.zeros(x.shape[1])
            std = np.nan_to_num(np.nanstd(x, axis=0)) if x.size else np.ones(x.shape[1])
        return cls(list(columns), [float(m) for m in mean], [float(max(s, 1e-6)) for s in std])

    @property
    def width(self) -> int:
        return 2 * len(self.columns)

    def transform(self, x: np.ndarray) -> np.ndarray:
        """``[N, F]`` → float32 ``[N, 2F]``: standardised values (clipped to ±8) then NaN flags."""
        if not self.columns:
            return np.zeros((x.shape[0], 0), dtype=np.float32)
        missing = np.isnan(x)
        z = np.clip((x - np.asarray(self.mean)) / np.asarray(self.std), -8, 8)
        return np.concatenate([np.where(missing, 0.0, z), missing.astype(np.float64)], 1).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"columns": self.columns, "mean": self.mean, "std": self.std}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Standardizer:
        return cls(list(d["columns"]), list(d["mean"]), list(d["std"]))
