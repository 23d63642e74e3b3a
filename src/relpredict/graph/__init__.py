"""Graphs of tables: metadata, loading, validation, YAML, inference."""

from relpredict.graph.graph import Graph, Link
from relpredict.graph.validate import Finding
from relpredict.graph.yaml_io import dump_graph, load_graph

__all__ = ["Finding", "Graph", "Link", "dump_graph", "load_graph"]
