"""Reference distributions kept in a model artifact, and the population stability index (PSI).

At training the validation split's distribution of the score and of the model's most important
features is kept as bins and shares (:func:`numeric_reference`, :func:`categorical_reference`);
a batch job counts its own values into the same bins (:func:`bin_counts`) and compares them with
:func:`psi`. Pure functions on numpy arrays: no I/O.

PSI is ``sum((a - e) * ln(a / e))`` over the bins, with ``e`` the reference shares and ``a`` the
job's; a share of zero counts as :data:`EPS` so an empty bin gives a large but finite value. As is
customary, a PSI above 0.1 is a moderate shift and above 0.25 a major one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

EPS = 1e-4
BINS = 10
MAX_CATEGORIES = 20
TOP_FEATURES = 20
MODERATE, MAJOR = 0.1, 0.25
OTHER = "(other)"
MISSING = "(missing)"

__all__ = ["BINS", "MAJOR", "MODERATE", "bin_counts", "bin_labels", "categorical_reference", "flag",
           "numeric_reference", "psi"]


def psi(expected: Sequence[float] | np.ndarray, actual: Sequence[float] | np.ndarray) -> float:
    """PSI of ``actual`` against ``expected``; both are shares or counts per bin (normalised here)."""
    e, a = _shares(expected), _shares(actual)
    if e.shape != a.shape:
        raise ValueError(f"PSI needs the same bins on both sides, not {e.shape} and {a.shape}")
    e, a = np.maximum(e, EPS), np.maximum(a, EPS)
    return float(np.sum((a - e) * np.log(a / e)))


def flag(value: float | None) -> str:
    """``major`` above 0.25, ``moderate`` above 0.1, else ``ok`` (``n/a`` without a value)."""
    if value is None:
        return "n/a"
    return "major" if value > MAJOR else "moderate" if value > MODERATE else "ok"


def _shares(values: Sequence[float] | np.ndarray) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    total = v.sum()
    return v / total if total > 0 else v


def numeric_reference(values: np.ndarray, bins: int = BINS) -> dict[str, Any]:
    """Quantile bins of ``values`` (deciles by default) and their shares, plus a missing bin.

    ``edges`` are the inner edges: bin ``i`` is ``(edges[i-1], edges[i]]``, the first and last
    open-ended, then one bin for NaN. Repeated quantiles (a discrete column) merge their bins.
    """
    v = np.asarray(values, dtype=np.float64)
    finite = v[np.isfinite(v)]
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1])) if len(finite) else np.array([])
    ref = {"kind": "numeric", "edges": _merge_empty([float(e) for e in edges], finite)}
    ref["shares"] = _shares(bin_counts(ref, v)).tolist()
    return ref


def _merge_empty(edges: list[float], finite: np.ndarray) -> list[float]:
    """Drop inner edges until no bin of the finite values is empty (an interpolated quantile
    can fall between two values and leave a bin that nothing in the reference reaches)."""
    while edges:
        counts = bin_counts({"kind": "numeric", "edges": edges}, finite)[:-1]
        empty = np.flatnonzero(counts == 0)
        if not len(empty):
            break
        edges.pop(min(int(empty[0]), len(edges) - 1))
    return edges


def categorical_reference(values: Sequence[Any] | np.ndarray, top: int = MAX_CATEGORIES) -> dict[str, Any]:
    """The ``top`` most frequent values (as text) and their shares, plus one bin for the rest."""
    labels = [str(v) for v in values]
    found, counts = np.unique(np.asarray(labels, dtype=object), return_counts=True) if labels else \
        (np.zeros(0, object), np.zeros(0, np.int64))
    order = sorted(zip(found, counts), key=lambda fc: (-fc[1], fc[0]))[:top]
    ref = {"kind": "categorical", "values": [str(f) for f, _ in order]}
    ref["shares"] = _shares(bin_counts(ref, labels)).tolist()
    return ref


def bin_counts(ref: dict[str, Any], values: Sequence[Any] | np.ndarray) -> np.ndarray:
    """How many of ``values`` fall in each bin of a reference (same order as its shares)."""
    if ref["kind"] == "categorical":
        index = {v: i for i, v in enumerate(ref["values"])}
        other = len(index)
        which = np.fromiter((index.get(str(v), other) for v in values), dtype=np.int64)
        return np.bincount(which, minlength=other + 1).astype(np.int64)
    v = np.asarray(values, dtype=np.float64)
    edges = np.asarray(ref["edges"], dtype=np.float64)
    which = np.where(np.isnan(v), len(edges) + 1, np.searchsorted(edges, v, side="left"))
    return np.bincount(which.astype(np.int64), minlength=len(edges) + 2).astype(np.int64)


def bin_labels(ref: dict[str, Any]) -> list[str]:
    """A readable name per bin: ``≤ 0.12``, ``(0.12, 0.3]``, ``> 0.9``, ``(missing)``, or a value."""
    if ref["kind"] == "categorical":
        return [*ref["values"], OTHER]
    edges = ref["edges"]
    if not edges:
        return ["all values", MISSING]
    inner = [f"({lo:.4g}, {hi:.4g}]" for lo, hi in zip(edges[:-1], edges[1:])]
    return [f"≤ {edges[0]:.4g}", *inner, f"> {edges[-1]:.4g}", MISSING]
