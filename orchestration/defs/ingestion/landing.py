"""Land one source table: every new batch is read, typed, validated, deduplicated and recorded.

Guarantees, per batch (a file, or a query result):
- idempotent: a batch whose checksum was already loaded for this table is skipped;
- lossless: rows_landed = rows_accepted + rows_quarantined, every quarantined row has its reasons
  in ``quality.exceptions`` with the file, row, column, rule and owner;
- atomic: a batch lands completely or not at all; a batch unusable as a whole is rejected with a
  message naming the file, the column and the rule, and none of its rows reach ``raw``;
- one row per business key among accepted rows: exact duplicates keep the first copy, conflicting
  duplicates keep the latest ``updated_at`` (then the latest load, then the last row) — the
  others are quarantined with ``duplicate_exact`` / ``duplicate_conflict``.
"""

from __future__ import annotations

import datetime as dt
import glob
import hashlib
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import duckdb
import pandas as pd

from expectations.contracts import ENTITIES, Entity
from orchestration.config import InflowConfig, SourceConfig, TableConfig
from orchestration.defs.ingestion import readers
from orchestration.defs.ingestion.readers import LANDING, BatchRejected
from orchestration.defs.ingestion.typing_sql import FAILURE_SEPARATOR, typed_batch_sql
from orchestration.warehouse import ensure_raw_table, first_row, scalar

if TYPE_CHECKING:  # the GX runner takes seconds to import; only the validator needs it
    from expectations.runner import BatchVerdict

TYPED = "_typed"
RULE_FAILURES = "_rule_failures"


#: validate(entity, typed frame, batch info) -> verdict. Injected so landing stays testable alone.
Validator = Callable[[str, pd.DataFrame, "BatchInfo"], "BatchVerdict"]


@dataclass(frozen=True)
class BatchInfo:
    """What the validator may know about a batch beyond its rows.

    ``load_date`` bounds how far in the future a landed date may lie. It is the day of loading,
    not a run's as-of date: raw keeps data as landed, and rebuilding an earlier as-of date must
    not quarantine rows that are merely later than that date.
    """

    file: str
    reporting_currency: str
    load_date: dt.date
    known_customer_ids: frozenset[str] | None
    known_account_ids: frozenset[str] | None
    previous_rows: int | None
    drop_threshold: float
    landed_rows: int | None = None


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


def file_checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def batch_files(config: InflowConfig, tbl: TableConfig) -> list[Path]:
    """Files matching a table's path or glob, oldest name first so monthly drops land in order."""
    pattern = str(config.resolve(tbl.path or ""))
    return [Path(p) for p in sorted(glob.glob(pattern)) if Path(p).is_file()]


def resolve_url(config: InflowConfig, url: str) -> str:
    """SQLite URLs with a relative path are relative to the configuration file's folder."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        return prefix + str(config.resolve(url[len(prefix):]))
    return url


def _already_loaded(con: duckdb.DuckDBPyConnection, raw_table: str, checksum: str) -> bool:
    loaded = scalar(
        con,
        "select count(*) from quality.source_loads where source_table = ? and checksum = ? and status = 'loaded'",
        [raw_table, checksum],
    )
    return loaded > 0


def _previous_rows(con: duckdb.DuckDBPyConnection, raw_table: str) -> int | None:
    return scalar(
        con,
        "select rows_landed from quality.source_loads where source_table = ? and status = 'loaded' "
        "order by loaded_at desc, file desc limit 1",
        [raw_table],
    )


def accepted_ids(con: duckdb.DuckDBPyConnection, entity_name: str, column: str) -> frozenset[str] | None:
    """Accepted keys of an entity landed so far (customers, CRM accounts); None when none landed."""
    ids = con.execute(f"select distinct {column} from raw.{entity_name} where _status = 'accepted'").fetchall()
    return frozenset(r[0] for r in ids) if ids else None


def _landing_checksum(con: duckdb.DuckDBPyConnection) -> str:
    """Checksum of a query result: order-sensitive digest of every landed value."""
    return scalar(
        con,
        f"select md5(coalesce(string_agg(md5(cast(to_json(l) as varchar)), '' order by _row_number), '')) from {LANDING} l",
    )


def record_load(con: duckdb.DuckDBPyConnection, rec: LoadRecord) -> None:
    con.execute(
        "insert into quality.source_loads values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [rec.load_id, rec.source, rec.source_table, rec.entity, rec.file, rec.checksum, rec.rows_landed,
         rec.rows_accepted, rec.rows_quarantined, rec.status, rec.message, rec.loaded_at],
    )


def _record_rejection(con: duckdb.DuckDBPyConnection, rec: LoadRecord, exc: BatchRejected, owner: str) -> None:
    """A rejected batch: one exception naming the rule, and the load counted as all quarantined."""
    rec.status, rec.message = "rejected", str(exc)
    rec.rows_accepted, rec.rows_quarantined = 0, rec.rows_landed
    record_load(con, rec)
    con.execute(
        "insert into quality.exceptions values (?, ?, ?, ?, ?, null, ?, ?, ?, ?, null, ?)",
        [rec.source, rec.source_table, rec.entity, rec.file, rec.checksum, exc.rule, exc.column,
         str(exc), owner, rec.loaded_at],
    )


def _validate(con: duckdb.DuckDBPyConnection, ent: Entity, validator: Validator, info: BatchInfo) -> None:
    """Run the row and batch rules over rows that typed cleanly; failures go to a temp table."""
    frame = con.execute(
        f"select {', '.join(ent.column_names)}, _row_number from {TYPED} where len(_failures) = 0"
    ).df()
    verdict = validator(ent.name, frame, info)
    if verdict.rejected:
        rule = next(iter(verdict.summary), "batch_rule")
        raise BatchRejected(rule, f"{info.file}: {verdict.message}")
    failures = pd.DataFrame(
        [(f.row_number, f.rule, f.column, f.detail) for f in verdict.failures],
        columns=["row_number", "rule", "column_name", "detail"],
    ).astype({"row_number": "int64", "rule": "object", "column_name": "object", "detail": "object"})
    con.register("_rule_failures_frame", failures)
    con.execute(f"create or replace temp table {RULE_FAILURES} as select * from _rule_failures_frame")
    con.unregister("_rule_failures_frame")


def _insert_batch(con: duckdb.DuckDBPyConnection, ent: Entity, raw_table: str, rec: LoadRecord, owner: str) -> None:
    """Write the batch's rows to raw with their status, and each failure to quality.exceptions."""
    sep = FAILURE_SEPARATOR
    con.execute(
        f"""
        create or replace temp table _batch_failures as
        select _row_number as row_number, split_part(f, '{sep}', 1) as rule,
               split_part(f, '{sep}', 2) as column_name, split_part(f, '{sep}', 3) as detail
        from (select _row_number, unnest(_failures) as f from {TYPED})
        union all
        select row_number, rule, column_name, detail from {RULE_FAILURES}
        """
    )
    cols = ", ".join(ent.column_names)
    con.execute(
        f"""
        insert into raw.{raw_table}
        select {cols}, ?, ?, ?, ?, t._row_number, ?,
               case when q.row_number is null then 'accepted' else 'quarantined' end, t._extra
        from {TYPED} t
        left join (select distinct row_number from _batch_failures) q on q.row_number = t._row_number
        """,
        [rec.source, rec.source_table, rec.file, rec.checksum, rec.loaded_at],
    )
    con.execute(
        f"""
        insert into quality.exceptions
        select ?, ?, ?, ?, ?, f.row_number, f.rule, nullif(f.column_name, ''), f.detail, ?,
               cast(to_json(l) as varchar), ?
        from _batch_failures f join {LANDING} l on l._row_number = f.row_number
        """,
        [rec.source, rec.source_table, rec.entity, rec.file, rec.checksum, owner, rec.loaded_at],
    )


def _deduplicate(con: duckdb.DuckDBPyConnection, ent: Entity, raw_table: str, rec: LoadRecord, owner: str) -> None:
    """Quarantine all but one accepted row per business key, for the keys this batch touched."""
    key = ", ".join(ent.key)
    content_cols = [c for c in ent.column_names if c != "updated_at"]
    recency = "updated_at desc nulls last, " if "updated_at" in ent.column_names else ""
    con.execute(
        f"""
        create or replace temp table _dupes as
        with touched as (
            select distinct {key} from raw.{raw_table} where _checksum = ? and _status = 'accepted'
        ),
        candidates as (
            select r.*, hash({', '.join('r.' + c for c in content_cols)}) as _content
            from raw.{raw_table} r join touched using ({key}) where r._status = 'accepted'
        ),
        winning_content as (
            select {key}, _content as _win
            from (select *, row_number() over (partition by {key}
                  order by {recency}_loaded_at desc, _checksum, _row_number desc) as rn from candidates)
            where rn = 1
        ),
        ranked as (
            select c.*, w._win, row_number() over (partition by {', '.join('c.' + k for k in ent.key)}
                   order by (c._content = w._win) desc, c._loaded_at, c._checksum, c._row_number) as keep_rank
            from candidates c join winning_content w using ({key})
        )
        select *, case when _content = _win then 'duplicate_exact' else 'duplicate_conflict' end as rule
        from ranked where keep_rank > 1
        """,
        [rec.checksum],
    )
    if scalar(con, "select count(*) from _dupes") == 0:
        return
    key_text = " || '/' || ".join(f"coalesce(cast({k} as varchar), '')" for k in ent.key)
    con.execute(
        f"""
        insert into quality.exceptions
        select _source, _source_table, ?, _file, _checksum, _row_number, rule, ?,
               case when rule = 'duplicate_exact'
                    then 'exact duplicate of key ' || {key_text} || ' already accepted'
                    else 'conflicting duplicate of key ' || {key_text} || ': a later version wins' end,
               ?, cast(to_json(struct_pack({', '.join(ent.column_names)})) as varchar), ?
        from _dupes
        """,
        [ent.name, ent.key[0], owner, rec.loaded_at],
    )
    con.execute(
        f"""
        update raw.{raw_table} r set _status = 'quarantined'
        from _dupes d where r._checksum = d._checksum and r._row_number = d._row_number
        """
    )


def _refresh_counts(con: duckdb.DuckDBPyConnection, raw_table: str) -> None:
    """Recount accepted/quarantined per load after deduplication moved rows of earlier loads."""
    con.execute(
        f"""
        update quality.source_loads s set rows_accepted = c.accepted, rows_quarantined = c.quarantined
        from (select _checksum, count(*) filter (where _status = 'accepted') as accepted,
                     count(*) filter (where _status = 'quarantined') as quarantined
              from raw.{raw_table} group by _checksum) c
        where s.source_table = ? and s.status = 'loaded' and s.checksum = c._checksum
        """,
        [raw_table],
    )


def land_batch(
    con: duckdb.DuckDBPyConnection,
    read: Callable[[], readers.LandedBatch],
    rec: LoadRecord,
    ent: Entity,
    tbl: TableConfig,
    raw_table: str,
    owner: str,
    validator: Validator,
    info: BatchInfo,
) -> LoadRecord:
    """Land one batch inside a transaction; a rejection rolls it back and is recorded instead."""
    con.execute("begin transaction")
    try:
        landed = read()
        rec.file, rec.rows_landed = landed.file, landed.rows
        rec.warnings.extend(landed.warnings)
        if not rec.checksum:
            rec.checksum = _landing_checksum(con)
            if _already_loaded(con, raw_table, rec.checksum):
                con.execute("rollback")
                rec.status = "skipped"
                return rec
        if landed.rows == 0:
            raise BatchRejected("empty_batch", f"{rec.file}: no data rows (header only or empty)")
        con.execute(f"create or replace temp table {TYPED} as {typed_batch_sql(ent, tbl, LANDING)}")
        _validate(con, ent, validator, replace(info, landed_rows=landed.rows))
        _insert_batch(con, ent, raw_table, rec, owner)
        _deduplicate(con, ent, raw_table, rec, owner)
        counts = first_row(
            con,
            f"select count(*) filter (where _status = 'accepted'), count(*) filter (where _status = 'quarantined') "
            f"from raw.{raw_table} where _checksum = ?",
            [rec.checksum],
        )
        rec.rows_accepted, rec.rows_quarantined = counts
        record_load(con, rec)
        _refresh_counts(con, raw_table)
        con.execute("commit")
    except BatchRejected as exc:
        con.execute("rollback")
        _record_rejection(con, rec, exc, owner)
    except Exception:
        con.execute("rollback")
        raise
    return rec


def land_table(
    con: duckdb.DuckDBPyConnection,
    config: InflowConfig,
    source_name: str,
    table_name: str,
    validator: Validator,
    load_date: dt.date,
    progress: Callable[[str], None] = lambda _msg: None,
) -> list[LoadRecord]:
    """Land every new batch of one configured source table; return a record per batch seen."""
    src: SourceConfig = config.sources[source_name]
    tbl = src.tables[table_name]
    ent = ENTITIES[tbl.entity]
    raw_table = f"{source_name}__{table_name}"
    ensure_raw_table(con, raw_table, ent.name)
    customers = accepted_ids(con, "customers", "customer_id") if "customer_id" in ent.column_names else None
    accounts = accepted_ids(con, "crm_accounts", "account_id") if ent.name == "crm_accounts" else None

    def info_for(file: str) -> BatchInfo:
        return BatchInfo(file, config.reporting_currency, load_date, customers, accounts,
                         _previous_rows(con, raw_table), tbl.row_count_drop_threshold)

    def new_record(file: str, checksum: str) -> LoadRecord:
        return LoadRecord(source_name, raw_table, ent.name, file, checksum)

    records: list[LoadRecord] = []
    if tbl.format == "query":
        url = resolve_url(config, src.url or "")
        rec = new_record(f"query:{raw_table}", "")
        read = lambda: readers.read_query(con, url, tbl, ent.required)  # noqa: E731
        records.append(land_batch(con, read, rec, ent, tbl, raw_table, src.owner, validator, info_for(rec.file)))
        return records

    files = batch_files(config, tbl)
    if not files:
        raise BatchRejected("no_files", f"{config.resolve(tbl.path or '')}: no file matches the configured path")
    reader = readers.FILE_READERS[tbl.format]
    for index, path in enumerate(files, start=1):
        checksum = file_checksum(path)
        if _already_loaded(con, raw_table, checksum):
            records.append(LoadRecord(source_name, raw_table, ent.name, str(path), checksum, status="skipped"))
            continue
        progress(f"{raw_table}: landing file {index}/{len(files)} {path.name}")
        rec = new_record(str(path), checksum)
        read = lambda p=path: reader(con, p, tbl, ent.required)  # noqa: E731
        records.append(land_batch(con, read, rec, ent, tbl, raw_table, src.owner, validator, info_for(str(path))))
    return records
