"""Automatic, look-ahead-free features of (entity, anchor time) rows, computed in DuckDB.

- :func:`target_history`: the query's own label at past anchors (MODELING.md #1);
- :func:`aggregate_features`: entity columns, fact-table aggregates and one hop to parents;
- :func:`build_features`: both, side by side, as one table for a tabular model.

Fit a :class:`FeatureSpec` on the training rows once (:func:`fit_feature_spec`), store it with
``to_dict`` and reuse it for validation, test and prediction rows so the columns match.

Every feature is float64 (booleans 0/1, unknown NaN). Names, with ``E`` the entity table, ``F``
a fact table pointing to it (``F[fk]`` when it points to it through several columns), ``W`` a
window (``30d``, ``120d``, ``360d`` for a 30-day target; ``mo``, ``w``, ``h``, ``min``, ``s``
for other units)::

    history.last  history.mean_3  history.mean_12  history.mean_24  history.count
    history.trend  history.anchors_since_last  history.true_rate  history.anchors_since_true
    history.class=<c>.share                           (multiclass / multilabel)
    E.<col>                                           numerical column
    E.<col>.code                                      categorical: vocabulary index, -1 other
    E.<col>.age_days                                  timestamp (and E's time column): t - value
    F.count  F.days_since_last
    F.<col>.mean_last1|3|10  F.<col>.mean_W  F.<col>.sum_W  F.<col>.mean_all  F.<col>.sum_all
    F.<col>=<value>.share_last10                      categorical column of F
    F.<fk>>G.count  F.<fk>>G.<col>.mean_last10  F.<fk>>G.<col>.mean_<4x W>
    E.<fk>>G....                                      the same through E's own foreign key

Modules: ``spec`` (the fitted spec, plain data), ``fit`` (choosing columns and vocabularies),
``aggregates`` (computing them), ``history`` (the target at past anchors), ``candidates`` (RANK
TOP k candidate pairs), ``scratch`` (the temporary DuckDB tables of one call).

``F.<fk>>G`` reads "the parent that ``F.fk`` points to in the entity's latest F row, and that
parent's fact table G" (e.g. ``results.constructorId>constructor_results.points.mean_last10``).
"""

from __future__ import annotations

import pyarrow as pa

from relpredict.graph.graph import Graph
from relpredict.query.bound import BoundQuery

from .aggregates import aggregate_features
from .fit import fit_feature_spec
from .history import fit_target_classes, popular_items, recent_items, target_history
from .spec import FeatureSpec, RouteSpec


def build_features(bq: BoundQuery, graph: Graph, rows: pa.Table, spec: FeatureSpec) -> pa.Table:
    """``ENTITY`` (, ``ANCHOR_TIMESTAMP``), then ``history.*``, then the aggregate features."""
    history = target_history(bq, graph, rows, k=spec.history_k, classes=spec.target_classes)
    aggregates = aggregate_features(bq, graph, rows, spec)
    ident = [c for c in history.column_names if c in aggregates.column_names]
    out = history
    for name in aggregates.column_names:
        if name not in ident:
            out = out.append_column(name, aggregates.column(name))
    return out


__all__ = ["FeatureSpec", "RouteSpec", "aggregate_features", "build_features",
           "fit_feature_spec", "fit_target_classes", "popular_items", "recent_items",
           "target_history"]
