"""Readers: one landed batch (a file or a query result) into a DuckDB temp table of strings.

Every reader produces the same shape, ``_landing``: one VARCHAR column per mapped canonical column
(named by its canonical name), ``_row_number`` (1-based data row of the batch) and ``_extra`` (JSON
of unmapped source columns, kept rather than dropped). Nothing is type-guessed: columns are read
as text with explicit types and typed afterwards with the source's declared formats, so a bad
value becomes a quarantined row instead of a silently different type.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import difflib
import gc
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from expectations.rules import rule
from orchestration.config import ColumnSpec, TableConfig
from orchestration.secret_refs import redact
from orchestration.warehouse import scalar

if TYPE_CHECKING:
    import sqlalchemy as sa

LANDING = "_landing"
#: The table behind the ``_landing`` view: the batch's rows in the order read.
LANDING_ROWS = "_landing_rows"


class BatchRejected(Exception):
    """A batch unusable as a whole; the message names the file, the column and the rule."""

    def __init__(self, rule_name: str, message: str, column: str | None = None) -> None:
        super().__init__(message)
        self.rule = rule(rule_name)
        self.column = column


@dataclass
class LandedBatch:
    """What a reader landed: where from, how many rows, and warnings worth showing."""

    file: str
    rows: int
    warnings: list[str] = field(default_factory=list)


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _header_names(path: Path, tbl: TableConfig) -> list[str]:
    """The header row of a delimited file, read with the configured dialect; for a headerless
    file, ``column_1`` .. ``column_n`` from its first row."""
    encoding = "utf-8-sig" if tbl.options.encoding == "utf-8" else tbl.options.encoding
    wanted = tbl.options.header_row if tbl.options.header else 1
    try:
        with path.open(newline="", encoding=encoding) as handle:
            reader = csv.reader(handle, delimiter=tbl.options.delimiter, quotechar=tbl.options.quote)
            for index, row in enumerate(reader, start=1):
                if index == wanted:
                    return [name.strip() for name in row] if tbl.options.header else positional_names(len(row))
    except UnicodeDecodeError as exc:
        raise BatchRejected(
            "wrong_encoding",
            f"{path}: not readable as {tbl.options.encoding} ({exc.reason} at byte {exc.start}); "
            "set options.encoding to the file's encoding",
        ) from None
    raise BatchRejected("empty_file", f"{path}: empty file, no header row {tbl.options.header_row}")


def positional_names(count: int) -> list[str]:
    """Names of the columns of a headerless file."""
    return [f"column_{i}" for i in range(1, count + 1)]


def unique_header(header: list[str]) -> list[str]:
    """The header with repeated names made addressable: the second ``Text`` becomes ``Text#2``."""
    seen: dict[str, int] = {}
    out = []
    for name in header:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return out


def source_name(spec: ColumnSpec) -> str | None:
    """The (unique) header name a column spec reads; None for a constant."""
    if spec.position is not None:
        return f"column_{spec.position}"
    if spec.column is None:
        return None
    return spec.column if spec.occurrence == 1 else f"{spec.column}#{spec.occurrence}"


def _check_mapped_columns(file: str, header: list[str], tbl: TableConfig, entity_required: list[str]) -> None:
    """Reject a batch whose header lacks a mapped column (required ones always; others when the
    header was read), or maps a repeated header name without saying which occurrence."""
    repeated = sorted({h for h in header if header.count(h) > 1})
    mapped_repeats = [spec.column for spec in tbl.columns.values() if spec.column in repeated and spec.occurrence == 1]
    if mapped_repeats and not set(mapped_repeats) <= set(tbl.options.ignore_columns):
        raise BatchRejected(
            "duplicate_header",
            f"{file}: header repeats column(s) {repeated} and the mapping reads {sorted(set(mapped_repeats))}; "
            "say which one with occurrence: 2 (the first is occurrence 1 only when the name is unique)",
        )
    present = set(unique_header(header))
    for canonical in entity_required:
        spec = tbl.columns[canonical]
        name = source_name(spec)
        if name is None or name in present:
            continue
        hint = ""
        if len(header) == 1 and any(sep in header[0] for sep in ";\t|,"):
            hint = f"; the header parsed as one column {header[0]!r}: check options.delimiter"
        else:
            close = difflib.get_close_matches(spec.column or name, header, n=1, cutoff=0.6)
            hint = (f"; did you mean {close[0]!r}?" if close else "") + f" The file's header: {header}"
        raise BatchRejected(
            "required_column_missing",
            f"{file}: missing required column {spec.label()} (mapped to {canonical!r}){hint}",
            column=canonical,
        )


def _select_mapped(tbl: TableConfig, available: list[str], relation: str) -> str:
    """SELECT of canonical VARCHAR columns, unmapped columns as JSON (``_extra``) and ``_keep``
    (the row belongs to this table under its row filter). ``available`` is the unique header."""
    present = set(available)
    parts = []
    for canonical, spec in tbl.columns.items():
        name = source_name(spec)
        if spec.is_constant:
            value = _sql_literal(spec.value or "")
        elif name in present:
            value = f"cast({_quote_ident(name)} as varchar)"
        else:
            value = "cast(null as varchar)"
        parts.append(f"{value} as {canonical}")
    read = {source_name(spec) for spec in tbl.read_specs()}
    ignored = set(tbl.options.ignore_columns)
    extras = [c for c in available if c not in read and c.split("#")[0] not in ignored]
    if extras:
        pairs = ", ".join(f"{_sql_literal(c)}, cast({_quote_ident(c)} as varchar)" for c in extras)
        parts.append(f"cast(json_object({pairs}) as varchar) as _extra")
    else:
        parts.append("cast(null as varchar) as _extra")
    parts.append(f"{_row_filter(tbl, present)} as _keep")
    return f"select {', '.join(parts)} from {relation}"  # noqa: S608 (source names quoted by _quote_ident, literals by _sql_literal)


def _row_filter(tbl: TableConfig, present: set[str]) -> str:
    """SQL true for the rows a table takes under its ``rows:`` filter (every row without one)."""
    if tbl.rows is None:
        return "true"
    conditions = []
    for name in tbl.rows.present:
        ref = _quote_ident(name) if name in present else "cast(null as varchar)"
        conditions.append(f"nullif(trim(cast({ref} as varchar)), '') is not null")
    for name in tbl.rows.not_negative:
        ref = _quote_ident(name) if name in present else "cast(null as varchar)"
        conditions.append(f"not coalesce(starts_with(trim(cast({ref} as varchar)), '-'), false)")
    return " and ".join(conditions) or "true"


def _materialize(con: duckdb.DuckDBPyConnection, select_sql: str, append: bool = False) -> int:
    """Land the batch in a temp table keeping its order; ``_landing`` numbers its rows from 1.

    A single CREATE TABLE AS (then appends, for a batch read in chunks) keeps the reader's order
    and hands out consecutive row ids (temp tables start them at a large offset), so the row id
    minus the first one is the data row. ``_landing`` is a view, so the rows are copied once
    more only where the caller puts them.
    """
    if append:
        con.execute(f"insert into {LANDING_ROWS} {select_sql}")
    else:
        con.execute(f"create or replace temp table {LANDING_ROWS} as {select_sql}")
        con.execute(f"create or replace temp view {LANDING} as {numbered_rows_sql(LANDING_ROWS)}")
    return scalar(con, f"select count(*) from {LANDING_ROWS} where _keep")  # noqa: S608 (source names quoted by _quote_ident, literals by _sql_literal)


def numbered_rows_sql(table: str) -> str:
    """The rows of a table landed in order that it takes (``_keep``), with ``_row_number`` the
    data row of the file counting from 1 (rows another table takes still count)."""
    numbered = f"select *, rowid - (select min(rowid) from {table}) + 1 as _row_number from {table}"  # noqa: S608 (source names quoted by _quote_ident, literals by _sql_literal)
    return f"select * exclude (_keep) from ({numbered}) where _keep"  # noqa: S608 (source names quoted by _quote_ident, literals by _sql_literal)


def read_csv(con: duckdb.DuckDBPyConnection, path: Path, tbl: TableConfig, required: list[str]) -> LandedBatch:
    opts = tbl.options
    raw_header = _header_names(path, tbl)
    _check_mapped_columns(str(path), raw_header, tbl, required)
    header = unique_header(raw_header)
    columns = "{" + ", ".join(f"{_sql_literal(h)}: 'VARCHAR'" for h in header) + "}"
    reader = (
        f"read_csv({_sql_literal(str(path))}, columns={columns}, header=false, "
        f"skip={opts.header_row if opts.header else 0}, delim={_sql_literal(opts.delimiter)}, "
        f"quote={_sql_literal(opts.quote)}, "
        f"escape={_sql_literal(opts.quote)}, encoding={_sql_literal(opts.encoding)}, auto_detect=false, "
        "strict_mode=true, null_padding=false)"
    )
    try:
        rows = _materialize(con, _select_mapped(tbl, header, reader))
    except duckdb.Error as exc:
        raise BatchRejected("unparseable_file", f"{path}: {csv_error_text(str(exc))}") from None
    return LandedBatch(str(path), rows, _extra_warning(str(path), header, tbl))


def csv_error_text(error: str) -> str:
    """DuckDB's CSV error as one line a file's owner can act on: what is wrong on which line of
    the file, without the reader options DuckDB suggests (padding, skipping or a lax mode), which
    Inflow does not offer: a malformed row is fixed at the source, never guessed at."""
    what = error.split("\nPossible fixes:")[0].split("\n  file =")[0].removeprefix("Invalid Input Error: ")
    lines = [line.strip() for line in what.splitlines() if line.strip()]
    return "; ".join(lines) + " (lines of the file, the header included): correct or remove that line at the source"


def _extra_warning(file: str, available: list[str], tbl: TableConfig) -> list[str]:
    if tbl.rows is not None:  # a derived table reads a few columns of a file its own table maps
        return []
    read = {source_name(spec) for spec in tbl.read_specs()}
    ignored = set(tbl.options.ignore_columns)
    extras = [c for c in available if c not in read and c.split("#")[0] not in ignored]
    return [f"{file}: unmapped column(s) {extras} kept in _extra"] if extras else []


def cell_text(value: object) -> str | None:
    """Text of a spreadsheet/query cell; dates become ISO so the typed layer parses them."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    return str(value)


def _text_table(rows: list[tuple], header: list[str]) -> pa.Table:
    """Cells as an Arrow table of text columns. A column that holds only text (most query
    results) goes to Arrow as it is; any other is converted cell by cell, which costs seconds
    per million rows."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(header)
    arrays = []
    for values in columns:
        try:
            arrays.append(pa.array(values, type=pa.string()))
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            arrays.append(pa.array([cell_text(v) for v in values], type=pa.string()))
    return pa.Table.from_arrays(arrays, names=header)


def _append_rows(
    con: duckdb.DuckDBPyConnection, rows: list[tuple], tbl: TableConfig, header: list[str], append: bool
) -> int:
    """Land (or append) rows of cells as text through the same mapping as a CSV."""
    con.register("_landing_cells", _text_table(rows, header))
    try:
        return _materialize(con, _select_mapped(tbl, header, "_landing_cells"), append=append)
    finally:
        con.unregister("_landing_cells")


def read_xlsx(con: duckdb.DuckDBPyConnection, path: Path, tbl: TableConfig, required: list[str]) -> LandedBatch:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged workbook
        raise BatchRejected("unparseable_file", f"{path}: not a readable XLSX workbook ({exc})") from None
    try:
        sheet = workbook[tbl.options.sheet] if tbl.options.sheet else workbook.worksheets[0]
        rows = list(sheet.iter_rows(min_row=tbl.options.header_row, values_only=True))
    finally:
        workbook.close()
    if not rows:
        raise BatchRejected("empty_file", f"{path}: no header at row {tbl.options.header_row}")
    if tbl.options.header:
        raw_header = [str(h).strip() if h is not None else f"column_{i + 1}" for i, h in enumerate(rows[0])]
        body = rows[1:]
    else:
        raw_header, body = positional_names(max(len(r) for r in rows)), rows
    body = [r for r in body if any(v is not None for v in r)]
    _check_mapped_columns(str(path), raw_header, tbl, required)
    header = unique_header(raw_header)
    landed = _append_rows(con, body, tbl, header, append=False)
    return LandedBatch(str(path), landed, _extra_warning(str(path), header, tbl))


def read_parquet(con: duckdb.DuckDBPyConnection, path: Path, tbl: TableConfig, required: list[str]) -> LandedBatch:
    relation = f"read_parquet({_sql_literal(str(path))})"
    try:
        header = [r[0] for r in con.execute(f"describe select * from {relation}").fetchall()]  # noqa: S608 (source names quoted by _quote_ident, literals by _sql_literal)
    except duckdb.Error as exc:
        raise BatchRejected("unparseable_file", f"{path}: not a readable Parquet file ({exc})") from None
    _check_mapped_columns(str(path), header, tbl, required)
    rows = _materialize(con, _select_mapped(tbl, header, relation))
    return LandedBatch(str(path), rows, _extra_warning(str(path), header, tbl))


def read_jsonl(con: duckdb.DuckDBPyConnection, path: Path, tbl: TableConfig, required: list[str]) -> LandedBatch:
    """JSON lines read with every mapped key as VARCHAR: a wrong-typed value stays text."""
    mapped = sorted(set(tbl.source_columns()))
    columns = "{" + ", ".join(f"{_sql_literal(c)}: 'VARCHAR'" for c in mapped) + "}"
    relation = f"read_json({_sql_literal(str(path))}, format='newline_delimited', columns={columns}, auto_detect=false)"
    try:
        rows = _materialize(con, _select_mapped(tbl, mapped, relation))
    except duckdb.Error as exc:
        raise BatchRejected("unparseable_file", f"{path}: {str(exc).splitlines()[0]}") from None
    _reject_absent_required(con, str(path), tbl, required, rows)
    return LandedBatch(str(path), rows)


def _reject_absent_required(
    con: duckdb.DuckDBPyConnection, file: str, tbl: TableConfig, required: list[str], rows: int
) -> None:
    """For schemaless batches (JSON): a required key absent from every row is a missing column."""
    if rows == 0:
        return
    for canonical in required:
        present = scalar(con, f"select count({canonical}) from {LANDING}")  # noqa: S608 (source names quoted by _quote_ident, literals by _sql_literal)
        if present == 0:
            raise BatchRejected(
                "required_column_missing",
                f"{file}: required key {tbl.columns[canonical].label()} (mapped to {canonical!r}) is absent "
                "from every row",
                column=canonical,
            )


#: Rows fetched from a database per round trip: a query result of millions of rows is landed
#: chunk by chunk, never held whole in Python.
QUERY_CHUNK_ROWS = 100_000


def _streaming_cursor(engine: sa.Engine, connection: Any) -> Any:
    """A driver cursor that fetches as it goes: psycopg2 does so only from a named (server-side)
    cursor; sqlite3's plain cursor already does."""
    if engine.dialect.driver == "psycopg2":
        return connection.cursor(name="inflow_landing")
    return connection.cursor()


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while millions of row tuples are made and dropped:
    they hold no cycles, and the collections they trigger took a quarter of a million-row fetch."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


#: DB-API parameter markers by the driver's paramstyle (PEP 249), for the one bound watermark.
_MARKERS = {"qmark": "?", "format": "%s", "pyformat": "%s", "numeric": ":1", "named": ":since"}
#: Between a partial batch's label and its bound: ``<url>#<entity> where <column> >= <bound>``.
PARTIAL_MARK = " where "


def incremental_query(engine: sa.Engine, query: str, column: str, since: str) -> tuple[str, Any]:
    """The configured query cut to the rows whose ``column`` (a column of its result) is on or
    after ``since``, bound as a parameter in the driver's style; returns (SQL, parameters)."""
    style = engine.dialect.loaded_dbapi.paramstyle
    quoted = engine.dialect.identifier_preparer.quote(column)
    sql = f"select * from ({query}) as inflow_incremental where {quoted} >= {_MARKERS[style]}"  # noqa: S608 (the operator's configured query; the bound is a parameter)
    return sql, {"since": since} if style == "named" else [since]


def read_query(
    con: duckdb.DuckDBPyConnection,
    url: str,
    tbl: TableConfig,
    required: list[str],
    on_rows: Callable[[int], None] = lambda _rows: None,
    secrets: Sequence[str] = (),
    since: str | None = None,
) -> LandedBatch:
    """Run a read-only query over any SQLAlchemy URL; the batch's 'file' is the URL without its
    password. ``on_rows`` hears of each chunk fetched (the landing's progress lines); ``secrets``
    (the values the URL's ``${NAME}`` references resolved to) never reach a message or a label.
    With ``since`` (an ISO date), only the rows whose watermark column is on or after it are read
    (``tbl.watermark``, decision L2), and the label says so.

    SQLAlchemy opens the connection; rows come from the driver's cursor as plain tuples, because
    wrapping each in a SQLAlchemy Row and back into a tuple added about a second per million rows.
    """
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(url)
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise BatchRejected("query_failed", redact(f"not a usable database URL: {exc}", [url, *secrets])) from None
    label = redact(f"{engine.url.render_as_string(hide_password=True)}#{tbl.entity}", secrets)
    try:
        connection = engine.raw_connection()
        try:
            with _gc_paused():
                cursor = _streaming_cursor(engine, connection)
                if since is not None and tbl.watermark is not None:
                    column = tbl.columns[tbl.watermark.column].column or ""
                    cursor.execute(*incremental_query(engine, tbl.query or "", column, since))
                    label = f"{label}{PARTIAL_MARK}{column} >= {since}"
                else:
                    cursor.execute(tbl.query or "")
                rows, landed = cursor.fetchmany(QUERY_CHUNK_ROWS), 0
                raw_header = [str(column[0]).strip() for column in cursor.description]
                _check_mapped_columns(label, raw_header, tbl, required)
                header = unique_header(raw_header)
                while True:
                    landed = _append_rows(con, rows, tbl, header, append=landed > 0)
                    on_rows(len(rows))
                    if len(rows) < QUERY_CHUNK_ROWS:
                        break
                    rows = cursor.fetchmany(QUERY_CHUNK_ROWS)
        finally:
            connection.close()
    except (sa.exc.SQLAlchemyError, engine.dialect.loaded_dbapi.Error) as exc:
        reason = str(exc.__cause__ or exc).splitlines()[0]
        raise BatchRejected("query_failed", redact(f"{label}: query failed: {reason}", secrets)) from None
    finally:
        engine.dispose()
    return LandedBatch(label, landed, _extra_warning(label, header, tbl))


FILE_READERS = {"csv": read_csv, "xlsx": read_xlsx, "parquet": read_parquet, "jsonl": read_jsonl}
