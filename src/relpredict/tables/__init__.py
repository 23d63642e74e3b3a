"""Tables: where rows come from (files, databases, frames, SQL over other tables) and what their
columns mean (semantic types). Knows nothing of links between tables."""

from relpredict.tables.stypes import SType
from relpredict.tables.table import (
    ConnectorSource,
    DuckDBSource,
    FileSource,
    FrameSource,
    SQLiteSource,
    Table,
)

__all__ = ["ConnectorSource", "DuckDBSource", "FileSource", "FrameSource", "SQLiteSource", "SType", "Table"]
