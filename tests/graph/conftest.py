"""Shared fixtures of the tables-and-graphs tests: small files written into tmp_path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from relpredict.graph import Graph


def write(path: Path, text: str) -> Path:
    """Write ``text`` (leading indentation of the block removed) and return the path."""
    lines = text.strip("\n").splitlines()
    indent = min((len(ln) - len(ln.lstrip()) for ln in lines if ln.strip()), default=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(ln[indent:] for ln in lines) + "\n")
    return path


def scalar(graph: Graph, sql: str) -> Any:
    """The one value of a one-row query (fetchall: a bare fetchone leaves DuckDB 2 results open)."""
    return graph.con.execute(sql).fetchall()[0][0]


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """customers / products / orders / tickets CSVs: clean keys, one link that does not hold.

    tickets.customer_id is named like a key of customers, but only 1 of its 4 distinct values
    (1) is a customer, so inference must not link it.
    """
    folder = tmp_path / "shop"
    write(folder / "customers.csv", """
        customer_id,name,birthday
        1,Ann,1990-01-02
        2,Bob,1985-05-06
        3,Cem,2001-12-24
        4,Dee,1979-07-30
    """)
    write(folder / "products.csv", """
        product_id,title,price
        10,Lamp,19.5
        11,Desk,120.0
        12,Chair,45.25
    """)
    write(folder / "orders.csv", """
        order_id,customer_id,product_id,ordered_at,quantity
        100,1,10,2024-01-05 10:00:00,1
        101,1,11,2024-01-06 11:30:00,2
        102,2,12,2024-02-01 09:15:00,1
        103,3,10,2024-02-10 17:45:00,3
        104,4,12,2024-03-01 08:00:00,1
        105,2,11,2024-03-02 12:00:00,2
    """)
    write(folder / "tickets.csv", """
        ticket_id,customer_id,opened_at
        1,1,2024-04-01 10:00:00
        2,70,2024-04-02 10:00:00
        3,80,2024-04-03 10:00:00
        4,90,2024-04-04 10:00:00
    """)
    return folder
