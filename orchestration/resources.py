"""The warehouse resource: one place that opens the working DuckDB file."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb

from orchestration.warehouse import connect


class WarehouseResource(dg.ConfigurableResource):
    """The working DuckDB warehouse. DuckDB takes one writer: open, use, close within a step."""

    path: str
    memory_limit: str | None = None

    @contextmanager
    def connection(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        con = connect(self.path, read_only=read_only, memory_limit=self.memory_limit)
        try:
            yield con
        finally:
            con.close()
