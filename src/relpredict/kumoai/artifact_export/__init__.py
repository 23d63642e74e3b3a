"""Where batch prediction outputs go (kumoai's ``artifact_export``)."""

from relpredict.kumoai.artifact_export.config import OutputConfig

__all__ = ["OutputConfig"]
