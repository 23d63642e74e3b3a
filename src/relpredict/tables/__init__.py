"""Tables: where rows come from and what their columns mean."""

from relpredict.tables.stypes import SType
from relpredict.tables.table import DuckDBSource, FileSource, FrameSource, SQLiteSource, Table

__all__ = ["DuckDBSource", "FileSource", "FrameSource", "SQLiteSource", "SType", "Table"]
