"""Publishing is guarded: only a warehouse state that a complete build produced, with every
blocking check of that build passed, is copied to serving — and never one that shrank silently.

Every run that changes the warehouse is recorded in ``meta.builds`` when it starts (by the
warehouse resource: ``record_build``); its publish step marks it ``passed`` just before copying.
Dagster runs a publish step only when every upstream step and blocking check of the same run
passed, so:

- a run that builds and publishes must have built everything the publication is made of (a run
  that landed one table, or rebuilt a few models, left the other tables as they were: refused);
- a publish-only launch (the UI can materialize ``serving/published`` alone) republishes only a
  state whose build passed; after a failed or partial build it refuses, naming that build, its
  failed steps and its failed checks;
- a publication never shrinks silently: an empty fact layer, or one that lost more than
  ``publish.max_open_invoice_drop`` of the open invoices the current publication has, needs
  ``--allow-shrink`` (run option ``allow_shrink``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb

from orchestration.warehouse import connect, first_row

BUILDS_DDL = """
create table if not exists meta.builds (
    run_id varchar primary key,
    job varchar not null,
    started_at timestamp not null,
    verdict varchar not null
)
"""


def record_build(con: duckdb.DuckDBPyConnection, run_id: str, job: str) -> None:
    """A run starts changing the warehouse: its state is 'building' until its publish passes."""
    con.execute("create schema if not exists meta")
    con.execute(BUILDS_DDL)
    con.execute(
        "insert into meta.builds values (?, ?, ?, 'building') on conflict do nothing",
        [run_id, job, dt.datetime.now().replace(microsecond=0)],
    )


def changes_warehouse(selected: Iterable[dg.AssetKey] | None, read_only: Iterable[dg.AssetKey]) -> bool:
    """Whether a run with this asset selection (None or empty: its whole job) writes the warehouse."""
    return not selected or bool(set(selected) - set(read_only))


@dataclass(frozen=True)
class Build:
    run_id: str
    job: str
    started_at: dt.datetime
    verdict: str


def latest_build(con: duckdb.DuckDBPyConnection) -> Build | None:
    exists = first_row(
        con, "select 1 from information_schema.tables where table_schema = 'meta' and table_name = 'builds'"
    )
    if not exists:
        return None
    row = first_row(
        con, "select run_id, job, started_at, verdict from meta.builds order by started_at desc, run_id desc limit 1"
    )
    return Build(*row) if row else None


def mark_passed(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    con.execute("update meta.builds set verdict = 'passed' where run_id = ?", [run_id])


def failures_of(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """The failed steps and failed blocking checks of a run, as lines for a message."""
    lines: list[str] = []
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        lines.append(f"step {record.dagster_event.step_key} failed")
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = record.dagster_event.event_specific_data
        if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
            lines.append(f"check {evaluation.asset_key.to_user_string()}:{evaluation.check_name} failed")
    run = instance.get_run_by_id(run_id)
    if not lines and run is not None:
        lines.append(f"the run is {run.status.value}")
    return lines


def refuse_unbuilt(build: Build | None, instance: dg.DagsterInstance) -> None:
    """A publish-only launch: the warehouse state must come from a build that passed."""
    if build is None:
        raise dg.Failure("nothing to publish: no build has ever run on this warehouse", allow_retries=False)
    if build.verdict != "passed":
        detail = "; ".join(failures_of(instance, build.run_id)) or "it did not reach publish"
        raise dg.Failure(
            f"refusing to publish: the warehouse was last changed by run {build.run_id} ({build.job}, started "
            f"{build.started_at}), which did not pass: {detail}. Serving is left as last published; "
            "run the whole job again.",
            allow_retries=False,
        )


def refuse_partial(selected: Iterable[dg.AssetKey], required: Iterable[dg.AssetKey], run_id: str) -> None:
    """A run that changed the warehouse must have built everything the publication is made of."""
    missing = sorted(k.to_user_string() for k in set(required) - set(selected))
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise dg.Failure(
            f"refusing to publish: run {run_id} changed the warehouse without building {shown}; a publication "
            "is made of a complete build. Launch the whole job (or only serving/published after a build that "
            "passed).",
            allow_retries=False,
        )


def open_invoices(con: duckdb.DuckDBPyConnection, catalog: str | None = None) -> int | None:
    """Open invoices in a catalog's fct_ar_invoices; None when it has none (never published)."""
    prefix = f"{catalog}." if catalog else ""
    try:
        row = first_row(
            con,
            f"select count(*) filter (where open_amount > 0), count(*) from {prefix}marts.fct_ar_invoices",  # noqa: S608 (catalog alias is a constant of this module)
        )
    except duckdb.CatalogException:
        return None
    return None if row is None else int(row[0])


def refuse_shrink(
    warehouse: Path, serving: Path, max_drop: float, allow_shrink: bool, memory_limit: str | None
) -> None:
    """An empty fact layer, or one that lost more than ``max_drop`` of the published open invoices."""
    if allow_shrink:
        return
    con = connect(warehouse, read_only=True, memory_limit=memory_limit)
    try:
        new = open_invoices(con)
        total = first_row(con, "select count(*) from marts.fct_ar_invoices")[0]
        current = None
        if serving.exists():
            con.execute("attach ? as published (read_only)", [str(serving)])
            current = open_invoices(con, "published")
    finally:
        con.close()
    if not total:
        raise dg.Failure(
            "refusing to publish an empty fact layer (marts.fct_ar_invoices has no invoice); "
            "check the sources, or publish with --allow-shrink if that is right",
            allow_retries=False,
        )
    if current and new is not None and new < current * (1 - max_drop):
        raise dg.Failure(
            f"refusing to publish: open invoices fell from {current:,} (published) to {new:,}, a drop beyond "
            f"{max_drop:.0%}; a truncated export looks like this. Publish with --allow-shrink if it is right.",
            allow_retries=False,
        )
