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
from orchestration.audit import AuditTrail, record_loads
from orchestration.defs.ingestion.landing import land_table
from orchestration.defs.ingestion.readers import BatchRejected
from orchestration.defs.keys import entity_key, raw_table_key
from orchestration.defs.quality.freshness import record_if_stale
from orchestration.defs.quality.store import LoadRecord, write_owner_reports
from orchestration.privacy import pseudonym_key
from orchestration.resources import RunOptions, WarehouseResource
from orchestration.settings import Settings

RAW_GROUP = "raw"


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


def load_date(as_of: dt.date) -> dt.date:
    """The reference day for landing's date sanity bounds: today, or a later as-of date."""
    return max(dt.date.today(), as_of)


def build_raw_table_asset(settings: Settings, source_name: str, table_name: str) -> dg.AssetsDefinition:
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
    def _raw_table(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, run: RunOptions
    ) -> dg.MaterializeResult:
        trail = AuditTrail(settings.home)
        as_of = run.as_of(settings.config.as_of_date)
        with warehouse.connection() as con:
            try:
                records = land_table(
                    con,
                    settings.config,
                    source_name,
                    table_name,
                    load_date(as_of),
                    progress=context.log.info,
                    tombstone_key=pseudonym_key(settings.home),
                )
            except BatchRejected as exc:
                write_owner_reports(con, settings.exports_dir / "exceptions")
                trail.record(
                    "load",
                    f"rejected: {exc.rule}",
                    run_id=context.run_id,
                    as_of=as_of,
                    subject=raw_table,
                    detail=str(exc),
                )
                raise dg.Failure(description=str(exc)) from None
            record_loads(trail, records, context.run_id, as_of)
            record_if_stale(con, settings.config, source_name, table_name)
            rejected = [r for r in records if r.status == "rejected"]
            if rejected:  # the owners of the data that blocks the run need the list now
                write_owner_reports(con, settings.exports_dir / "exceptions")
        for rec in records:
            for warning in rec.warnings:
                context.log.warning(warning)
            if rec.status == "loaded":
                context.log.info(
                    f"{rec.file}: {rec.rows_landed} landed, {rec.rows_accepted} accepted, "
                    f"{rec.rows_quarantined} quarantined"
                    + (
                        f"; replaces {rec.replaced} earlier deliver{'y' if rec.replaced == 1 else 'ies'}"
                        if rec.replaced
                        else ""
                    )
                )
        if rejected:
            raise dg.Failure(
                description=f"{len(rejected)} batch(es) of {raw_table} rejected:\n"
                + "\n".join(
                    f"- {r.message}" + (f" (unchanged since {r.loaded_at})" if r.repeated else "") for r in rejected
                ),
                metadata=load_summary(records),
            )
        return dg.MaterializeResult(metadata=load_summary(records))

    return _raw_table


def build_entity_view_asset(settings: Settings, entity_name: str) -> dg.AssetsDefinition:
    """The union view of one canonical entity over all its source tables (laid out by the
    warehouse resource at the start of the run); this step reports its rows."""
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
        with warehouse.connection(read_only=True) as con:
            counts = Counter(
                dict(con.execute(f"select _status, count(*) from raw.{entity_name} group by _status").fetchall())  # noqa: S608 (entity name from the contract)
            )
        return dg.MaterializeResult(
            metadata={
                "source_tables": ", ".join(raw_tables) or "(none configured)",
                "rows_accepted": counts.get("accepted", 0),
                "rows_quarantined": counts.get("quarantined", 0),
            }
        )

    return _entity_view


def build_ingestion_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    tables = [build_raw_table_asset(settings, s, t) for s, t, _, _ in settings.config.tables()]
    views = [build_entity_view_asset(settings, name) for name in ENTITIES]
    return tables + views
