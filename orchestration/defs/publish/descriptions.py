"""Table and column descriptions from the dbt docs, carried into the serving file.

A BI tool shows what a column means when the database says so: DuckDB keeps descriptions as
``COMMENT ON TABLE`` / ``COMMENT ON COLUMN`` (``duckdb_tables().comment``,
``duckdb_columns().comment``), and readers from DuckDB 1.x on list them. The text comes from the
dbt manifest of the run that built the warehouse (``INFLOW_HOME/dbt/<run id>/manifest.json``),
else the project's parsed manifest; dbt's own ``persist_docs`` stays off, since it would write the
comments into the working warehouse on every build, not into what is published.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb


@dataclass(frozen=True)
class TableDocs:
    description: str
    columns: dict[str, str] = field(default_factory=dict)


def dbt_descriptions(manifest: Path) -> dict[tuple[str, str], TableDocs]:
    """(schema, table) -> its description and its columns' descriptions, for every dbt model
    that has any. A missing or unreadable manifest gives none (publishing does not depend on docs)."""
    try:
        nodes = json.loads(manifest.read_text(encoding="utf-8"))["nodes"]
    except (OSError, ValueError, KeyError):
        return {}
    docs: dict[tuple[str, str], TableDocs] = {}
    for node in nodes.values():
        if node.get("resource_type") != "model":
            continue
        columns = {
            name: column["description"].strip()
            for name, column in node.get("columns", {}).items()
            if column.get("description", "").strip()
        }
        description = (node.get("description") or "").strip()
        if description or columns:
            docs[(node["schema"], node.get("alias") or node["name"])] = TableDocs(description, columns)
    return docs


def _literal(text: str) -> str:
    """A SQL string literal (``COMMENT ON`` takes no parameters); quotes doubled, whitespace folded."""
    return "'" + " ".join(text.split()).replace("'", "''") + "'"


def comment_tables(
    con: duckdb.DuckDBPyConnection, docs: dict[tuple[str, str], TableDocs], tables: list[tuple[str, str]]
) -> int:
    """Comment every published (schema, table) that has docs, on the connection's current
    database; returns how many comments were written. Identifiers come from the published
    tables' own names (checked against the catalog), columns only when the table has them."""
    written = 0
    for schema, table in tables:
        table_docs = docs.get((schema, table))
        if table_docs is None:
            continue
        if table_docs.description:
            con.execute(f'comment on table {schema}."{table}" is {_literal(table_docs.description)}')
            written += 1
        present = {
            name
            for (name,) in con.execute(
                "select column_name from duckdb_columns() where database_name = current_database() "
                "and schema_name = ? and table_name = ?",
                [schema, table],
            ).fetchall()
        }
        for column, text in table_docs.columns.items():
            if column in present:
                con.execute(f'comment on column {schema}."{table}"."{column}" is {_literal(text)}')
                written += 1
    return written
