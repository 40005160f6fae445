"""Publishing swaps the serving file atomically: open readers keep the old data, failures change nothing."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from openpyxl import load_workbook

from orchestration.defs.publish.descriptions import TableDocs, dbt_descriptions
from orchestration.defs.publish.serving import publish, write_exports

AS_OF = dt.date(2026, 11, 27)


def _warehouse(path: Path, open_amount: str) -> None:
    con = duckdb.connect(str(path))
    con.execute("create schema if not exists marts")
    con.execute("create schema if not exists staging")
    con.execute(
        "create or replace table marts.fct_ar_invoices as select '1' as invoice_id, "
        f"cast({open_amount} as decimal(18,2)) as open_amount"
    )
    con.execute("create or replace table staging.internal_only as select 1 as x")
    con.execute(
        "create or replace table marts.ar_kpis_monthly as select date '2026-10-31' as month_end, "
        "cast(45.5 as decimal(9,1)) as dso_countback"
    )
    con.close()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_publish_copies_consumer_schemas_only(tmp_path: Path) -> None:
    _warehouse(tmp_path / "wh.duckdb", "10.00")
    tables = publish(tmp_path / "wh.duckdb", tmp_path / "serving.duckdb", AS_OF, "run-1")
    assert [(t.schema, t.name, t.rows) for t in tables] == [
        ("marts", "ar_kpis_monthly", 1),
        ("marts", "fct_ar_invoices", 1),
    ]
    con = duckdb.connect(str(tmp_path / "serving.duckdb"), read_only=True)
    assert con.execute("select as_of_date, run_id from meta.publication").fetchall() == [(AS_OF, "run-1")]
    assert con.execute("select count(*) from information_schema.tables where table_schema = 'staging'").fetchall() == [
        (0,)
    ]


def test_a_publication_shows_only_history_known_on_its_day(tmp_path: Path) -> None:
    """Rebuilt as of an earlier day, the warehouse still holds later runs' forecasts and models:
    the publication of that day carries none of them (the day itself is kept)."""
    _warehouse(tmp_path / "wh.duckdb", "10.00")
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    con.execute("create schema forecast")
    con.execute(
        "create table forecast.cash_forecast_history as select * from (values "
        "(date '2026-11-26', 1), (date '2026-11-27', 2), (date '2026-11-28', 3)) as t(as_of_date, week_index)"
    )
    con.execute("create schema ml")
    con.execute(
        "create table ml.risk_model_versions as select * from (values "
        "('v1', date '2026-11-27'), ('v2', date '2026-11-28')) as t(model_version, trained_on)"
    )
    con.close()
    publish(tmp_path / "wh.duckdb", tmp_path / "serving.duckdb", AS_OF, "run-1")
    con = duckdb.connect(str(tmp_path / "serving.duckdb"), read_only=True)
    assert con.execute("select week_index from forecast.cash_forecast_history order by 1").fetchall() == [(1,), (2,)]
    assert con.execute("select model_version from ml.risk_model_versions").fetchall() == [("v1",)]
    con.close()


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
        "ar_kpis_monthly.csv",
        "ar_kpis_monthly.parquet",
        "ar_kpis_monthly.xlsx",
        "fct_ar_invoices.csv",
        "fct_ar_invoices.parquet",
    ]
    sheet = load_workbook(exports / "marts" / "ar_kpis_monthly.xlsx").active
    assert sheet["A1"].value == "marts.ar_kpis_monthly as of 2026-11-27"
    assert [c.value for c in sheet[4]] == ["Month end", "DSO countback"] and sheet["B5"].value == 45.5
    assert (exports / "exceptions" / "ar_at_x.com.csv").exists()
    assert duckdb.sql(f"select count(*) from '{exports / 'marts' / 'fct_ar_invoices.parquet'}'").fetchall() == [(1,)]


EVIL_NAME = '=HYPERLINK("http://evil.example/pay", "Pay here")'


def _behaviour_warehouse(path: Path) -> None:
    """A payment_behavior mart in arbitrary row order, one customer named like a formula."""
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute(
        """
        create table marts.payment_behavior as
        select * from (values
            ('C2', 'Plain Ltd', 'smb', cast(100.00 as decimal(18,2)), cast(0.5000 as decimal(9,4)), date '2026-11-27'),
            ('C1', ?, 'enterprise', cast(-12.50 as decimal(18,2)), cast(0.2500 as decimal(9,4)), date '2026-11-27'),
            ('C3', '-cmd|calc', 'smb', cast(2500.75 as decimal(18,2)), null, date '2026-11-27')
        ) as t(customer_id, customer_name, segment, open_amount_reporting, on_time_rate, as_of_date)
        """,
        [EVIL_NAME],
    )
    con.close()


DOCS = {
    ("marts", "payment_behavior"): TableDocs(
        "One row per customer: how it pays.", {"on_time_rate": "Share of paid invoices paid by the due date."}
    )
}


def test_xlsx_export_is_a_formatted_sheet_for_people(tmp_path: Path) -> None:
    _behaviour_warehouse(tmp_path / "wh.duckdb")
    tables = publish(tmp_path / "wh.duckdb", tmp_path / "serving.duckdb", AS_OF, "run-1", docs=DOCS)
    write_exports(tmp_path / "serving.duckdb", tmp_path / "exports", tables)
    book = load_workbook(tmp_path / "exports" / "marts" / "payment_behavior.xlsx")
    sheet = book.active
    assert sheet["A1"].value == "marts.payment_behavior as of 2026-11-27"
    assert sheet["A2"].value == "One row per customer: how it pays."
    header = [c.value for c in sheet[4]]
    assert header == [
        "Customer ID",
        "Customer name",
        "Segment",
        "Open amount (reporting)",
        "On time rate",
        "As of date",
    ]
    assert all(c.font.b for c in sheet[4])
    assert sheet["E4"].comment.text == "Share of paid invoices paid by the due date."
    assert sheet.freeze_panes == "A5"
    assert sheet.auto_filter.ref == "A4:F7"
    # Sorted by open amount, largest first; amounts are numbers with a money format.
    assert [sheet.cell(r, 1).value for r in (5, 6, 7)] == ["C3", "C2", "C1"]
    assert sheet["D7"].value == -12.5 and sheet["D7"].data_type == "n"
    assert sheet["D5"].number_format == "#,##0.00;[Red]-#,##0.00"
    assert sheet["E6"].number_format == "0.0%" and sheet["F5"].number_format == "yyyy-mm-dd"
    assert sheet["F5"].value.date() == AS_OF
    # The formula-like names are text, verbatim, with the quote-prefix style: never formulas, and
    # no apostrophe in the name (a lookup by name still finds it). An ordinary name has no style.
    assert (sheet["B7"].value, sheet["B7"].data_type, sheet["B7"].quotePrefix) == (EVIL_NAME, "s", True)
    assert (sheet["B5"].value, sheet["B5"].quotePrefix) == ("-cmd|calc", True)
    assert sheet["B6"].value[0].isalnum() and not sheet["B6"].quotePrefix
    assert not any(c.data_type == "f" for row in sheet.iter_rows() for c in row)
    # Print setup: landscape, one page wide, the header row repeated on every page.
    assert sheet.page_setup.orientation == "landscape"
    # fitToWidth is left out of the file when it is 1, the format's default.
    assert sheet.sheet_properties.pageSetUpPr.fitToPage and sheet.page_setup.fitToWidth in (None, 1)
    assert sheet.page_setup.fitToHeight == 0 and sheet.print_title_rows == "$4:$4"
    assert sheet.column_dimensions["B"].width >= len(EVIL_NAME) - 10


def test_csv_export_neutralises_text_and_keeps_numbers(tmp_path: Path) -> None:
    _behaviour_warehouse(tmp_path / "wh.duckdb")
    tables = publish(tmp_path / "wh.duckdb", tmp_path / "serving.duckdb", AS_OF, "run-1")
    write_exports(tmp_path / "serving.duckdb", tmp_path / "exports", tables)
    with open(tmp_path / "exports" / "marts" / "payment_behavior.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    by_id = {r["customer_id"]: r for r in rows}
    assert by_id["C1"]["customer_name"] == "'" + EVIL_NAME
    assert by_id["C3"]["customer_name"] == "'-cmd|calc"
    assert by_id["C1"]["open_amount_reporting"] == "-12.50"
    assert [r["customer_id"] for r in rows] == ["C3", "C2", "C1"]


def _duckdb_cli() -> Path:
    cli = Path(sys.executable).parent / "duckdb"
    assert cli.is_file(), "the duckdb-cli test dependency is not installed (pip install -r requirements.lock)"
    return cli


def test_serving_file_opens_in_the_duckdb_1x_cli_with_its_descriptions(tmp_path: Path) -> None:
    _behaviour_warehouse(tmp_path / "wh.duckdb")
    publish(tmp_path / "wh.duckdb", tmp_path / "serving.duckdb", AS_OF, "run-1", docs=DOCS)
    cli = _duckdb_cli()
    assert subprocess.run([str(cli), "--version"], capture_output=True, text=True).stdout.startswith("v1.5.6")
    sql = (
        "select count(*) as n, sum(open_amount_reporting) as total from marts.payment_behavior; "
        "select comment from duckdb_tables() where table_name = 'payment_behavior'; "
        "select comment from duckdb_columns() where column_name = 'on_time_rate'"
    )
    proc = subprocess.run(
        [str(cli), "-readonly", "-csv", str(tmp_path / "serving.duckdb"), sql], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "n,total",
        "3,2588.25",
        "comment",
        "One row per customer: how it pays.",
        "comment",
        "Share of paid invoices paid by the due date.",
    ]


def test_latest_storage_format_is_refused_by_the_1x_cli(tmp_path: Path) -> None:
    """The setting is what makes the difference: DuckDB 2.0's own format is unreadable to 1.5.6."""
    _behaviour_warehouse(tmp_path / "wh.duckdb")
    publish(tmp_path / "wh.duckdb", tmp_path / "serving.duckdb", AS_OF, "run-1", storage_version="latest")
    proc = subprocess.run(
        [str(_duckdb_cli()), "-readonly", str(tmp_path / "serving.duckdb"), "select 1"], capture_output=True, text=True
    )
    assert proc.returncode != 0 and "version number" in proc.stderr + proc.stdout


def test_descriptions_come_from_the_dbt_manifest(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text(
        json.dumps(
            {
                "nodes": {
                    "model.inflow.payment_behavior": {
                        "resource_type": "model",
                        "schema": "marts",
                        "name": "payment_behavior",
                        "description": "How each customer pays; it's per customer.",
                        "columns": {"segment": {"description": "CRM segment."}, "nope": {"description": "gone"}},
                    },
                    "test.inflow.x": {"resource_type": "test", "schema": "marts", "name": "x", "description": "t"},
                }
            }
        )
    )
    docs = dbt_descriptions(manifest)
    assert list(docs) == [("marts", "payment_behavior")]
    _behaviour_warehouse(tmp_path / "wh.duckdb")
    publish(tmp_path / "wh.duckdb", tmp_path / "serving.duckdb", AS_OF, "run-1", docs=docs)
    con = duckdb.connect(str(tmp_path / "serving.duckdb"), read_only=True)
    assert con.execute("select comment from duckdb_tables() where schema_name = 'marts'").fetchall() == [
        ("How each customer pays; it's per customer.",)
    ]
    assert con.execute("select column_name, comment from duckdb_columns() where comment is not null").fetchall() == [
        ("segment", "CRM segment.")
    ]
    assert dbt_descriptions(tmp_path / "missing.json") == {}
