"""The landing floor: the time DuckDB alone takes to read and type the files a company lands.

For every configured source table, its files are read the way landing reads them (every column
as text, the table's delimiter, quote, encoding and header row; Parquet and JSON lines natively;
XLSX through openpyxl; a query through the database driver's cursor into Arrow) and each mapped
column is typed with a plain cast, or parsed with the table's first declared date format — no
normalization, validation, lineage, deduplication or bookkeeping. ``make bench`` runs it next to
the pipeline and reports landing (the ingest stage) against it: the cost of everything landing
does beyond reading and typing.

Run as ``python -m bench.landing_floor CONFIG DATABASE``; prints the seconds as JSON.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa

from expectations.contracts import ENTITIES, Column
from orchestration.config import InflowConfig, TableConfig, load_config
from orchestration.defs.ingestion.landing import batch_files, resolve_url
from orchestration.defs.ingestion.readers import cell_text


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _typed(col: Column, source: str, tbl: TableConfig) -> str:
    quoted = 'cast("' + source.replace('"', '""') + '" as varchar)'  # typed readers hand over text too
    if col.type == "date":
        return f"cast(try_strptime({quoted}, {_lit(tbl.options.date_formats[0])}) as date)"
    if col.type == "timestamp":
        return f"try_strptime({quoted}, {_lit(tbl.options.timestamp_formats[0])})"
    if col.type in ("money", "rate") and (tbl.options.decimal != "." or tbl.options.thousands):
        cleaned = f"replace({quoted}, {_lit(tbl.options.thousands)}, '')" if tbl.options.thousands else quoted
        cleaned = f"replace({cleaned}, {_lit(tbl.options.decimal)}, '.')"
        return f"try_cast({cleaned} as {col.duckdb_type})"
    return f"try_cast({quoted} as {col.duckdb_type})"


def _select(tbl: TableConfig, relation: str) -> str:
    ent = ENTITIES[tbl.entity]
    return (
        "select "  # noqa: S608 (identifiers from the contract; literals quoted)
        + ", ".join(f"{_typed(ent.column(c), s.column or c, tbl)} as {c}" for c, s in tbl.columns.items())
        + f" from {relation}"
    )


def _file_relation(tbl: TableConfig, path: Path) -> str:
    opts = tbl.options
    if tbl.format == "csv":
        return (
            f"read_csv({_lit(str(path))}, all_varchar = true, header = true, skip = {opts.header_row - 1}, "
            f"delim = {_lit(opts.delimiter)}, quote = {_lit(opts.quote)}, encoding = {_lit(opts.encoding)})"
        )
    if tbl.format == "parquet":
        return f"read_parquet({_lit(str(path))})"
    return f"read_json({_lit(str(path))}, format = 'newline_delimited')"


def _xlsx_arrow(tbl: TableConfig, path: Path) -> pa.Table:
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = book[tbl.options.sheet] if tbl.options.sheet else book.worksheets[0]
        rows = list(sheet.iter_rows(min_row=tbl.options.header_row, values_only=True))
    finally:
        book.close()
    header = [str(h).strip() for h in rows[0]]
    return pa.table({h: pa.array([cell_text(r[i]) for r in rows[1:]], pa.string()) for i, h in enumerate(header)})


def _query_arrow(config: InflowConfig, url: str, query: str) -> pa.Table:
    import sqlalchemy as sa

    engine = sa.create_engine(resolve_url(config, url)[0])
    try:
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute(query)
            header = [str(c[0]) for c in cursor.description]
            batches = []
            while rows := cursor.fetchmany(100_000):
                columns = list(zip(*rows, strict=True))
                batches.append(
                    pa.table(
                        {h: pa.array([cell_text(v) for v in columns[i]], pa.string()) for i, h in enumerate(header)}
                    )
                )
        finally:
            connection.close()
    finally:
        engine.dispose()
    return pa.concat_tables(batches) if batches else pa.table({h: pa.array([], pa.string()) for h in header})


def land_floor(config: InflowConfig, con: duckdb.DuckDBPyConnection) -> None:
    """Read and type every configured source table into a table of its own."""
    for source_name, table_name, src, tbl in config.tables():
        target = f"{source_name}__{table_name}"
        if tbl.format == "query":
            con.register("_arrow", _query_arrow(config, src.url or "", tbl.query or ""))
            con.execute(f"create table {target} as {_select(tbl, '_arrow')}")
            con.unregister("_arrow")
            continue
        for index, path in enumerate(batch_files(config, tbl)):
            if tbl.format == "xlsx":
                con.register("_arrow", _xlsx_arrow(tbl, path))
                relation = "_arrow"
            else:
                relation = _file_relation(tbl, path)
            verb = f"create table {target} as" if index == 0 else f"insert into {target}"
            con.execute(f"{verb} {_select(tbl, relation)}")
            if tbl.format == "xlsx":
                con.unregister("_arrow")


def main(argv: list[str]) -> int:
    config, database = load_config(argv[0]), Path(argv[1])
    database.unlink(missing_ok=True)
    start = time.perf_counter()
    con = duckdb.connect(str(database))
    try:
        land_floor(config, con)
    finally:
        con.close()
    print(json.dumps({"seconds": time.perf_counter() - start}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
