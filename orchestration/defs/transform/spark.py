"""The Spark engine's two ends around the dbt build (``warehouse.engine: spark``).

Landing is the same for both engines: batches are read, typed and validated into the warehouse
file, which stays the record of what landed (quarantine, lineage, backups). Before a Spark build,
each landing view ``raw.<entity>`` (accepted and quarantined rows, as dbt's DuckDB build reads it)
is written as one Parquet file under ``home/spark/lake/raw/<entity>/``; the dbt project registers
those folders as the Spark tables its sources name (macro ``register_landing_sources``). dbt-spark
then builds every model as a Parquet table in the Spark catalog under ``home/spark/warehouse``.
After a build that passed, those tables are copied into the warehouse file under the same names,
and the views among the models are created there by dbt on DuckDB, so the risk scores, the
forecast, the publication and the exports read what they always read (DECISIONS.md S1).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from expectations.contracts import ENTITIES
from expectations.sql import lit
from orchestration.defs.publish.serving import swap_in
from orchestration.settings import Settings
from orchestration.warehouse import connect

#: The environment variable the dbt macro ``register_landing_sources`` reads the lake folder from
#: (set around the Spark build by ``dbt.build_on_spark``).
LAKE_ENV = "INFLOW_LAKE_PATH"
#: dbt materializations that leave a table in the Spark catalog (views are recreated in DuckDB).
STORED = frozenset({"table", "incremental"})


def lake_dir(settings: Settings) -> Path:
    """The landed batches as Parquet, one folder per canonical entity: ``<lake>/raw/<entity>/``."""
    return settings.layout.spark / "lake"


def spark_table_dir(settings: Settings, schema: str, table: str) -> Path:
    """Where Spark keeps a managed table of its catalog: ``<warehouse dir>/<schema>.db/<table>``."""
    return settings.layout.spark / "warehouse" / f"{schema}.db" / table


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def write_lake(settings: Settings) -> Path:
    """Write every landing view of the warehouse as Parquet, replacing the previous lake whole.

    Written beside the lake first and swapped in, so a run killed half-way leaves no folder with
    a mix of two runs' files. One file per entity: the landing views are small next to the models
    (one row per landed row), and an entity no source lands still gets a file, empty and typed,
    so Spark knows its columns.
    """
    lake = lake_dir(settings)
    fresh = lake.with_name(lake.name + ".partial")
    shutil.rmtree(fresh, ignore_errors=True)
    con = connect(settings.warehouse_path, read_only=True, memory_limit=settings.config.engine.memory_limit)
    try:
        for name in ENTITIES:
            folder = fresh / "raw" / name
            folder.mkdir(parents=True)
            target = lit(str(folder / "part-0.parquet"))
            con.execute(f"copy (select * from raw.{_quote(name)}) to {target} (format parquet)")  # noqa: S608 (contract entity names)
    finally:
        con.close()
    swap_in(fresh, lake)
    return lake


def stored_models(manifest_path: Path) -> list[tuple[str, str]]:
    """(schema, table) of every model of a manifest that the build stores as a table."""
    nodes = json.loads(manifest_path.read_text(encoding="utf-8"))["nodes"].values()
    return sorted(
        (node["schema"], node["alias"])
        for node in nodes
        if node["resource_type"] == "model" and node["config"]["materialized"] in STORED
    )


def copy_models_to_warehouse(settings: Settings, manifest_path: Path) -> int:
    """Copy every table the Spark build stored into the warehouse file under its own name, in one
    transaction (all tables or none); returns how many. A table Spark did not write fails the
    copy, naming it, rather than leaving the warehouse's older version in place."""
    tables = stored_models(manifest_path)
    missing = [f"{schema}.{table}" for schema, table in tables if not spark_table_dir(settings, schema, table).is_dir()]
    if missing:
        raise RuntimeError(f"the Spark build left no table for {', '.join(missing)} under {settings.layout.spark}")
    con = connect(settings.warehouse_path, memory_limit=settings.config.engine.memory_limit)
    try:
        con.execute("begin transaction")
        for schema in sorted({schema for schema, _ in tables}):
            con.execute(f"create schema if not exists {_quote(schema)}")
        for schema, table in tables:
            files = lit(str(spark_table_dir(settings, schema, table) / "*.parquet"))
            con.execute(
                f"create or replace table {_quote(schema)}.{_quote(table)} as select * from read_parquet({files})"  # noqa: S608 (names from dbt's manifest, quoted)
            )
        con.execute("commit")
    finally:
        con.close()
    return len(tables)
