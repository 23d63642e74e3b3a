"""A local destination checked before any work: what a job would write, and where, may be written.

Called at setup (``job run``, ``--dry-run``, the REST API's check and submit) after the settings
are valid, so a destination that cannot or must not be written is told before a job is recorded,
never after scoring. For every place a job writes (each output file or part folder, its manifest
and its staging folder beside them):

* **Allowed roots** (jobs started through the server): the place resolves (symlinks and ``..``
  followed) inside one of the server's ``--output-root`` folders or the job's own folder.
* **Not the job's input.** No output is a file the graph reads, lies inside a folder it reads
  (or a glob's folder), or is a part folder holding one.
* **Writable.** The nearest existing folder above is a folder (not a file) and writable; the
  output file is not an existing folder.
* **Nothing clobbered.** An existing output file, or a part folder holding files, is replaced
  only when a relpredict job wrote it (its manifest beside it names it) or with ``--overwrite``.

Everything raises a :class:`~relpredict.errors.SettingsError` of the ``destination`` field.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from relpredict.errors import SettingsError
from relpredict.paths import inside, writable_problem
from relpredict.sinks.naming import AnyDestination, Destination, job_destinations
from relpredict.tables.table import ConnectorSource, DuckDBSource, FileSource, SQLiteSource

__all__ = ["check_local_destination", "check_output_roots", "check_s3_destination", "graph_inputs",
           "s3_inputs"]

_GLOB = "*?["
_FILE_ENDS = (".parquet", ".pq", ".csv", ".csv.gz", ".tsv")


def _refuse(message: str) -> SettingsError:
    return SettingsError({"destination": message})


def graph_inputs(graph: Any) -> tuple[list[Path], list[Path]]:
    """The files and the folders a graph reads (a glob counts as the folder before its wildcard)."""
    files: list[Path] = []
    folders: list[Path] = []
    for table in graph:
        source = getattr(table, "source", None)
        if isinstance(source, FileSource):
            text = source.path
            if any(ch in text for ch in _GLOB):
                head = text[:min(text.index(ch) for ch in _GLOB if ch in text)]
                folders.append(Path(head.rsplit(os.sep, 1)[0] if os.sep in head else ".").resolve())
            elif Path(text).is_dir():
                folders.append(Path(text).resolve())
            else:
                files.append(Path(text).resolve())
        elif isinstance(source, DuckDBSource | SQLiteSource):
            files.append(Path(source.path).resolve())
    return files, folders


def s3_inputs(graph: Any) -> list[tuple[str, bool]]:
    """The S3 objects (``False``) and folders (``True``: a prefix, or a glob's folder) a graph reads."""
    out = []
    for table in graph:
        source = getattr(table, "source", None)
        if isinstance(source, ConnectorSource) and source.kind == "s3" and source.path:
            path = source.path
            if any(ch in path for ch in _GLOB):
                head = path[:min(path.index(ch) for ch in _GLOB if ch in path)]
                out.append((head[:head.rfind("/") + 1], True))
            elif path.endswith("/") or not path.lower().endswith(_FILE_ENDS):  # a prefix
                out.append((path.rstrip("/") + "/", True))
            else:
                out.append((path, False))
    return out


def check_s3_destination(destination: AnyDestination, output_types: tuple[str, ...], graph: Any) -> None:
    """An ``s3://`` output must not replace an object the graph reads, nor put its files, manifest
    or staging inside a folder the graph reads (the next load would read them as data)."""
    if not isinstance(destination, Destination) or destination.scheme != "s3" or graph is None:
        return
    reads = s3_inputs(graph)
    for dest in job_destinations(destination, output_types).values():
        assert isinstance(dest, Destination)
        written = dest.folder if dest.partitioned else dest.path
        home = written.rstrip("/").rsplit("/", 1)[0] + "/"  # where the manifest and staging go
        for read, is_folder in reads:
            if written == read or (is_folder and (home.startswith(read) or written + "/" == read)):
                raise _refuse(f"The destination {dest.path} would write inside what the graph reads "
                              f"({read}): the job would replace its own input, or the next load would "
                              "read the output as data. Write to another bucket or folder.")


def _written(dest: Destination) -> tuple[Path, Path]:
    """(the output file or the part folder, the folder the manifest and staging go into)."""
    if dest.partitioned:
        parts = Path(dest.folder).resolve()
        return parts, parts.parent
    out = Path(dest.path).resolve()
    return out, out.parent


def check_local_destination(destination: AnyDestination, output_types: tuple[str, ...], graph: Any,
                            *, job_folder: Path, workspace_home: Path | None = None,
                            overwrite: bool = False,
                            output_roots: Sequence[str | Path] | None = None) -> None:
    """Check a local destination as the module docstring says; an S3 one only against the
    graph's S3 inputs (:func:`check_s3_destination`); other destinations pass.

    ``output_roots`` (a server's): the folders the job may write in, besides ``job_folder``.
    Nothing but the job's folder and ``outputs/`` may be written inside ``workspace_home``.
    """
    check_s3_destination(destination, output_types, graph)
    if not isinstance(destination, Destination) or destination.scheme != "local":
        return
    files, folders = graph_inputs(graph) if graph is not None else ([], [])
    roots = None if output_roots is None else [Path(r).resolve() for r in output_roots]
    for dest in job_destinations(destination, output_types).values():
        assert isinstance(dest, Destination)
        target, home = _written(dest)
        if roots is not None:
            _check_roots(dest, home, roots, job_folder.resolve())
        if workspace_home is not None:
            _check_workspace(dest, home, workspace_home.resolve(), job_folder.resolve())
        _check_inputs(dest, target, home, files, folders)
        _check_writable(dest, target, home)
        if not overwrite:  # the job's manifest (the base destination's) names every output
            _check_clobber(dest, target, Path(destination.manifest_path()))


def check_output_roots(destination: AnyDestination, output_types: tuple[str, ...],
                       output_roots: Sequence[str | Path]) -> None:
    """The allowed-roots rule alone, for a job not yet made (a schedule's): every place a local
    ``destination`` writes lies inside one of ``output_roots``; other destinations pass."""
    if not isinstance(destination, Destination) or destination.scheme != "local":
        return
    roots = [Path(r).resolve() for r in output_roots]
    for dest in job_destinations(destination, output_types).values():
        assert isinstance(dest, Destination)
        _check_roots(dest, _written(dest)[1], roots, None)


def _check_roots(dest: Destination, home: Path, roots: list[Path], job_folder: Path | None) -> None:
    if any(inside(home, root) for root in roots) or (job_folder is not None and inside(home, job_folder)):
        return
    where = "the folder of the part files" if dest.partitioned else "the output file"
    shown = ", ".join(str(r) for r in roots) or "(none)"
    raise _refuse(f"The destination {dest.path} is outside the folders this server may write to: "
                  f"{where} and its manifest would go to {home}. Give a path inside {shown}, or "
                  "start the server with --output-root FOLDER.")


def _check_workspace(dest: Destination, home: Path, workspace: Path, job_folder: Path) -> None:
    if inside(home, workspace) and not (inside(home, job_folder) or inside(home, workspace / "outputs")):
        raise _refuse(f"The destination {dest.path} is inside the workspace {workspace}, which holds "
                      "relpredict's own database and artifacts: choose a path outside it (or inside "
                      f"{workspace / 'outputs'}).")


def _check_inputs(dest: Destination, target: Path, home: Path, files: Iterable[Path],
                  folders: Iterable[Path]) -> None:
    for file in files:
        if target == file or (dest.partitioned and inside(file, target)):
            raise _refuse(f"The destination {dest.path} is {file}, which the model's graph reads: a "
                          "job must never overwrite its own input. Choose another output path.")
    for folder in folders:
        if inside(target, folder) or inside(home, folder) or inside(folder, target):
            raise _refuse(f"The destination {dest.path} is inside the folder {folder}, which the "
                          "model's graph reads its table from: the output would become input. "
                          "Choose an output path outside it.")


def _check_writable(dest: Destination, target: Path, home: Path) -> None:
    if not dest.partitioned and target.is_dir():
        raise _refuse(f"The destination {dest.path} is an existing folder, not a file: give a file "
                      f"name inside it, e.g. {Path(dest.path) / ('predictions' + dest.extension)}.")
    if dest.partitioned and target.exists() and not target.is_dir():
        raise _refuse(f"The part folder of {dest.path} ({target}) is an existing file: remove it or "
                      "choose another folder.")
    problem = writable_problem(home)
    if problem:
        raise _refuse(f"Cannot write {dest.path}: {problem}")


def _ours(dest: Destination, target: Path, manifest: Path) -> bool:
    """Whether a relpredict job wrote ``target``: the job's ``manifest`` beside it names it, or a
    job's staging folder is still beside it (a publish that crashed after withdrawing the manifest).
    With two output types both files are named by one manifest (``p.manifest.json`` names
    ``p_predictions.parquet`` and ``p_embeddings.parquet``)."""
    if any(target.parent.glob(".relpredict-staging-*")):
        return True
    try:
        data = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(data, dict) or "job_id" not in data:
        return False
    named = {Path(f.get("path", "")).resolve()
             for out in (data.get("outputs") or {}).values() if isinstance(out, dict)
             for f in out.get("files") or () if isinstance(f, dict)}
    if dest.partitioned:
        return any(inside(p, target) for p in named)
    return target in named


def _check_clobber(dest: Destination, target: Path, manifest: Path) -> None:
    if dest.partitioned:
        if not target.is_dir():
            return
        found = [p.name for p in target.iterdir() if not p.name.startswith(".")]
        if found and not _ours(dest, target, manifest):
            raise _refuse(f"The part folder {target} of {dest.path} already holds files ({', '.join(sorted(found)[:3])}"
                          f"{', ...' if len(found) > 3 else ''}) that no relpredict job wrote: choose an "
                          "empty folder, or give --overwrite to replace its parts.")
        return
    if target.exists() and not _ours(dest, target, manifest):
        raise _refuse(f"The destination {dest.path} already exists and no relpredict job wrote it (no "
                      "manifest beside it names it): choose another path, or give --overwrite to "
                      "replace it.")
