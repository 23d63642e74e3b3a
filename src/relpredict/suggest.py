"""Suggestions for a misspelt name, for error messages ("Did you mean 'orders'?"). Pure."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["did_you_mean", "near_names"]


def near_names(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The existing names closest to a misspelt one (case-insensitive)."""
    pool = list(candidates)
    lowered = {c.lower(): c for c in pool}
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.5)
    return [lowered[h] for h in hits]


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """`` Did you mean 'a', 'b'?`` (with its leading space) or ``""`` when nothing is close."""
    hits = near_names(name, candidates)
    return f" Did you mean {', '.join(repr(h) for h in hits)}?" if hits else ""
