"""What the automatic features of a query read: fitted once on training rows, reused after.

A model trained on one set of feature columns must get the same columns, in the same order and
with the same category codes, at prediction time. Everything that depends on the data (which
columns, category vocabularies, target classes) is therefore fitted once into a
:class:`FeatureSpec`, stored as JSON next to the model and read back with :meth:`from_dict`.

Category values are kept as strings (the column cast to VARCHAR): that survives JSON unchanged
for any column type, and the SQL compares ``CAST(column AS VARCHAR)`` to them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SPEC_VERSION = 1
WINDOW_SUFFIX = {"seconds": "s", "minutes": "min", "hours": "h", "days": "d", "weeks": "w",
                 "months": "mo"}


@dataclass(frozen=True)
class RouteSpec:
    """Fact rows reached from a key through one foreign key (``table.fk`` → the key's table).

    Attributes:
        name: prefix of the feature names (the table, or ``table[fk]`` when the table links to
            the same key table through several columns).
        table, fk, time, pk: the fact table, its foreign key, time column and primary key (the
            primary key breaks ties between rows at the same time).
        numerical: numerical columns aggregated (keys and the time column never are).
        categorical: column → the values whose share among the last rows is a feature.
        parents: other foreign key column → the table it points to (one more hop).
    """

    name: str
    table: str
    fk: str
    time: str
    pk: str | None
    numerical: list[str] = field(default_factory=list)
    categorical: dict[str, list[str]] = field(default_factory=dict)
    parents: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FeatureSpec:
    """The fitted choices behind the feature columns of one query on one graph.

    Attributes:
        entity_table, entity_key, entity_time: ``FOR EACH`` and the entity table's time column.
        temporal: whether rows carry an anchor time (static queries use all rows).
        windows: ``(value, unit)`` of the time windows: 1×, 4× and 12× the target horizon, or
            30/120/365 days for static queries.
        last_k: "the last k rows" sizes.
        numerical, categorical, timestamps: entity table columns used as they are, as codes of
            a vocabulary (most frequent first), and as an age at the anchor time.
        entity_parents: entity table foreign key → parent table (aggregates of the parent).
        routes: fact tables that point to the entity table.
        parent_routes: parent table → fact tables that point to it (aggregated lightly).
        target_classes: for multiclass / multilabel targets, the classes of the history features.
        history_k: the number of past anchors of the target history.
    """

    entity_table: str
    entity_key: str
    entity_time: str | None
    temporal: bool
    windows: list[tuple[float, str]]
    last_k: list[int] = field(default_factory=lambda: [1, 3, 10])
    numerical: list[str] = field(default_factory=list)
    categorical: dict[str, list[str]] = field(default_factory=dict)
    timestamps: list[str] = field(default_factory=list)
    entity_parents: dict[str, str] = field(default_factory=dict)
    routes: list[RouteSpec] = field(default_factory=list)
    parent_routes: dict[str, list[RouteSpec]] = field(default_factory=dict)
    target_classes: list[str] | None = None
    history_k: int = 24

    def window_names(self) -> list[str]:
        """``30d``, ``120d``, ``360d``: the suffixes of the window features."""
        return [window_name(value, unit) for value, unit in self.windows]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only (``json.dumps`` works on the result)."""
        out = asdict(self)
        out["windows"] = [[value, unit] for value, unit in self.windows]
        out["version"] = SPEC_VERSION
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpec:
        """The inverse of :meth:`to_dict`."""
        data = {k: v for k, v in data.items() if k != "version"}
        data["windows"] = [(float(value), str(unit)) for value, unit in data["windows"]]
        data["routes"] = [RouteSpec(**r) for r in data.get("routes", [])]
        data["parent_routes"] = {p: [RouteSpec(**r) for r in routes]
                                 for p, routes in data.get("parent_routes", {}).items()}
        return cls(**data)


def window_name(value: float, unit: str) -> str:
    """A readable, stable name of a window length: ``(30, "days")`` → ``30d``."""
    return f"{float(value):g}{WINDOW_SUFFIX[unit]}"
