"""Automatic, look-ahead-free features of (entity, anchor time) rows, computed in DuckDB.

- :func:`target_history`: the query's own label at past anchors (MODELING.md #1);
- :func:`aggregate_features`: entity columns, fact-table aggregates and one hop to parents;
- :func:`build_features`: both, side by side, as one table for a tabular model.

Fit a :class:`FeatureSpec` on the training rows once (:func:`fit_feature_spec`), store it with
``to_dict`` and reuse it for validation, test and prediction rows so the columns match.
"""

from __future__ import annotations

import pyarrow as pa

from relpredict.graph.graph import Graph
from relpredict.query.bound import BoundQuery

from .aggregates import aggregate_features, fit_feature_spec
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
