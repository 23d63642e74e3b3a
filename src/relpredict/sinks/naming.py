"""Where each output of a job goes: destination parsing and Kumo's output naming, pure.

A destination is what the user gives (``--output PATH --file-type csv|parquet``). With one output
type the output goes exactly there; with both, each goes to its own place named by Kumo's
convention::

    out/preds.parquet              → out/preds_predictions.parquet, out/preds_embeddings.parquet
    out/{{PARTITION}}.parquet      → out_predictions/part_000.parquet, …  (suffix on the folder)

A file name of ``{{PARTITION}}`` asks for partitioned output: files ``part_000``, ``part_001``, …
of about ``partition_bytes`` each. Nothing here touches the file system beyond path arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import PurePath

from relpredict.errors import ConfigError

PARTITION = "{{PARTITION}}"
FILE_TYPES = ("csv", "parquet")
OUTPUT_TYPES = ("predictions", "embeddings")
DEFAULT_PARTITION_BYTES = 256 * 1024 * 1024
_LATER = {"s3": "S3", "snowflake": "Snowflake", "bigquery": "BigQuery", "gs": "Google Cloud Storage"}

__all__ = ["DEFAULT_PARTITION_BYTES", "Destination", "FILE_TYPES", "OUTPUT_TYPES", "PARTITION",
           "output_destinations", "parse_destination", "part_name"]


@dataclass(frozen=True)
class Destination:
    """A validated local destination.

    Attributes:
        path: the file to write, or for partitioned output ``folder/{{PARTITION}}.<ext>``.
        file_type: ``csv`` or ``parquet``.
        partition_bytes: target size of one part file (partitioned output only).
    """

    path: str
    file_type: str
    partition_bytes: int = DEFAULT_PARTITION_BYTES

    @property
    def partitioned(self) -> bool:
        """True when the file name is ``{{PARTITION}}``: the output is a folder of part files."""
        return PurePath(self.path).stem == PARTITION

    @property
    def folder(self) -> str:
        """The folder the output file(s) go into."""
        return str(PurePath(self.path).parent)

    @property
    def extension(self) -> str:
        return "." + self.file_type

    def file_for_part(self, index: int) -> str:
        """The path of part ``index`` (partitioned) or the output file itself."""
        if not self.partitioned:
            return self.path
        return str(PurePath(self.folder) / (part_name(index) + self.extension))

    def manifest_path(self) -> str:
        """Where the job's manifest goes: beside the output, ``<base>.manifest.json``.

        ``out/preds.parquet`` → ``out/preds.manifest.json``; ``out/{{PARTITION}}.parquet`` →
        ``out.manifest.json`` (beside the folder, so it names every part inside it).
        """
        base = PurePath(self.folder) if self.partitioned else PurePath(self.path).with_suffix("")
        return str(base.with_name(base.name + ".manifest.json"))


def part_name(index: int) -> str:
    """``part_000``, ``part_001``, …: zero-padded so a plain sort lists the parts in order."""
    if index < 0:
        raise ValueError(f"a part index is >= 0, not {index}")
    return f"part_{index:03d}"


def parse_destination(path: str, file_type: str | None = None,
                      partition_bytes: int = DEFAULT_PARTITION_BYTES) -> Destination:
    """Check a destination path and file type; infer the type from the extension when omitted.

    Raises ``ConfigError`` naming the bad value: an empty path, a remote URL (later versions), an
    unknown or conflicting file type, ``{{PARTITION}}`` anywhere but as the whole file name, or a
    partition size that is not positive.
    """
    text = (path or "").strip()
    if not text:
        raise ConfigError("The destination path is empty: give --output PATH, e.g. out/preds.parquet.")
    _refuse_remote(text)
    if text.lower().startswith("file://"):
        text = text[len("file://"):]
    _check_partition_placement(text)
    kind = _file_type(text, file_type)
    if partition_bytes <= 0:
        raise ConfigError(f"The partition size must be positive, not {partition_bytes} bytes.")
    ext = PurePath(text).suffix
    if not ext:
        text = text + "." + kind
    return Destination(text, kind, partition_bytes)


def _refuse_remote(text: str) -> None:
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if not scheme:
        return
    if scheme in _LATER:
        raise ConfigError(f"{_LATER[scheme]} destinations ({text}) are not supported yet: this version "
                          "writes local CSV or Parquet files. Give a local path.")
    if scheme != "file":
        raise ConfigError(f"Unknown destination scheme {scheme!r} in {text}: give a local path.")


def _check_partition_placement(text: str) -> None:
    if PARTITION in text and PurePath(text).stem != PARTITION:
        raise ConfigError(f"{PARTITION} must be the whole file name of the destination, e.g. "
                          f"out/{PARTITION}.parquet, not {text}.")
    if "{{" in text.replace(PARTITION, "") or "}}" in text.replace(PARTITION, ""):
        raise ConfigError(f"The destination {text} has a placeholder other than {PARTITION}, the only "
                          "one supported.")


def _file_type(text: str, file_type: str | None) -> str:
    ext = PurePath(text).suffix.lower().lstrip(".")
    if file_type is None or not file_type.strip():
        if ext in FILE_TYPES:
            return ext
        if not ext:
            return "parquet"
        raise ConfigError(f"Cannot tell the file type of {text} from '.{ext}': give --file-type csv "
                          "or --file-type parquet, or end the path in .csv or .parquet.")
    kind = file_type.strip().lower()
    if kind not in FILE_TYPES:
        raise ConfigError(f"Unknown file type {file_type!r}: choose csv or parquet.")
    if ext and ext != kind:
        raise ConfigError(f"The file type {kind} does not match the destination {text} (.{ext}): "
                          f"end the path in .{kind} or choose --file-type {ext}.")
    return kind


def output_destinations(dest: Destination, output_types: tuple[str, ...]) -> dict[str, Destination]:
    """One destination per output type (Kumo's naming; see the module docstring)."""
    if len(output_types) == 1:
        return {output_types[0]: dest}
    return {kind: _suffixed(dest, "_" + kind) for kind in output_types}


def _suffixed(dest: Destination, suffix: str) -> Destination:
    path = PurePath(dest.path)
    if dest.partitioned:
        folder = path.parent
        new = folder.with_name(folder.name + suffix) / path.name
    else:
        new = path.with_name(path.stem + suffix + path.suffix)
    return replace(dest, path=str(new))
