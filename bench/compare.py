"""Compare two published serving files table by table, row for row (``EXCEPT ALL`` both ways).

The daily scenario's correctness check: after the refresh, every published table must equal a
full rebuild as of the same date from an empty home. Rows are compared as multisets (duplicates
count, order does not), on the columns both tables have minus those that legitimately differ
between two runs (load timestamps, run ids: ``VOLATILE_COLUMNS``). Pure: it only reads the two
files.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb

#: Columns that differ between any two runs of the same data, whatever the path to it: when a
#: row was landed, detected or published and by which run (``_inputs_loaded_through``: the load
#: time of the daily aging's inputs; ``detected_at``: when an exception was found). Everything
#: else must be equal.
VOLATILE_COLUMNS = frozenset(
    {"loaded_at", "_loaded_at", "run_id", "_run_id", "published_at", "detected_at", "_inputs_loaded_through"}
)


@dataclass(frozen=True)
class TableDifference:
    """Rows of ``table`` only in the left file and only in the right one (``note`` says why a
    table could not be compared row by row: missing on one side, or no shared column)."""

    table: str
    only_left: int
    only_right: int
    note: str = ""

    @property
    def equal(self) -> bool:
        return not (self.only_left or self.only_right or self.note)


def _tables(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, list[str]]:
    rows = con.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where table_catalog = ? order by table_schema, table_name, ordinal_position",
        [catalog],
    ).fetchall()
    out: dict[str, list[str]] = {}
    for schema, table, column in rows:
        out.setdefault(f"{schema}.{table}", []).append(column)
    return out


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def published_differences(
    left: Path,
    right: Path,
    ignore_columns: Collection[str] = VOLATILE_COLUMNS,
    views: Mapping[str, tuple[Collection[str], str]] | None = None,
) -> list[TableDifference]:
    """One entry per table in either file, in name order: rows only in ``left`` / only in
    ``right`` over the shared columns except ``ignore_columns``. ``views`` narrows a table
    (``schema.table`` -> columns also ignored, a SQL condition on the rows compared) where only
    part of it is a function of the data, e.g. a queue's current entries but not their history."""
    views = views or {}
    con = duckdb.connect()
    try:
        con.execute("attach ? as l (read_only)", [str(left)])
        con.execute("attach ? as r (read_only)", [str(right)])
        lt, rt = _tables(con, "l"), _tables(con, "r")
        out = []
        for name in sorted(lt.keys() | rt.keys()):
            if name not in rt or name not in lt:
                side = "left" if name in lt else "right"
                out.append(TableDifference(name, 0, 0, f"only in the {side} file"))
                continue
            skip, where = views.get(name, ((), "true"))
            columns = [c for c in lt[name] if c in rt[name] and c not in ignore_columns and c not in skip]
            if not columns:
                out.append(TableDifference(name, 0, 0, "no column to compare"))
                continue
            cols = ", ".join(_quote(c) for c in columns)
            schema, table = (_quote(p) for p in name.split(".", 1))
            a = f"select {cols} from l.{schema}.{table} where {where}"  # noqa: S608 (quoted identifiers; caller's condition)
            b = f"select {cols} from r.{schema}.{table} where {where}"  # noqa: S608
            only_left = con.execute(f"select count(*) from ({a} except all {b})").fetchall()[0][0]  # noqa: S608
            only_right = con.execute(f"select count(*) from ({b} except all {a})").fetchall()[0][0]  # noqa: S608
            out.append(TableDifference(name, only_left, only_right))
        return out
    finally:
        con.close()
