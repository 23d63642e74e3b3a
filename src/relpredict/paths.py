"""Local paths a command or a job is about to write: the checks both the CLI and jobs make."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["inside", "writable_problem"]


def inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or below it (both already resolved)."""
    return path == folder or folder in path.parents


def writable_problem(path: Path) -> str | None:
    """Why nothing can be created at ``path``: the nearest existing folder at or above it is a
    file, or this user cannot write to it (a sentence saying what to do); None when it can."""
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file, not a folder. Choose a path whose folders are folders."
    if not os.access(existing, os.W_OK | os.X_OK):
        return (f"the folder {existing} is not writable by this user. Choose a folder you can write "
                "to, or change its permissions.")
    return None
