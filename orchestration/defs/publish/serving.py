"""Publishing: copy the consumer schemas into a new serving file, then swap it in atomically.

BI tools open ``serving.duckdb`` read-only. A new file is built beside it and renamed over it in
one step, so a reader that has the old file open keeps reading the old, complete data (on POSIX the
old inode lives on while it is open) and a failed publish leaves yesterday's file untouched.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import duckdb

from expectations.sql import lit
from orchestration.defs.publish.descriptions import TableDocs, comment_tables
from orchestration.privacy import PublishPrivacy
from orchestration.progress import Progress
from orchestration.spreadsheet_safety import neutralised_sql
from orchestration.warehouse import connect, content_fingerprint, fingerprint_rows, part_fingerprints
from orchestration.workbooks import Sheet, columns_of, write_workbook

#: The serving file's default storage format: DuckDB 1.5+ readers open it (``serving.storage_version``).
STORAGE_VERSION = "v1.5.0"
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")
#: Schemas BI tools and finance read. Everything else stays in the working warehouse.
CONSUMER_SCHEMAS = ("marts", "ml", "forecast", "quality", "writeback", "audit")
#: Summary tables finance opens in a spreadsheet (every forecast table too); the rest is Parquet.
XLSX_TABLES = frozenset(
    {
        "ar_kpis_monthly",
        "ar_expected_credit_loss",
        "payment_behavior",
        "billing_cohort_collection_curves",
        "customer_credit_balances",
    }
)
#: The order a person reads each sheet in (identifiers checked against the table's columns; a
#: table not listed, or whose columns moved, is sorted by all its columns, so rows never come out
#: in the arbitrary order parallel copies leave them in).
XLSX_ORDER: dict[str, tuple[str, ...]] = {
    "ar_kpis_monthly": ("dimension_type desc", "dimension_value", "month_end"),
    "ar_expected_credit_loss": ("segment", "bucket_order"),
    "payment_behavior": ("open_amount_reporting desc", "customer_id"),
    "billing_cohort_collection_curves": (
        "dimension_type desc",
        "dimension_value",
        "cohort_month",
        "months_since_billing",
    ),
    "customer_credit_balances": ("credit_balance_reporting desc", "customer_id", "currency"),
    "cash_forecast_weekly": ("series desc", "currency", "week_index"),
    "cash_forecast_history": ("as_of_date desc", "method", "scenario", "series desc", "currency", "week_index"),
    "forecast_accuracy": ("grain", "method", "series desc", "currency", "origin_date", "week_index"),
}
#: Tables that keep the rows of every run, by the day each run was as of: a publication as of a
#: day shows only what was known on it (a rebuild of an earlier day must not carry a later
#: forecast or a model trained later).
KNOWN_ON: dict[tuple[str, str], str] = {
    ("forecast", "cash_forecast_history"): "as_of_date",
    ("ml", "risk_model_versions"): "trained_on",
    ("ml", "model_evaluations"): "trained_on",
}
#: A sheet is for reading: past this many rows (a per-customer table of a large company) the
#: table is exported as Parquet only. Writing a 50,000-row sheet took 15 s of a publish.
XLSX_MAX_ROWS = 10_000


#: The name of the part that holds the rows whose date is null.
UNDATED = "undated"


@dataclass(frozen=True)
class MonthlyParts:
    """A table exported as one Parquet and one CSV file per calendar month of a date column,
    ``<table>/<table>_<YYYY-MM>.parquet`` (rows without a date in ``<table>_undated``), so that a
    daily publication writes again only the months whose rows changed (decision P2)."""

    column: str

    @property
    def key_sql(self) -> str:
        """The part of a row ``t``: its month as ``YYYY-MM``, or ``UNDATED``."""
        return f"coalesce(strftime(t.\"{self.column}\", '%Y-%m'), {lit(UNDATED)})"

    def where(self, part: str) -> str:
        """The condition that selects one part's rows (a range, so DuckDB can skip row groups)."""
        if part == UNDATED:
            return f'"{self.column}" is null'
        start = lit(dt.date.fromisoformat(f"{part}-01").isoformat())
        return f'"{self.column}" >= {start}::date and "{self.column}" < {start}::date + interval 1 month'


#: Tables exported in monthly parts: the daily aging keeps every day of its window, and a day
#: changes only its own month (R2), so at 1M invoices a daily publication wrote its 4.1 million
#: rows again for 32,869 changed ones.
EXPORT_PARTS: dict[tuple[str, str], MonthlyParts] = {("marts", "fct_ar_aging_daily"): MonthlyParts("snapshot_date")}


#: A new serving file starts as a copy of the current one only when at least this share of its
#: rows is unchanged; otherwise it is written afresh. A copy keeps the blocks of the tables it
#: replaces as free space (DuckDB reuses them, it does not shrink the file), so a copy that
#: replaces most of the file would grow it by that much to save little (decision P1).
COPY_WHEN_UNCHANGED = 0.5


@dataclass(frozen=True)
class PublishedTable:
    schema: str
    name: str
    rows: int
    #: :func:`orchestration.warehouse.content_fingerprint` of the published rows.
    fingerprint: str
    #: Unchanged since the current publication: its exports are linked, not written again.
    reused: bool
    #: A table exported in parts (``EXPORT_PARTS``): each part's fingerprint, and the parts
    #: unchanged since the current publication, whose files are linked.
    parts: dict[str, str]
    reused_parts: frozenset[str]

    @property
    def key(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True)
class Reusable:
    """The current publication, as far as the next one may take from it instead of writing again:
    its serving file and exports, the format it was written in and what it published."""

    serving: Path
    exports: Path
    storage_version: str
    duckdb_version: str
    fingerprints: dict[str, str]
    #: The part fingerprints of the tables it exported in parts.
    parts: dict[str, dict[str, str]]

    def _same_format(self, storage_version: str) -> bool:
        """Written in the same format by the same DuckDB: a file of another format is never carried over."""
        return (self.storage_version, self.duckdb_version) == (storage_version, duckdb.__version__)

    def unchanged(self, fingerprints: dict[str, str], storage_version: str) -> set[str]:
        """Tables whose published rows equal this publication's."""
        if not self._same_format(storage_version):
            return set()
        return {key for key, fingerprint in fingerprints.items() if self.fingerprints.get(key) == fingerprint}

    def unchanged_parts(self, key: str, parts: dict[str, str], storage_version: str) -> frozenset[str]:
        """The parts of table ``key`` whose rows equal this publication's part of the same name."""
        if not self._same_format(storage_version):
            return frozenset()
        earlier = self.parts.get(key, {})
        return frozenset(part for part, fingerprint in parts.items() if earlier.get(part) == fingerprint)


def consumer_tables(con: duckdb.DuckDBPyConnection, catalog: str) -> list[tuple[str, str]]:
    """(schema, table) of every table or view in the consumer schemas of an attached catalog."""
    placeholders = ", ".join("?" for _ in CONSUMER_SCHEMAS)
    rows = con.execute(
        f"select table_schema, table_name from information_schema.tables "  # noqa: S608 (names from the warehouse catalog, checked or quoted; paths through lit())
        f"where table_catalog = ? and table_schema in ({placeholders}) order by 1, 2",  # noqa: S608 (names from the warehouse catalog, checked or quoted; paths through lit())
        [catalog, *CONSUMER_SCHEMAS],
    ).fetchall()
    return [(schema, name) for schema, name in rows]


def _connect(path: Path, memory_limit: str | None, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection for copying whole tables, whose row order means nothing: DuckDB may then
    write them with all its threads (the widest table's Parquet export at 10M invoices: 12 s, not 21 s)."""
    con = connect(path, read_only=read_only, memory_limit=memory_limit)
    con.execute("set preserve_insertion_order = false")
    return con


def _published_rows(
    con: duckdb.DuckDBPyConnection, schema: str, name: str, as_of: dt.date, privacy: PublishPrivacy | None
) -> str:
    """The ``(select ...)`` of what a warehouse table publishes: personal columns rendered by
    ``privacy``, and only the rows known on ``as_of`` of a table that keeps every run's rows."""
    select = privacy.select(con, "wh", schema, name) if privacy is not None else "*"
    known_on = KNOWN_ON.get((schema, name))
    where = f" where {known_on} <= {lit(as_of.isoformat())}::date" if known_on else ""
    return f"(select {select} from wh.{schema}.{name}{where})"  # noqa: S608 (names from the warehouse catalog, checked or quoted; paths through lit())


def _start_from_copy(reuse: Reusable | None, unchanged: set[str], fingerprints: dict[str, str]) -> bool:
    """Whether the new serving file starts as a copy of the current one (``COPY_WHEN_UNCHANGED``)."""
    total = sum(fingerprint_rows(f) for f in fingerprints.values())
    kept = sum(fingerprint_rows(fingerprints[key]) for key in unchanged)
    return reuse is not None and bool(unchanged) and kept >= COPY_WHEN_UNCHANGED * total


def _clear_comments(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> None:
    """Remove a copied table's comments, so the docs of this run are the only ones it carries."""
    con.execute(f'comment on table {schema}."{name}" is null')
    for (column,) in con.execute(
        "select column_name from duckdb_columns() where database_name = current_database() "
        "and schema_name = ? and table_name = ? and comment is not null",
        [schema, name],
    ).fetchall():
        con.execute(f'comment on column {schema}."{name}"."{column}" is null')


def _fingerprints(con: duckdb.DuckDBPyConnection, key: str, rows_sql: str) -> tuple[str, dict[str, str]]:
    """A table's published rows' fingerprint and, for a table of ``EXPORT_PARTS``, its parts'
    (the same scan); no parts for any other table."""
    schema, name = key.split(".")
    spec = EXPORT_PARTS.get((schema, name))
    if spec is None:
        return content_fingerprint(con, rows_sql), {}
    return part_fingerprints(con, rows_sql, spec.key_sql)


def build_serving_file(
    warehouse: Path,
    target: Path,
    as_of: dt.date,
    run_id: str,
    memory_limit: str | None = None,
    storage_version: str = STORAGE_VERSION,
    docs: dict[tuple[str, str], TableDocs] | None = None,
    progress: Callable[[str], None] = lambda _line: None,
    privacy: PublishPrivacy | None = None,
    reuse: Reusable | None = None,
) -> list[PublishedTable]:
    """Write a complete serving database at ``target`` from the warehouse (read-only), in the
    storage format ``storage_version`` (``serving.storage_version``; a validated version string),
    with the dbt docs as table and column comments and personal columns rendered by ``privacy``
    (masked by default); rows copied are reported through ``progress``.

    Every table's published rows are fingerprinted first. With ``reuse`` (the current
    publication), a table whose fingerprint is unchanged is not copied again when the file starts
    as a copy of the current one (``COPY_WHEN_UNCHANGED``); either way it is marked reused, so its
    exports can be linked instead of written."""
    target.unlink(missing_ok=True)
    con = _connect(Path(":memory:"), memory_limit)
    try:
        con.execute(f"attach {lit(str(warehouse))} as wh (read_only)")
        if privacy is not None:
            privacy.prepare(con)
        sources = {
            f"{schema}.{name}": _published_rows(con, schema, name, as_of, privacy)
            for schema, name in consumer_tables(con, "wh")
        }
        scanned = {key: _fingerprints(con, key, rows) for key, rows in sources.items()}
        fingerprints = {key: whole for key, (whole, _) in scanned.items()}
        unchanged = reuse.unchanged(fingerprints, storage_version) if reuse is not None else set()
        copied_file = _start_from_copy(reuse, unchanged, fingerprints)
        if copied_file:
            shutil.copyfile(reuse.serving, target)
        con.execute(f"attach {lit(str(target))} as serving (storage_version {lit(storage_version)})")
        con.execute("use serving")
        carried: set[str] = set()
        if copied_file:
            for schema, name in consumer_tables(con, "serving"):
                if f"{schema}.{name}" in unchanged:
                    _clear_comments(con, schema, name)
                    carried.add(f"{schema}.{name}")
                else:
                    con.execute(f"drop table {schema}.{name}")
        published = []
        copied = Progress("publishing: tables copied into the serving file", progress)
        for key, rows_sql in sources.items():
            schema, name = key.split(".")
            fingerprint = fingerprints[key]
            if key not in carried:
                con.execute(f"create schema if not exists {schema}")
                con.execute(f"create table {schema}.{name} as select * from {rows_sql}")  # noqa: S608 (names from the warehouse catalog, checked or quoted; paths through lit())
                copied.add(fingerprint_rows(fingerprint), key)
            parts = scanned[key][1]
            reused_parts = reuse.unchanged_parts(key, parts, storage_version) if reuse is not None else frozenset()
            published.append(
                PublishedTable(
                    schema, name, fingerprint_rows(fingerprint), fingerprint, key in unchanged, parts, reused_parts
                )
            )
        con.execute("create schema if not exists meta")
        con.execute(
            "create or replace table meta.publication as "
            "select ?::date as as_of_date, ?::timestamp as published_at, ? as run_id",
            [as_of.isoformat(), dt.datetime.now().replace(microsecond=0), run_id],
        )
        comment_tables(con, docs or {}, [(t.schema, t.name) for t in published])
        kept = sum(t.reused for t in published)
        carried_note = f", {len(carried)} carried in a copy of its file" if carried else ""
        copied.finish(f"{len(published)} tables, {kept} unchanged since the current publication{carried_note}")
        con.execute("detach wh")
        con.execute("checkpoint serving")
        con.execute("use memory")
        con.execute("detach serving")
    finally:
        con.close()
    return published


def swap_in(pending: Path, target: Path) -> None:
    """Replace a folder by its freshly written twin with renames (the old one goes last)."""
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    pending.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[tuple[str, str, str | None]]:
    """(name, DuckDB type, description) of a published table's columns, in table order; a name
    that is not a plain identifier is refused, since names are spliced into export SQL."""
    columns = con.execute(
        "select column_name, data_type, comment from duckdb_columns() "
        "where database_name = current_database() and schema_name = ? and table_name = ? order by column_index",
        [schema, table],
    ).fetchall()
    for name, _, _ in columns:
        if not _IDENTIFIER.fullmatch(name):
            raise ValueError(f"{schema}.{table}: column name {name!r} is not a plain identifier; not exported")
    return columns


def publication_as_of(con: duckdb.DuckDBPyConnection) -> dt.date | None:
    """The as-of date of the publication a serving connection reads (``meta.publication``)."""
    row = con.execute("select max(as_of_date) from meta.publication").fetchone()
    return row[0] if row else None


def _order_by(table: str, column_names: list[str]) -> str:
    """The sheet's sort, from ``XLSX_ORDER`` when every column it names exists, else all columns."""
    wanted = XLSX_ORDER.get(table, ())
    if wanted and all(term.split()[0] in column_names for term in wanted):
        return ", ".join(
            f'"{term.split()[0]}" {"desc" if term.endswith(" desc") else "asc"} nulls last' for term in wanted
        )
    return "all"


def write_xlsx(con: duckdb.DuckDBPyConnection, schema: str, table: str, target: Path, as_of: str = "") -> None:
    """One formatted sheet (``orchestration.workbooks``): readable headers with the column
    descriptions as notes, number and date formats, a sensible sort, print setup.

    Excel has no decimal type: amounts become numbers, which is what a spreadsheet user expects.
    """
    columns = _columns(con, schema, table)
    names = [name for name, _, _ in columns]
    rows = con.execute(f'select * from {schema}."{table}" order by {_order_by(table, names)}').fetchall()  # noqa: S608 (names from the warehouse catalog, checked or quoted; paths through lit())
    described = con.execute(
        "select comment from duckdb_tables() where database_name = current_database() "
        "and schema_name = ? and table_name = ?",
        [schema, table],
    ).fetchone()
    title = [f"{schema}.{table}" + (f" as of {as_of}" if as_of else "")]
    if described and described[0]:
        title.append(described[0])
    sheet = Sheet(
        name=table,
        columns=columns_of([(n, t) for n, t, _ in columns], {n: c for n, _, c in columns if c}),
        rows=rows,
        title=title,
    )
    write_workbook(target, [sheet])


def _rows(schema: str, table: str, where: str = "") -> str:
    """The FROM clause of an export: a published table, or the rows of it ``where`` selects."""
    return f'{schema}."{table}"' + (f" where {where}" if where else "")


def write_csv(con: duckdb.DuckDBPyConnection, schema: str, table: str, target: Path, where: str = "") -> None:
    """A CSV of a table (or of the rows ``where`` selects) for leadership and spreadsheets, written
    by DuckDB (millions of rows in seconds) with every text column through the spreadsheet safety
    rule."""
    columns = _columns(con, schema, table)
    quoted = [(f'"{name}"', typ) for name, typ, _ in columns]
    select = ", ".join(f"{neutralised_sql(q)} as {q}" if typ == "VARCHAR" else q for q, typ in quoted)
    order = f" order by {_order_by(table, [n for n, _, _ in columns])}" if table in XLSX_ORDER else ""
    rows = f"select {select} from {_rows(schema, table, where)}{order}"  # noqa: S608 (names from the warehouse catalog, checked or quoted; paths through lit())
    con.execute(f"copy ({rows}) to {lit(str(target))} (format csv, header)")


def write_parquet(con: duckdb.DuckDBPyConnection, schema: str, table: str, target: Path, where: str = "") -> None:
    """A Parquet file of a table, or of the rows ``where`` selects."""
    con.execute(f"copy (select * from {_rows(schema, table, where)}) to {lit(str(target))} (format parquet)")  # noqa: S608 (names from the warehouse catalog, checked or quoted; paths through lit())


def _link_or_write(earlier: Path | None, target: Path, write: Callable[[], None]) -> bool:
    """Hard-link ``earlier`` (a file of the current publication, never written again) as
    ``target`` when it exists, else ``write`` it; returns whether it was linked."""
    if earlier is not None and earlier.is_file():
        os.link(earlier, target)
        return True
    write()
    return False


def _export_files(
    con: duckdb.DuckDBPyConnection,
    table: PublishedTable,
    folder: Path,
    stem: str,
    earlier: Path | None,
    where: str = "",
) -> int:
    """``stem``.parquet and ``stem``.csv of a table (or of the rows ``where`` selects) in
    ``folder``, hard-linked from the same names in ``earlier`` when given; returns files linked."""
    links = 0
    for suffix, write in (("parquet", write_parquet), ("csv", write_csv)):
        target = folder / f"{stem}.{suffix}"
        links += _link_or_write(
            earlier / target.name if earlier else None,
            target,
            partial(write, con, table.schema, table.name, target, where),
        )
    return links


def _export_whole(
    con: duckdb.DuckDBPyConnection, table: PublishedTable, folder: Path, earlier: Path | None
) -> tuple[int, int]:
    """A table's Parquet and CSV in ``folder``, linked from ``earlier`` (the current publication's
    schema folder, given when the table is unchanged); returns (files linked, rows written)."""
    links = _export_files(con, table, folder, table.name, earlier)
    return links, 0 if links == 2 else table.rows


def _export_parts(
    con: duckdb.DuckDBPyConnection, table: PublishedTable, spec: MonthlyParts, folder: Path, earlier: Path | None
) -> tuple[int, int]:
    """A table's parts (``EXPORT_PARTS``) in ``folder/<table>/``: an unchanged part's files are
    linked from ``earlier`` (the current publication's schema folder), the others written;
    returns (files linked, rows written)."""
    parts_folder = folder / table.name
    parts_folder.mkdir()
    links = rows = 0
    for part, fingerprint in sorted(table.parts.items()):
        theirs = earlier / table.name if earlier is not None and part in table.reused_parts else None
        part_links = _export_files(con, table, parts_folder, f"{table.name}_{part}", theirs, spec.where(part))
        links += part_links
        rows += 0 if part_links == 2 else fingerprint_rows(fingerprint)
    return links, rows


def write_exports(
    serving: Path,
    exports_dir: Path,
    tables: list[PublishedTable],
    memory_limit: str | None = None,
    progress: Callable[[str], None] = lambda _line: None,
    reuse: Reusable | None = None,
) -> None:
    """Parquet and CSV for every published table, XLSX for the small ones, one folder per schema;
    a table of ``EXPORT_PARTS`` as a folder of monthly files instead of one file.

    The Parquet and CSV files of a table (or a part) unchanged since ``reuse`` (the current
    publication) are hard links to its files: the same bytes, no second copy on disk. XLSX files
    are always written, since they carry the as-of date and the column descriptions of this run.
    Each schema folder is rebuilt beside the old one and swapped in; other folders under
    ``exports/`` (the owners' exception files) are left alone.
    """
    con = _connect(serving, memory_limit, read_only=True)
    try:
        as_of = publication_as_of(con)
        written = Progress("exporting Parquet, CSV and XLSX", progress)
        linked = 0
        for schema in sorted({t.schema for t in tables}):
            pending = exports_dir / f"{schema}.new"
            shutil.rmtree(pending, ignore_errors=True)
            pending.mkdir(parents=True)
            earlier = reuse.exports / schema if reuse is not None else None
            for table in (t for t in tables if t.schema == schema):
                spec = EXPORT_PARTS.get((schema, table.name))
                if spec is None:
                    links, rows = _export_whole(con, table, pending, earlier if table.reused else None)
                else:
                    links, rows = _export_parts(con, table, spec, pending, earlier)
                if 0 < table.rows <= XLSX_MAX_ROWS and (table.name in XLSX_TABLES or schema == "forecast"):
                    write_xlsx(
                        con, schema, table.name, pending / f"{table.name}.xlsx", as_of.isoformat() if as_of else ""
                    )
                linked += links
                written.add(rows, table.key)
            swap_in(pending, exports_dir / schema)
        written.finish(f"{len(tables)} tables, {linked} files of unchanged rows linked from the current publication")
    finally:
        con.close()


def publish(
    warehouse: Path,
    serving: Path,
    as_of: dt.date,
    run_id: str,
    memory_limit: str | None = None,
    storage_version: str = STORAGE_VERSION,
    docs: dict[tuple[str, str], TableDocs] | None = None,
    progress: Callable[[str], None] = lambda _line: None,
    privacy: PublishPrivacy | None = None,
    reuse: Reusable | None = None,
) -> list[PublishedTable]:
    """Build the new serving file next to the old one and swap it in with one rename."""
    pending = serving.with_name(serving.name + ".pending")
    tables = build_serving_file(
        warehouse, pending, as_of, run_id, memory_limit, storage_version, docs, progress, privacy=privacy, reuse=reuse
    )
    os.replace(pending, serving)
    return tables
