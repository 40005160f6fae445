"""The quality tables and their one owner: load records, exceptions and the owners' reports.

``quality.source_loads`` has one row per batch seen (loaded, rejected, stale, or replaced by a
later delivery of the same file or snapshot: decision L1) and
``quality.exceptions`` one row per open broken rule: a quarantined row, or a rejected batch (no row
number) until that batch is loaded; ``quality.date_orders`` the day/month order each date column
declared with both orders was found to have (:mod:`orchestration.defs.ingestion.date_order`).
Landing writes them, the freshness step and the exception report read them, publish copies them;
all go through this module, so their shape is defined once.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import re
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from expectations.rules import RENAMED, rule
from orchestration.spreadsheet_safety import safe_row

SOURCE_LOADS_DDL = """
create table if not exists quality.source_loads (
    load_id varchar primary key,
    source varchar not null,
    source_table varchar not null,
    entity varchar not null,
    file varchar not null,
    checksum varchar not null,
    rows_landed bigint not null,
    rows_accepted bigint not null,
    rows_quarantined bigint not null,
    status varchar not null,
    message varchar,
    loaded_at timestamp not null
)
"""

EXCEPTIONS_DDL = """
create table if not exists quality.exceptions (
    source varchar not null,
    source_table varchar not null,
    entity varchar not null,
    file varchar not null,
    checksum varchar not null,
    row_number bigint,
    rule varchar not null,
    column_name varchar,
    detail varchar not null,
    owner varchar not null,
    payload varchar,
    detected_at timestamp not null
)
"""

DATE_ORDERS_DDL = """
create table if not exists quality.date_orders (
    source_table varchar not null,
    column_name varchar not null,
    date_format varchar not null,
    decided_from varchar not null,
    decided_at timestamp not null
)
"""

#: Columns of quality.exceptions, in order (frames written into it are shaped by them).
EXCEPTION_COLUMNS = (
    "source",
    "source_table",
    "entity",
    "file",
    "checksum",
    "row_number",
    "rule",
    "column_name",
    "detail",
    "owner",
    "payload",
    "detected_at",
)

#: Columns of an owner's exception report, in order.
REPORT_COLUMNS = (
    "source",
    "source_table",
    "entity",
    "file",
    "row_number",
    "rule",
    "column_name",
    "detail",
    "payload",
    "detected_at",
)


def ensure_quality_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the quality tables."""
    con.execute("create schema if not exists quality")
    con.execute(SOURCE_LOADS_DDL)
    con.execute(EXCEPTIONS_DDL)
    con.execute(DATE_ORDERS_DDL)


def rename_rules(con: duckdb.DuckDBPyConnection) -> None:
    """Give exceptions recorded under a rule's old name its new one (a migration of a home made by
    an earlier release: :mod:`orchestration.home.migrations`)."""
    ensure_quality_tables(con)
    for old, new in RENAMED.items():
        con.execute("update quality.exceptions set rule = ? where rule = ?", [new, old])


@dataclass
class LoadRecord:
    """One row of ``quality.source_loads``, plus warnings for the Dagster log."""

    source: str
    source_table: str
    entity: str
    file: str
    checksum: str
    rows_landed: int = 0
    rows_accepted: int = 0
    rows_quarantined: int = 0
    status: str = "loaded"
    message: str | None = None
    loaded_at: dt.datetime = field(default_factory=lambda: dt.datetime.now().replace(microsecond=0))
    load_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    warnings: list[str] = field(default_factory=list)
    #: Earlier loads this one replaced (decision L1): its file delivered again, or a new snapshot.
    replaced: int = 0
    #: Only the rows above a watermark (decision L2): it replaces rows by key, not earlier loads.
    partial: bool = False
    #: A rejection an earlier run already recorded (same table, same content, same verdict): the
    #: run reports it again, the quality tables do not grow.
    repeated: bool = False


def record_load(con: duckdb.DuckDBPyConnection, rec: LoadRecord) -> None:
    con.execute(
        "insert into quality.source_loads values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            rec.load_id,
            rec.source,
            rec.source_table,
            rec.entity,
            rec.file,
            rec.checksum,
            rec.rows_landed,
            rec.rows_accepted,
            rec.rows_quarantined,
            rec.status,
            rec.message,
            rec.loaded_at,
        ],
    )


def record_rejection(
    con: duckdb.DuckDBPyConnection, rec: LoadRecord, rule_name: str, message: str, column: str | None, owner: str
) -> None:
    """A rejected batch: its load counted as all quarantined, and one exception naming the rule.

    Recorded once: a batch an earlier run rejected with the same content (checksum) and the same
    verdict (message) takes that record's id and time and is marked ``repeated``, so an unchanged
    bad file left in a drop folder fails every run without adding a load, an exception and an
    owner-report line each time. A rejection settled since (:func:`settle_rejections`: a query
    that was loaded after it) is not open any more, so the same verdict is recorded anew.
    """
    rec.status, rec.message = "rejected", message
    rec.rows_accepted, rec.rows_quarantined = 0, rec.rows_landed
    earlier = con.execute(
        "select load_id, loaded_at from quality.source_loads r "  # noqa: S608 (fixed SQL from _settled)
        "where source_table = ? and checksum = ? and status = 'rejected' and message = ? "
        f"and not {_settled('r', 'loaded_at')} order by loaded_at limit 1",
        [rec.source_table, rec.checksum, message],
    ).fetchall()
    if earlier:
        (rec.load_id, rec.loaded_at), rec.repeated = earlier[0], True
        return
    record_load(con, rec)
    con.execute(
        "insert into quality.exceptions values (?, ?, ?, ?, ?, null, ?, ?, ?, ?, null, ?)",
        [
            rec.source,
            rec.source_table,
            rec.entity,
            rec.file,
            rec.checksum,
            rule(rule_name),
            column,
            message,
            owner,
            rec.loaded_at,
        ],
    )


def settle_rejections(con: duckdb.DuckDBPyConnection) -> None:
    """Remove the rejections of batches that have since been loaded.

    A batch rejected for a mistake in ``inflow.yml`` (a column mapped to a misspelt header) lands
    once the mapping is fixed, and its rejection is then no longer something an owner has to fix.
    ``quality.exceptions`` lists what is open, so the rejection leaves it; the batch's
    ``quality.source_loads`` row with status ``rejected`` (its file, checksum, message and time)
    stays, and is the record that it was ever rejected. Deleting rather than marking keeps the
    exceptions' columns (:data:`EXCEPTION_COLUMNS`, which publishing, erasure and older homes
    share) as they are.

    A batch is the same when its table and checksum are. A later delivery loaded from the same
    file (or query) replaces the rejected one as it replaces a loaded one (decision L1): the owner
    fixed the file, so its rejection is settled too. A query whose result could not be read was
    rejected without a checksum: a load of the table in a later second is the batch that replaced
    it (times are to the second; a tie leaves the rejection open rather than hide a newer one). A
    load that a still later delivery replaced (status ``replaced``) was loaded all the same.
    """
    con.execute(
        f"delete from quality.exceptions e where e.row_number is null and {_settled('e', 'detected_at')}"  # noqa: S608 (fixed SQL from _settled)
    )


def _settled(rejection: str, at: str) -> str:
    """SQL: the batch rejection ``rejection`` (a row of quality.exceptions or quality.source_loads,
    rejected at its column ``at``) was followed by a load of the same batch, or a later load of its file."""
    later = f"l.loaded_at > {rejection}.{at}"
    return (
        "exists (select 1 from quality.source_loads l where l.status in ('loaded', 'replaced') "  # noqa: S608 (aliases and column names from this module)
        f"and l.source = {rejection}.source and l.source_table = {rejection}.source_table "
        f"and (l.checksum = {rejection}.checksum or ({rejection}.checksum = '' and {later}) "
        f"or (l.file = {rejection}.file and {later})))"
    )


def replace_exceptions_of(con: duckdb.DuckDBPyConnection, source: str, frame: pd.DataFrame) -> int:
    """Replace every exception of one source whose exceptions are judged afresh each run (the ERP
    outbox's), so a rerun never piles them up; returns the rows written."""
    for name in set(frame["rule"]):
        rule(name)
    if (frame["source"] != source).any():
        raise ValueError(f"every exception replaced as {source!r} must carry that source")
    con.execute("delete from quality.exceptions where source = ?", [source])
    if frame.empty:
        return 0
    con.register("_source_exceptions", frame)
    try:
        con.execute("insert into quality.exceptions by name select * from _source_exceptions")
    finally:
        con.unregister("_source_exceptions")
    return len(frame)


def owner_file_name(owner: str) -> str:
    """A safe, distinct file name per owner: a readable slug plus a short hash of the address
    ('ar-ops@x.com' -> 'ar-ops_at_x.com-1a2b3c4d.csv'), so owners whose slugs collide
    ('ar ops@x.com', 'ar_ops@x.com') never overwrite each other's file."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", owner.replace("@", "_at_")).strip("_.") or "owner"
    return f"{slug[:60]}-{hashlib.sha256(owner.encode()).hexdigest()[:8]}.csv"


def exception_summary(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Counts of exceptions by source, rule and owner, most frequent first."""
    return con.execute(
        "select source, rule, owner, count(*) as exceptions from quality.exceptions "
        "group by all order by exceptions desc, source, rule"
    ).df()


def load_status_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return dict(con.execute("select status, count(*) from quality.source_loads group by status order by 1").fetchall())


def write_owner_reports(con: duckdb.DuckDBPyConnection, folder: Path) -> dict[str, int]:
    """Replace ``folder`` with one CSV per owner of every exception; returns rows per owner.

    The CSV is written from Python (not DuckDB's COPY), so no path is spliced into SQL text; a
    quarantined row's text is the source's as landed, so every cell goes through the spreadsheet
    safety rule (a customer named ``=HYPERLINK(...)`` stays text in the owner's spreadsheet).
    """
    pending = folder.with_name(folder.name + ".new")
    shutil.rmtree(pending, ignore_errors=True)
    pending.mkdir(parents=True)
    counts: dict[str, int] = {}
    for (owner,) in con.execute("select distinct owner from quality.exceptions order by 1").fetchall():
        rows = con.execute(
            f"select {', '.join(REPORT_COLUMNS)} from quality.exceptions where owner = ? "  # noqa: S608 (columns from REPORT_COLUMNS)
            "order by detected_at, file, row_number",
            [owner],
        ).fetchall()
        with (pending / owner_file_name(owner)).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(REPORT_COLUMNS)
            writer.writerows(safe_row(row) for row in rows)
        counts[owner] = len(rows)
    shutil.rmtree(folder, ignore_errors=True)
    pending.rename(folder)
    return counts
