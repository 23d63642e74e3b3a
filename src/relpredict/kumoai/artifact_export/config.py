"""``OutputConfig``: the outputs of a batch prediction job and their destination (kumoai's)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from relpredict.errors import ConfigError

__all__ = ["OutputConfig"]

OUTPUT_TYPES = ("predictions", "embeddings")


@dataclass
class OutputConfig:
    """``output_types`` ⊆ {"predictions", "embeddings"}; ``output_connector`` an S3, Snowflake or
    BigQuery connector (``None``: the job's own folder, read with ``predictions_df()``);
    ``output_table_name`` the file or table name there."""

    output_types: set[str] | list[str] | tuple[str, ...]
    output_connector: Any = None
    output_table_name: str | None = None
    output_metadata_fields: list[str] | None = None

    def types(self) -> list[str]:
        """The output types in relpredict's order (predictions first)."""
        given = {str(t).lower() for t in self.output_types}
        unknown = given - set(OUTPUT_TYPES)
        if unknown or not given:
            raise ConfigError(f"OutputConfig(output_types=...) takes predictions and/or embeddings, "
                              f"not {sorted(unknown) or 'nothing'}.")
        return [t for t in OUTPUT_TYPES if t in given]
