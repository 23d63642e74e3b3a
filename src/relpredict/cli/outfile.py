"""Files a command writes (``--out``): checked before any work, written atomically.

A missing folder on the way is created. Refused, each with what to do: a control character in the
name, an existing folder where the file goes, a file where a folder must be, a folder this user
cannot write to, and (given the graph) a file the graph reads or one inside a folder it reads.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from relpredict.errors import ConfigError
from relpredict.paths import inside, writable_problem

__all__ = ["check_out_file", "check_out_folder", "write_atomically"]


def _check_name(out: Path, option: str) -> None:
    if any(ord(ch) < 32 or ch == "\x7f" for ch in str(out)):
        raise ConfigError(f"{option} {str(out)!r} holds a control character (a NUL byte, a newline): "
                          "remove it.")


def _check_parent(out: Path, option: str) -> None:
    problem = writable_problem(out.absolute().parent)
    if problem:
        raise ConfigError(f"Cannot write {option} {out}: {problem}")


def check_out_file(out: Path, option: str, graph: Any = None) -> None:
    """Refuse an output file that cannot or must not be written (see the module docstring)."""
    _check_name(out, option)
    if out.is_dir():
        raise ConfigError(f"{option} {out} is an existing folder: give a file name inside it, e.g. "
                          f"{out / ('output' + (out.suffix or '.parquet'))}.")
    _check_parent(out, option)
    if graph is not None:
        from relpredict.jobs.destcheck import graph_inputs  # loads the job package: only here

        files, folders = graph_inputs(graph)
        target = out.resolve()
        if target in files or any(inside(target, f) for f in folders):
            raise ConfigError(f"{option} {out} is data the graph reads: writing it would destroy the "
                              "input. Choose another path.")


def check_out_folder(out: Path, option: str) -> None:
    """Refuse an output folder that is a file, or lies under a file or an unwritable folder."""
    _check_name(out, option)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{option} {out} is an existing file, not a folder: give a folder.")
    _check_parent(out / "x", option)


def write_atomically(out: Path, write: Callable[[Path], None], option: str) -> None:
    """``write(tmp)`` then rename onto ``out`` (folders created); OS errors name the file."""
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        os.replace(tmp, out)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"Cannot write {option} {out}: {err.strerror or err}. Check the path and "
                          "the free space.") from None
