"""Graphs of tables: the tables, their keys and links in one DuckDB connection; validation of
keys and times, YAML in and out, and inference of keys and links from files."""

from relpredict.graph.graph import Graph, Link
from relpredict.graph.validate import Finding
from relpredict.graph.yaml_io import dump_graph, load_graph

__all__ = ["Finding", "Graph", "Link", "dump_graph", "load_graph"]
