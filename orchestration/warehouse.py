"""DDL of the landing layer: raw source tables, per-entity union views and quality tables.

Identifiers here come only from the canonical contract and validated configuration names (an
allow-list), never from data, so building SQL text from them is safe; values always go as
parameters.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb

from expectations.contracts import ENTITIES, LINEAGE_COLUMNS, Entity
from orchestration.defs.quality.store import ensure_quality_tables

SCHEMAS = ("raw", "quality", "staging", "intermediate", "marts", "ml", "forecast", "writeback")


def connect(path: Path | str, read_only: bool = False, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """Open the warehouse; callers close it before dbt runs (DuckDB takes one writer).

    ``memory_limit`` (engine.memory_limit of the configuration) bounds DuckDB's memory; beyond
    it DuckDB spills to ``<file>.tmp`` beside the database.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    config = {"memory_limit": memory_limit} if memory_limit else {}
    return duckdb.connect(str(path), read_only=read_only, config=config)


def ensure_schemas(con: duckdb.DuckDBPyConnection) -> None:
    for schema in SCHEMAS:
        con.execute(f"create schema if not exists {schema}")
    ensure_quality_tables(con)


def raw_columns(ent: Entity) -> list[tuple[str, str]]:
    """(name, DuckDB type) of a raw table: canonical columns in contract order, then lineage."""
    return [(c.name, c.duckdb_type) for c in ent.columns] + list(LINEAGE_COLUMNS.items())


def ensure_raw_table(con: duckdb.DuckDBPyConnection, raw_table: str, entity_name: str) -> None:
    cols = ", ".join(f"{name} {typ}" for name, typ in raw_columns(ENTITIES[entity_name]))
    con.execute(f"create table if not exists raw.{raw_table} ({cols})")


def entity_view_sql(entity_name: str, raw_tables: list[str]) -> str:
    """A view over every raw table of one entity; typed and empty when no source feeds it."""
    ent = ENTITIES[entity_name]
    names = [name for name, _ in raw_columns(ent)]
    if not raw_tables:
        empty = ", ".join(f"cast(null as {typ}) as {name}" for name, typ in raw_columns(ent))
        body = f"select {empty} where false"
    else:
        body = "\nunion all\n".join(f"select {', '.join(names)} from raw.{t}" for t in raw_tables)  # noqa: S608 (identifiers from the contract)
    return f"create or replace view raw.{entity_name} as\n{body}"


def ensure_entity_view(con: duckdb.DuckDBPyConnection, entity_name: str, raw_tables: list[str]) -> None:
    for table in raw_tables:
        ensure_raw_table(con, table, entity_name)
    con.execute(entity_view_sql(entity_name, raw_tables))


def prepare_landing(con: duckdb.DuckDBPyConnection, tables_of_entity: dict[str, list[str]]) -> None:
    """Schemas, quality tables, every configured raw table and every entity's union view."""
    ensure_schemas(con)
    for entity_name in ENTITIES:
        ensure_entity_view(con, entity_name, tables_of_entity.get(entity_name, []))


def first_row(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> tuple | None:
    """The first row of a query, consuming the whole result (DuckDB 2 refuses unfinished results)."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0] if rows else None


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None):
    """The first value of the first row, or None."""
    row = first_row(con, sql, params)
    return row[0] if row else None


def content_fingerprint(con: duckdb.DuckDBPyConnection, relation: str) -> str:
    """``rows:hash-sum:columns`` of a table or ``(select ...)``: equal for equal contents in any
    row order, different when a row, a column's name or a column's type changes (a renamed column
    keeps every value, so the values alone would call it unchanged). Backups and publications
    reuse a file only when it is unchanged by this measure."""
    rows, digest = con.execute(f"select count(*), coalesce(sum(hash(t)), 0) from {relation} t").fetchall()[0]  # noqa: S608 (a catalog name or the caller's own select)
    return f"{rows}:{digest}:{_column_signature(con, relation)}"


def part_fingerprints(con: duckdb.DuckDBPyConnection, relation: str, part: str) -> tuple[str, dict[str, str]]:
    """The :func:`content_fingerprint` of a relation and of each of its parts, in one scan. Parts
    are the text values of the SQL expression ``part`` over the row ``t`` (e.g. the month of a
    date column); a part's fingerprint equals the whole fingerprint of the same rows, and a part
    without rows is absent. Row counts and hash sums add up exactly, so the whole is their sum."""
    signature = _column_signature(con, relation)
    found = con.execute(
        f"select {part} as part, count(*), sum(hash(t)) from {relation} t group by all"  # noqa: S608 (a catalog name or the caller's own select)
    ).fetchall()
    parts = {str(key): f"{rows}:{digest}:{signature}" for key, rows, digest in found}
    whole = f"{sum(rows for _, rows, _ in found)}:{sum(digest for _, _, digest in found)}:{signature}"
    return whole, parts


def _column_signature(con: duckdb.DuckDBPyConnection, relation: str) -> str:
    """A short digest of a relation's column names and types, in order."""
    columns = con.execute(f"describe select * from {relation}").fetchall()  # noqa: S608 (a catalog name or the caller's own select)
    signature = ";".join(f"{name} {typ}" for name, typ, *_ in columns)
    return hashlib.sha256(signature.encode()).hexdigest()[:16]


def fingerprint_rows(fingerprint: str) -> int:
    """The row count a :func:`content_fingerprint` carries."""
    return int(fingerprint.split(":")[0])
