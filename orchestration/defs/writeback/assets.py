"""Dagster side of the closed loop: the refresh fills the outbox, a separate job sends it.

- Asset ``writeback/erp_outbox`` (part of the daily refresh): derives changes from the warehouse,
  appends them to the outbox store, confirms delivered changes the ERP's latest load shows,
  lists changes that need a person, and copies the outbox into the warehouse as
  ``writeback.erp_outbox`` (published to serving with the other consumer schemas) and those
  exceptions as ``writeback.erp_outbox_exceptions``.
- Job ``inflow_outbox_send`` (an op job, so ``AssetSelection.all()`` of the refresh can never pick
  it up): delivers approved changes and reads acknowledgements. It never opens the warehouse, so a
  failing ERP endpoint never blocks the refresh, and the refresh never waits on a send.
"""

import datetime as dt
from collections.abc import Iterable, Sequence
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from orchestration.defs.quality.store import replace_exceptions_of
from orchestration.defs.writeback.confirmation import confirmed_keys, outbox_exceptions
from orchestration.defs.writeback.derive import WarehouseFrames, complete_state_kinds, derive_changes
from orchestration.defs.writeback.outbox import STATUSES, OutboxStore, utc_now
from orchestration.defs.writeback.sender import send
from orchestration.defs.writeback.serving import copy_exceptions_to_duckdb, copy_outbox_to_duckdb
from orchestration.defs.writeback.settings import WritebackConfig
from orchestration.resources import WarehouseResource
from orchestration.warehouse import scalar

OUTBOX_ASSET_KEY = dg.AssetKey(["writeback", "erp_outbox"])
SEND_JOB = "inflow_outbox_send"

#: Where each input of ``derive_changes`` lives, and the columns read (``*``: all). A relation
#: the warehouse does not have yet (the ML tables before the risk models exist) is skipped.
SOURCES: dict[str, tuple[str, str]] = {
    "promise_outcomes": ("intermediate.int_promise_outcomes", "*"),
    "disputes": ("staging.stg_landing__disputes", "*"),
    "activities": ("staging.stg_landing__activities", "*"),
    "invoice_scores": ("ml.invoice_risk_scores", "*"),
    "customer_scores": ("ml.customer_risk_scores", "*"),
    "collector_queue": ("marts.collector_queue", "*"),
    "collection_stages": ("marts.collection_stages", "*"),
    "invoices": ("marts.fct_ar_invoices", "invoice_id, currency"),
    "customers": ("marts.dim_customers", "customer_id, currency"),
}


def outbox_deps(defined: Iterable[dg.AssetKey]) -> list[dg.AssetKey]:
    """The asset keys (dbt's ``[schema, model]``) of the relations the outbox reads, among those
    defined in the project: the outbox asset's ``deps``, so it runs after them in the refresh."""
    wanted = {dg.AssetKey(relation.split(".")) for relation, _ in SOURCES.values()}
    return sorted((key for key in set(defined) if key in wanted), key=lambda k: k.to_user_string())


def _exists(con: duckdb.DuckDBPyConnection, relation: str) -> bool:
    schema, name = relation.split(".")
    return bool(
        scalar(
            con,
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, name],
        )
    )


def read_frames(con: duckdb.DuckDBPyConnection) -> tuple[WarehouseFrames, list[str]]:
    """The derivation's inputs (through Arrow, so money stays Decimal) and the relations missing."""
    frames: dict[str, pd.DataFrame] = {}
    missing = []
    for name, (relation, columns) in SOURCES.items():
        if _exists(con, relation):
            frames[name] = con.sql(f"select {columns} from {relation}").to_arrow_table().to_pandas()  # noqa: S608 (relations from constants, or observed_relation validated as schema.table)
        else:
            missing.append(relation)
    return WarehouseFrames(**frames), missing


def built_as_of(con: duckdb.DuckDBPyConnection) -> dt.date | None:
    """The as-of date the marts were built for: the changes must describe that day."""
    return scalar(con, "select max(as_of_date) from marts.fct_ar_invoices")


def refresh_outbox(
    con: duckdb.DuckDBPyConnection, store: OutboxStore, config: WritebackConfig, now: dt.datetime
) -> dict[str, object]:
    """One refresh of the loop against an open warehouse connection; returns the numbers."""
    frames, missing = read_frames(con)
    as_of = built_as_of(con)
    numbers: dict[str, object] = {"as_of_date": str(as_of), "relations_missing": ", ".join(missing) or "none"}
    if as_of is not None and config.targets:
        changes = derive_changes(frames, as_of, config.lookback_days)
        result = store.enqueue(changes, config, as_of, now=now, complete=complete_state_kinds(frames, as_of))
        numbers.update(
            added=result.added,
            unchanged=result.unchanged,
            superseded=result.superseded,
            withdrawn=result.withdrawn,
            stale_as_of=result.stale,
        )
    confirming = bool(config.observed_relation and _exists(con, config.observed_relation))
    if confirming:
        observed = con.sql(f"select * from {config.observed_relation}").to_arrow_table().to_pandas()  # noqa: S608 (relations from constants, or observed_relation validated as schema.table)
        keys = confirmed_keys(store.frame(), observed)
        numbers["confirmed"] = store.mark_confirmed(keys, detail=f"shown by {config.observed_relation}", now=now)
    else:
        numbers["confirmation"] = (
            f"off: {config.observed_relation} is not in the warehouse"
            if config.observed_relation
            else "off: no observed_relation configured"
        )
    outbox = store.frame()
    exceptions = outbox_exceptions(
        outbox, {n: t.owner for n, t in config.targets.items()}, config.unconfirmed_after_days, now, confirming
    )
    numbers["rows"] = copy_outbox_to_duckdb(outbox, con)
    numbers["exceptions"] = copy_exceptions_to_duckdb(exceptions, con)
    replace_exceptions_of(con, "writeback", con.sql("select * from writeback.erp_outbox_exceptions").df())
    for status in STATUSES:
        numbers[f"status_{status}"] = int((outbox["status"] == status).sum()) if not outbox.empty else 0
    return numbers


def build_outbox_asset(config: WritebackConfig, home: Path, deps: Sequence[dg.AssetKey]) -> dg.AssetsDefinition:
    """The refresh's part of the loop, after the relations it reads (``deps``) are built."""

    @dg.asset(key=OUTBOX_ASSET_KEY, group_name="writeback", kinds={"sqlite", "duckdb"}, deps=list(deps))
    def erp_outbox(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        """Changes for the ERP derived from today's warehouse (promises, disputes, notes, risk
        bands, collectors, stages), appended to the outbox store under INFLOW_HOME/outbox; changes
        the ERP now shows confirmed; the outbox and its exceptions copied to ``writeback``."""
        with OutboxStore.at_home(home) as store, warehouse.connection() as con:
            numbers = refresh_outbox(con, store, config, utc_now())
        if numbers.get("stale_as_of"):
            context.log.warning("the outbox already holds changes of a later as-of date; nothing enqueued")
        return dg.MaterializeResult(
            metadata={k: dg.MetadataValue.text(v) if isinstance(v, str) else v for k, v in numbers.items()}
        )

    return erp_outbox


def build_send_job(config: WritebackConfig, home: Path) -> dg.JobDefinition:
    """The sender as its own job: never part of the refresh, never touching the warehouse."""

    @dg.op(name="send_outbox")
    def send_outbox(context: dg.OpExecutionContext) -> None:
        """Deliver approved outbox changes to every target and read their acknowledgements."""
        with OutboxStore.at_home(home) as store:
            report = send(store, config, home)
        metadata = {
            f"{name}_{k}": v for name, t in report.targets.items() for k, v in t.__dict__.items() if isinstance(v, int)
        }
        context.log.info(f"send: {metadata}")
        if report.failed or report.retry_later:
            raise dg.Failure(
                description=f"{report.failed} change(s) failed and {report.retry_later} stay queued; "
                "see `inflow outbox list --status failed`",
                metadata=metadata,
            )

    @dg.job(
        name=SEND_JOB,
        description="Send approved outbox changes to the ERP (separate from the refresh).",
        executor_def=dg.in_process_executor,
    )
    def outbox_send_job() -> None:
        send_outbox()

    return outbox_send_job


def build_writeback_definitions(config: WritebackConfig, home: Path, deps: Sequence[dg.AssetKey]) -> dg.Definitions:
    """The loop's definitions, to merge into the project's (``dg.Definitions.merge``). The send
    schedule (every 15 minutes) starts stopped; turn it on in the UI once a target is live."""
    job = build_send_job(config, home)
    schedule = dg.ScheduleDefinition(
        name="inflow_outbox_send_every_15_minutes",
        job=job,
        cron_schedule="*/15 * * * *",
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )
    return dg.Definitions(assets=[build_outbox_asset(config, home, deps)], jobs=[job], schedules=[schedule])
