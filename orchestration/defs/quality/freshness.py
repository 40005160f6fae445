"""Freshness of each source table, from its configured cadence.

A source is fresh while its last new batch landed within ``cadence.expected_every``. A stale
source is recorded in ``quality.source_loads`` with status ``stale`` by the step that landed it
(:func:`record_if_stale`), flagged in the Dagster UI by a read-only asset check, and blocks
publishing when its cadence says ``block_publish_when_stale``.
"""

import datetime as dt
from dataclasses import dataclass

import dagster as dg
import duckdb

from orchestration.config import InflowConfig
from orchestration.defs.keys import raw_table_key
from orchestration.defs.quality.store import LoadRecord, record_load
from orchestration.resources import WarehouseResource
from orchestration.settings import Settings
from orchestration.warehouse import scalar


@dataclass(frozen=True)
class Freshness:
    last_loaded_at: dt.datetime | None
    max_age: dt.timedelta
    checked_at: dt.datetime

    @property
    def age(self) -> dt.timedelta | None:
        return None if self.last_loaded_at is None else self.checked_at - self.last_loaded_at

    @property
    def is_stale(self) -> bool:
        return self.age is None or self.age > self.max_age

    def describe(self, raw_table: str) -> str:
        expected = f"expected every {self.max_age}"
        if self.last_loaded_at is None:
            return f"{raw_table}: no batch has ever landed ({expected})"
        return f"{raw_table}: last new batch landed {self.age} ago at {self.last_loaded_at} ({expected})"


def measure_freshness(
    con: duckdb.DuckDBPyConnection, raw_table: str, max_age: dt.timedelta, now: dt.datetime
) -> Freshness:
    last = scalar(
        con,
        "select max(loaded_at) from quality.source_loads where source_table = ? and status = 'loaded'",
        [raw_table],
    )
    return Freshness(last, max_age, now)


def record_if_stale(
    con: duckdb.DuckDBPyConnection,
    config: InflowConfig,
    source_name: str,
    table_name: str,
    now: dt.datetime | None = None,
) -> Freshness:
    """Measure a source table's freshness after landing it; a stale one is recorded as a load."""
    src = config.sources[source_name]
    raw_table = f"{source_name}__{table_name}"
    now = now or dt.datetime.now().replace(microsecond=0)
    fresh = measure_freshness(con, raw_table, src.cadence.max_age, now)
    if fresh.is_stale:
        record_load(
            con,
            LoadRecord(
                source_name,
                raw_table,
                src.tables[table_name].entity,
                "(no new batch)",
                "",
                status="stale",
                message=fresh.describe(raw_table),
                loaded_at=now,
            ),
        )
    return fresh


def build_freshness_check(settings: Settings, source_name: str, table_name: str) -> dg.AssetChecksDefinition:
    src = settings.config.sources[source_name]
    raw_table = f"{source_name}__{table_name}"

    @dg.asset_check(
        asset=raw_table_key(raw_table),
        name="freshness",
        blocking=src.cadence.block_publish_when_stale,
        description=f"{raw_table} delivered a new batch within {src.cadence.expected_every}.",
    )
    def _freshness(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        now = dt.datetime.now().replace(microsecond=0)
        with warehouse.connection(read_only=True) as con:
            fresh = measure_freshness(con, raw_table, src.cadence.max_age, now)
        severity = dg.AssetCheckSeverity.ERROR if src.cadence.block_publish_when_stale else dg.AssetCheckSeverity.WARN
        return dg.AssetCheckResult(
            passed=not fresh.is_stale,
            severity=severity,
            description=fresh.describe(raw_table),
            metadata={
                "last_loaded_at": str(fresh.last_loaded_at),
                "age_hours": round(fresh.age.total_seconds() / 3600, 2) if fresh.age else -1.0,
                "expected_every": src.cadence.expected_every,
                "blocks_publish": src.cadence.block_publish_when_stale,
            },
        )

    return _freshness


def build_freshness_checks(settings: Settings) -> list[dg.AssetChecksDefinition]:
    return [build_freshness_check(settings, s, t) for s, t, _, _ in settings.config.tables()]
