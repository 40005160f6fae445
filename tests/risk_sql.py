"""Run the risk feature SQL (dbt_project/models/intermediate/ml) on a small company in memory, fast.

dbt compiles the ml models and their ancestors once (``compile_models``); each company is then
built by executing the compiled SQL in dependency order in an in-memory DuckDB attached as
``warehouse`` (the catalog name the compiled SQL uses). That is the same SQL ``dbt build``
runs, in milliseconds per model instead of seconds per dbt invocation, which is what makes a
property-based test over many companies affordable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from expectations.contracts import ENTITIES, LINEAGE_COLUMNS
from orchestration.warehouse import ensure_entity_view, ensure_schemas
from tests.dbt_cli import dbt

ML_MODELS = ("int_risk_training_rows", "int_risk_scoring_rows", "int_risk_customer_rows")
Rows = dict[str, list[dict[str, Any]]]


@dataclass(frozen=True)
class CompiledModel:
    relation: str  # "warehouse"."schema"."name"
    schema: str
    materialized: str
    sql: str


def compile_models(work: Path, run_vars: dict[str, Any]) -> list[CompiledModel]:
    """The ml models and every model they depend on, compiled with ``run_vars``, in build order."""
    work.mkdir(parents=True, exist_ok=True)
    warehouse = work / "warehouse.duckdb"
    con = duckdb.connect(str(warehouse))
    try:
        prepare(con)
    finally:
        con.close()
    run = dbt(warehouse, work, ["compile", "--select", *(f"+{name}" for name in ML_MODELS)], run_vars)
    assert run.returncode == 0, run.output[-6000:]
    manifest = json.loads((work / "target" / "manifest.json").read_text())
    nodes = {
        uid: node
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "model" and node.get("compiled_code")
    }
    ordered: list[str] = []

    def visit(uid: str) -> None:
        if uid in ordered or uid not in nodes:
            return
        for parent in nodes[uid]["depends_on"]["nodes"]:
            visit(parent)
        ordered.append(uid)

    for uid in sorted(nodes):
        visit(uid)
    return [
        CompiledModel(
            nodes[uid]["relation_name"],
            nodes[uid]["schema"],
            nodes[uid]["config"]["materialized"],
            nodes[uid]["compiled_code"],
        )
        for uid in ordered
    ]


def prepare(con: duckdb.DuckDBPyConnection) -> None:
    """An empty landing: the schemas and one raw fixture table plus entity view per entity."""
    ensure_schemas(con)
    for name in ENTITIES:
        ensure_entity_view(con, name, [f"fixture__{name}"])


def land(con: duckdb.DuckDBPyConnection, rows: Rows) -> None:
    """Insert rows as the landing layer would: contract columns in order, then lineage, accepted."""
    for name, entity_rows in rows.items():
        columns = ENTITIES[name].column_names
        placeholders = ", ".join("?" * (len(columns) + len(LINEAGE_COLUMNS)))
        for number, row in enumerate(entity_rows, start=1):
            unknown = set(row) - set(columns)
            assert not unknown, f"{name}: not contract columns: {unknown}"
            lineage = [
                "fixture",
                f"fixture__{name}",
                f"{name}.csv",
                "x",
                number,
                "2026-01-01 00:00:00",
                "accepted",
                None,
            ]
            con.execute(
                f"insert into raw.fixture__{name} values ({placeholders})", [row.get(c) for c in columns] + lineage
            )


def build_company(models: list[CompiledModel], rows: Rows) -> duckdb.DuckDBPyConnection:
    """A fresh in-memory warehouse holding ``rows``, with every compiled model built on it."""
    con = duckdb.connect()
    con.execute("attach ':memory:' as warehouse")
    con.execute("use warehouse")
    prepare(con)
    land(con, rows)
    for model in models:
        con.execute(f"create schema if not exists {model.schema}")
        kind = "view" if model.materialized in ("view", "ephemeral") else "table"
        con.execute(f"create or replace {kind} {model.relation} as {model.sql}")
    return con
