"""Ingestion assets, built from configuration by one factory.

``raw/<source>__<table>`` lands one configured source table (every new file, or the query result);
``raw/<entity>`` is the union view over every source table of one canonical entity, which the dbt
sources read. Tables of other entities wait for the customer master, so "unknown customer" is
judged against the customers landed in the same run.
"""


import datetime as dt
import re
from collections import Counter

import dagster as dg

from expectations.contracts import ENTITIES
from orchestration.defs.ingestion.landing import LoadRecord, Validator, land_table
from orchestration.defs.ingestion.readers import BatchRejected
from orchestration.defs.quality.exceptions import write_owner_reports
from orchestration.resources import WarehouseResource
from orchestration.settings import Settings
from orchestration.warehouse import ensure_entity_view, prepare_landing

RAW_GROUP = "raw"


def raw_table_key(raw_table: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", raw_table])


def entity_key(entity_name: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", entity_name])


def load_summary(records: list[LoadRecord]) -> dict[str, int]:
    """Counts over the batches of one materialization, for asset metadata."""
    landed = [r for r in records if r.status != "skipped"]
    return {
        "batches_seen": len(records),
        "batches_skipped": sum(r.status == "skipped" for r in records),
        "batches_rejected": sum(r.status == "rejected" for r in records),
        "rows_landed": sum(r.rows_landed for r in landed),
        "rows_accepted": sum(r.rows_accepted for r in landed),
        "rows_quarantined": sum(r.rows_quarantined for r in landed),
    }


def dagster_owner(owner: str) -> str:
    """Dagster accepts an email or 'team:<name>'; anything else in the config becomes a team."""
    if re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", owner):
        return owner
    return "team:" + re.sub(r"[^A-Za-z0-9_-]+", "_", owner).strip("_")


def load_date(settings: Settings) -> dt.date:
    """The reference day for landing's date sanity bounds: today, or a later as-of date."""
    return max(dt.date.today(), settings.as_of_date)


def _tables_by_entity(settings: Settings) -> dict[str, list[str]]:
    return {name: settings.config.tables_of(name) for name in ENTITIES}


def build_raw_table_asset(settings: Settings, source_name: str, table_name: str, validator: Validator) -> dg.AssetsDefinition:
    """The asset landing one configured source table."""
    src = settings.config.sources[source_name]
    tbl = src.tables[table_name]
    raw_table = f"{source_name}__{table_name}"
    customer_tables = settings.config.tables_of("customers") if tbl.entity != "customers" else []

    @dg.asset(
        key=raw_table_key(raw_table),
        group_name=RAW_GROUP,
        kinds={"duckdb", tbl.format},
        deps=[raw_table_key(t) for t in customer_tables],
        owners=[dagster_owner(src.owner)],
        tags={"system": src.system, "role": src.role},
        description=(
            f"Lands {source_name}.{table_name} ({src.system}, role {src.role}, {src.transport}) as "
            f"canonical `{tbl.entity}` rows with lineage; bad rows are quarantined to "
            f"quality.exceptions for {src.owner}."
        ),
    )
    def _raw_table(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        with warehouse.connection() as con:
            prepare_landing(con, _tables_by_entity(settings))
            try:
                records = land_table(con, settings.config, source_name, table_name, validator,
                                     load_date(settings), progress=context.log.info)
            except BatchRejected as exc:
                raise dg.Failure(description=str(exc)) from None
            finally:
                write_owner_reports(con, settings.exports_dir / "exceptions")
        for rec in records:
            for warning in rec.warnings:
                context.log.warning(warning)
            if rec.status == "loaded":
                context.log.info(f"{rec.file}: {rec.rows_landed} landed, {rec.rows_accepted} accepted, "
                                 f"{rec.rows_quarantined} quarantined")
        rejected = [r for r in records if r.status == "rejected"]
        if rejected:
            raise dg.Failure(
                description=f"{len(rejected)} batch(es) of {raw_table} rejected:\n"
                + "\n".join(f"- {r.message}" for r in rejected),
                metadata=load_summary(records),
            )
        return dg.MaterializeResult(metadata=load_summary(records))

    return _raw_table


def build_entity_view_asset(settings: Settings, entity_name: str) -> dg.AssetsDefinition:
    """The union view of one canonical entity over all its source tables."""
    raw_tables = settings.config.tables_of(entity_name)
    ent = ENTITIES[entity_name]

    @dg.asset(
        key=entity_key(entity_name),
        group_name=RAW_GROUP,
        kinds={"duckdb"},
        deps=[raw_table_key(t) for t in raw_tables],
        description=f"All landed `{entity_name}` rows across sources (a view). {ent.description}",
    )
    def _entity_view(warehouse: WarehouseResource) -> dg.MaterializeResult:
        with warehouse.connection() as con:
            prepare_landing(con, _tables_by_entity(settings))
            ensure_entity_view(con, entity_name, raw_tables)
            counts = Counter(dict(con.execute(
                f"select _status, count(*) from raw.{entity_name} group by _status"
            ).fetchall()))
        return dg.MaterializeResult(metadata={
            "source_tables": ", ".join(raw_tables) or "(none configured)",
            "rows_accepted": counts.get("accepted", 0),
            "rows_quarantined": counts.get("quarantined", 0),
        })

    return _entity_view


def build_ingestion_assets(settings: Settings, validator: Validator) -> list[dg.AssetsDefinition]:
    tables = [build_raw_table_asset(settings, s, t, validator) for s, t, _, _ in settings.config.tables()]
    views = [build_entity_view_asset(settings, name) for name in ENTITIES]
    return tables + views
