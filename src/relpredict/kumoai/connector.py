"""kumoai's connectors and source tables over relpredict's table sources.

``S3Connector(root_dir=...)`` reads ``NAME.parquet``, ``NAME.csv`` or the folder ``NAME/`` under
its root (an ``s3://`` root through the S3 source of :mod:`relpredict.sinks.sources`, a local
folder as local files); ``SnowflakeConnector`` / ``BigQueryConnector`` name a connector of the
workspace (``relpredict connector add``), whose secrets are references; ``FileUploadConnector``
keeps the path of each "uploaded" file and reads it in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from relpredict.errors import ConfigError, NotFoundError
from relpredict.graph.graph import Graph
from relpredict.kumoai._session import session, unsupported
from relpredict.sinks.sources import s3_entries, s3_objects
from relpredict.tables.table import ConnectorSource, FileSource, Table, file_format

__all__ = ["BigQueryConnector", "Connector", "DatabricksConnector", "FileUploadConnector",
           "GlueConnector", "S3Connector", "SnowflakeConnector", "SourceColumn", "SourceTable"]


@dataclass(frozen=True)
class SourceColumn:
    """A column of a source table: its name and its storage type (DuckDB's name)."""

    name: str
    dtype: str


class SourceTable:
    """A table a connector can read (``connector["orders"]``), before keys and types are set."""

    def __init__(self, name: str, connector: Connector) -> None:
        self.name = name
        self.connector = connector

    def __repr__(self) -> str:
        return f"SourceTable(name={self.name!r}, connector={self.connector.name!r})"

    def table(self, name: str | None = None, **meta: Any) -> Table:
        """This source as a relpredict :class:`~relpredict.tables.table.Table`."""
        return Table(name or self.name, self.connector._source(self.name), **meta)

    def _graph(self) -> Graph:
        return Graph([self.table()], name=self.name, sources=session().sources)

    @property
    def columns(self) -> list[SourceColumn]:
        graph = self._graph()
        try:
            return [SourceColumn(c, t) for c, t in graph.columns(self.name).items()]
        finally:
            graph.close()

    @property
    def column_dict(self) -> dict[str, SourceColumn]:
        return {c.name: c for c in self.columns}

    def head(self, num_rows: int = 5) -> pd.DataFrame:
        """The first ``num_rows`` rows (the whole source is read once to give them)."""
        graph = self._graph()
        try:
            return graph.sql(f'SELECT * FROM "{self.name}" LIMIT {int(num_rows)}').df()
        finally:
            graph.close()


class Connector:
    """A source of tables: ``connector["name"]`` / ``connector.table("name")``."""

    name: str = ""

    def table(self, name: str) -> SourceTable:
        if not self.has_table(name):
            raise NotFoundError(f"The {type(self).__name__} {self.name!r} has no table {name!r}. "
                                f"Tables: {', '.join(self.table_names()) or '(none)'}.")
        return SourceTable(name, self)

    def __getitem__(self, name: str) -> SourceTable:
        return self.table(name)

    def has_table(self, name: str) -> bool:
        return True  # warehouses: a missing table is told when it is read, naming it

    def table_names(self) -> list[str]:
        unsupported(f"listing the tables of a {type(self).__name__}",
                    "name the tables you need (connector['NAME'])")

    def _source(self, name: str) -> Any:
        raise NotImplementedError


def _local_file(folder: Path, name: str) -> Path | None:
    for candidate in (folder / f"{name}.parquet", folder / f"{name}.csv", folder / name):
        if candidate.exists():
            return candidate
    return None


class S3Connector(Connector):
    """Tables as Parquet or CSV files under ``root_dir`` (``s3://bucket/prefix/`` or, relpredict
    only, a local folder): ``NAME.parquet``, ``NAME.csv`` or a folder ``NAME/`` of files.

    ``connector`` (relpredict only) names a workspace S3 connector for the endpoint and the
    credentials; without it the standard AWS chain and ``AWS_ENDPOINT_URL(_S3)`` apply.
    """

    def __init__(self, root_dir: str | None = None, *, connector: str | None = None,
                 name: str | None = None) -> None:
        session()  # as in kumoai: connectors exist within an initialised SDK
        self.root_dir = (str(root_dir).rstrip("/") + "/") if root_dir else None
        self.connector = connector
        self.name = name or connector or (self.root_dir or "s3")

    def __repr__(self) -> str:
        return f"S3Connector(root_dir={self.root_dir!r})"

    @property
    def is_local(self) -> bool:
        return self.root_dir is not None and not self.root_dir.lower().startswith("s3://")

    def _path(self, name: str) -> str:
        if name.lower().startswith("s3://") or self.root_dir is None:
            if not name.lower().startswith("s3://"):
                raise ConfigError(f"S3Connector() has no root_dir: give the table's full path "
                                  f"(s3://bucket/{name}.parquet) or S3Connector(root_dir=...).")
            return name
        return self.root_dir + name

    def has_table(self, name: str) -> bool:
        return self._find(name) is not None

    def _find(self, name: str) -> Any:
        path = self._path(name)
        if self.is_local:
            return _local_file(Path(path).parent, Path(path).name)
        ws = session().workspace
        for candidate in (f"{path}.parquet", f"{path}.csv", f"{path}/", path):
            if s3_objects(ws, ConnectorSource("s3", self.connector, path=candidate)):
                return candidate
        return None

    def _source(self, name: str) -> Any:
        found = self._find(name)
        if found is None:
            raise NotFoundError(f"No table {name!r} under {self.root_dir}: expected {name}.parquet, "
                                f"{name}.csv or a folder {name}/ of Parquet or CSV files.")
        if self.is_local:
            fmt = file_format(found) if not found.is_dir() else _folder_format(found)
            return FileSource(str(found), fmt)
        return ConnectorSource("s3", self.connector, path=found)

    def table_names(self) -> list[str]:
        if self.root_dir is None:
            return []
        if self.is_local:
            entries = sorted(p.name for p in Path(self.root_dir).iterdir() if not p.name.startswith((".", "_")))
        else:
            entries = s3_entries(session().workspace, self.connector, self.root_dir)
        return sorted({e.rsplit(".", 1)[0] if e.endswith((".parquet", ".csv")) else e for e in entries})


def _folder_format(folder: Path) -> str:
    suffixes = {p.suffix.lower() for p in folder.iterdir() if p.suffix.lower() in (".parquet", ".csv")}
    if len(suffixes) != 1:
        raise ConfigError(f"The folder {folder} must hold only .parquet or only .csv files.")
    return suffixes.pop()[1:]


class FileUploadConnector(Connector):
    """Local Parquet or CSV files. ``upload(name, path)`` records the file; relpredict reads it
    in place (nothing is copied: the workspace is on this machine)."""

    def __init__(self, file_type: str = "parquet") -> None:
        session()
        if file_type not in ("parquet", "csv"):
            raise ConfigError(f"FileUploadConnector(file_type=...) is 'parquet' or 'csv', not {file_type!r}.")
        self.file_type = file_type
        self.name = f"file_upload_{file_type}"

    def upload(self, name: str, path: str, auto_partition: bool = True, partition_size_mb: int = 250) -> None:
        file = Path(path).expanduser().absolute()
        if not file.is_file():
            raise ConfigError(f"FileUploadConnector.upload({name!r}): {file} is not a file.")
        if file_format(file) != self.file_type:
            raise ConfigError(f"FileUploadConnector(file_type={self.file_type!r}).upload({name!r}): "
                              f"{file} is not a .{self.file_type} file.")
        session().uploads[f"{self.file_type}:{name}"] = file

    def delete(self, name: str) -> None:
        session().uploads.pop(f"{self.file_type}:{name}", None)

    def has_table(self, name: str) -> bool:
        return f"{self.file_type}:{name}" in session().uploads

    def table_names(self) -> list[str]:
        prefix = f"{self.file_type}:"
        return sorted(k[len(prefix):] for k in session().uploads if k.startswith(prefix))

    def _source(self, name: str) -> Any:
        return FileSource(str(session().uploads[f"{self.file_type}:{name}"]), self.file_type)


class _WarehouseConnector(Connector):
    kind = ""

    def __init__(self, name: str, credentials: Any = None, **settings: Any) -> None:
        if credentials is not None:
            unsupported(f"{type(self).__name__}(credentials=...)", "relpredict never takes a secret "
                        f"as a value: add the connector once with `relpredict connector add {name} "
                        f"--kind {self.kind} --set ... --secret password=env:VAR` and name it here")
        from relpredict.connectors import get_connector

        connector = get_connector(session().workspace, name)
        if connector.kind != self.kind:
            raise ConfigError(f"The workspace connector {name!r} is a {connector.kind} connector, "
                              f"not {self.kind}.")
        self.name = name
        self.settings = dict(connector.settings)
        self._check(settings)

    def _check(self, given: dict[str, Any]) -> None:
        """Settings given here must agree with the workspace connector's (they are not stored)."""
        for key, value in given.items():
            have = self.settings.get(self._SETTING.get(key, key))
            if value is not None and have is not None and str(value) != str(have):
                raise ConfigError(f"{type(self).__name__}({key}={value!r}) differs from the workspace "
                                  f"connector {self.name!r} ({have!r}): change it with "
                                  "`relpredict connector add --replace`.")

    _SETTING: dict[str, str] = {}

    @classmethod
    def get_by_name(cls, name: str) -> Any:
        return cls(name)

    def _source(self, name: str) -> Any:
        return ConnectorSource(self.kind, self.name, table=name)


class SnowflakeConnector(_WarehouseConnector):
    """A Snowflake connector of the workspace, by name (settings and secret references there)."""

    kind = "snowflake"
    _SETTING = {"schema_name": "schema"}

    def __init__(self, name: str, account: str | None = None, warehouse: str | None = None,
                 database: str | None = None, schema_name: str | None = None,
                 credentials: Any = None, _bypass_creation: bool = False) -> None:
        super().__init__(name, credentials, account=account, warehouse=warehouse, database=database,
                         schema_name=schema_name)


class BigQueryConnector(_WarehouseConnector):
    """A BigQuery connector of the workspace, by name (settings and secret references there)."""

    kind = "bigquery"
    _SETTING = {"project_id": "project", "dataset_id": "dataset"}

    def __init__(self, name: str, project_id: str | None = None, dataset_id: str | None = None,
                 credentials: Any = None, _bypass_creation: bool = False) -> None:
        super().__init__(name, credentials, project_id=project_id, dataset_id=dataset_id)


def _not_here(kind: str) -> type:
    class Unsupported(Connector):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            unsupported(f"a {kind} connector", "relpredict reads S3, Snowflake, BigQuery and local "
                        "files; export the tables to one of those (e.g. Parquet on S3)")

    Unsupported.__name__ = Unsupported.__qualname__ = kind
    return Unsupported


DatabricksConnector = _not_here("DatabricksConnector")
GlueConnector = _not_here("GlueConnector")
GCSConnector = _not_here("GCSConnector")
ADLSConnector = _not_here("ADLSConnector")
