"""The command line run in this process, as the console script runs it (``main()`` and its
error handling), for tests that check what a user sees."""

from __future__ import annotations

import sys

import pytest

__all__ = ["run_cli"]


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Exit code and everything printed (stdout and stderr) of ``relpredict ARGS``."""
    from relpredict.cli.main import main

    argv, sys.argv = sys.argv, ["relpredict", *args]
    try:
        main()
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else 1
    finally:
        sys.argv = argv
    captured = capsys.readouterr()
    return code, captured.out + captured.err
