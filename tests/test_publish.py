"""Publishing swaps the serving file atomically: open readers keep the old data, failures change nothing."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import duckdb
import pytest
from openpyxl import load_workbook

from orchestration.defs.publish.serving import publish, write_exports

AS_OF = dt.date(2026, 11, 27)


def _warehouse(path: Path, open_amount: str) -> None:
    con = duckdb.connect(str(path))
    con.execute("create schema if not exists marts")
    con.execute("create schema if not exists staging")
    con.execute("create or replace table marts.fct_ar_invoices as select '1' as invoice_id, "
                f"cast({open_amount} as decimal(18,2)) as open_amount")
    con.execute("create or replace table staging.internal_only as select 1 as x")
    con.execute("create or replace table marts.ar_kpis_monthly as select date '2026-10-31' as month_end, "
                "cast(45.5 as decimal(9,1)) as dso_countback")
    con.close()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_publish_copies_consumer_schemas_only(tmp_path: Path) -> None:
    _warehouse(tmp_path / "wh.duckdb", "10.00")
    tables = publish(tmp_path / "wh.duckdb", tmp_path / "serving.duckdb", AS_OF, "run-1")
    assert [(t.schema, t.name, t.rows) for t in tables] == [("marts", "ar_kpis_monthly", 1), ("marts", "fct_ar_invoices", 1)]
    con = duckdb.connect(str(tmp_path / "serving.duckdb"), read_only=True)
    assert con.execute("select as_of_date, run_id from meta.publication").fetchall() == [(AS_OF, "run-1")]
    assert con.execute("select count(*) from information_schema.tables where table_schema = 'staging'").fetchall() == [(0,)]


def test_open_reader_keeps_reading_the_old_file_during_a_publish(tmp_path: Path) -> None:
    _warehouse(tmp_path / "wh.duckdb", "10.00")
    publish(tmp_path / "wh.duckdb", tmp_path / "serving.duckdb", AS_OF, "run-1")
    reader = duckdb.connect(str(tmp_path / "serving.duckdb"), read_only=True)
    _warehouse(tmp_path / "wh.duckdb", "4.00")
    publish(tmp_path / "wh.duckdb", tmp_path / "serving.duckdb", AS_OF, "run-2")
    assert str(reader.execute("select open_amount from marts.fct_ar_invoices").fetchall()[0][0]) == "10.00"
    reader.close()
    fresh = duckdb.connect(str(tmp_path / "serving.duckdb"), read_only=True)
    assert str(fresh.execute("select open_amount from marts.fct_ar_invoices").fetchall()[0][0]) == "4.00"


def test_failed_publish_leaves_serving_byte_identical(tmp_path: Path) -> None:
    _warehouse(tmp_path / "wh.duckdb", "10.00")
    publish(tmp_path / "wh.duckdb", tmp_path / "serving.duckdb", AS_OF, "run-1")
    before = _digest(tmp_path / "serving.duckdb")
    (tmp_path / "broken.duckdb").write_bytes(b"not a database")
    with pytest.raises(duckdb.Error):
        publish(tmp_path / "broken.duckdb", tmp_path / "serving.duckdb", AS_OF, "run-2")
    assert _digest(tmp_path / "serving.duckdb") == before


def test_exports_replace_schema_folders_and_keep_exception_files(tmp_path: Path) -> None:
    _warehouse(tmp_path / "wh.duckdb", "10.00")
    tables = publish(tmp_path / "wh.duckdb", tmp_path / "serving.duckdb", AS_OF, "run-1")
    exports = tmp_path / "exports"
    (exports / "exceptions").mkdir(parents=True)
    (exports / "exceptions" / "ar_at_x.com.csv").write_text("rule\n")
    (exports / "marts").mkdir()
    (exports / "marts" / "dropped_table.parquet").write_text("stale")
    write_exports(tmp_path / "serving.duckdb", exports, tables)
    assert sorted(p.name for p in (exports / "marts").iterdir()) == [
        "ar_kpis_monthly.parquet", "ar_kpis_monthly.xlsx", "fct_ar_invoices.parquet"]
    sheet = load_workbook(exports / "marts" / "ar_kpis_monthly.xlsx").active
    assert [c.value for c in sheet[1]] == ["month_end", "dso_countback"] and sheet["B2"].value == 45.5
    assert (exports / "exceptions" / "ar_at_x.com.csv").exists()
    assert duckdb.sql(f"select count(*) from '{exports / 'marts' / 'fct_ar_invoices.parquet'}'").fetchall() == [(1,)]
