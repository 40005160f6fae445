"""Freshness from cadence and per-owner exception files, on a warehouse built in memory."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from orchestration.defs.ingestion.landing import LoadRecord, record_load
from orchestration.defs.quality.checks import measure_freshness
from orchestration.defs.quality.exceptions import exception_summary, owner_file_name, write_owner_reports
from orchestration.warehouse import ensure_schemas

NOW = dt.datetime(2026, 11, 27, 12, 0)


def _warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    ensure_schemas(con)
    return con


def test_fresh_stale_and_never_loaded() -> None:
    con = _warehouse()
    record_load(con, LoadRecord("erp", "erp__invoices", "invoices", "a.csv", "c1", 5, 5, 0,
                                loaded_at=NOW - dt.timedelta(hours=20)))
    record_load(con, LoadRecord("erp", "erp__invoices", "invoices", "b.csv", "c2", 0, 0, 0, status="rejected",
                                loaded_at=NOW - dt.timedelta(hours=1)))
    day = dt.timedelta(days=1)
    fresh = measure_freshness(con, "erp__invoices", day, NOW)
    assert not fresh.is_stale and fresh.age == dt.timedelta(hours=20)
    stale = measure_freshness(con, "erp__invoices", dt.timedelta(hours=12), NOW)
    assert stale.is_stale and "20:00:00 ago" in stale.describe("erp__invoices")
    never = measure_freshness(con, "crm__accounts", day, NOW)
    assert never.is_stale and "no batch has ever landed" in never.describe("crm__accounts")


def test_owner_reports_one_file_per_owner(tmp_path: Path) -> None:
    con = _warehouse()
    rows = [("erp", "ar-ops@acme.example", "unknown_customer", 3), ("erp", "ar-ops@acme.example", "duplicate_exact", 4),
            ("crm", "RevOps team", "parent_account_cycle", 7)]
    for source, owner, rule, row in rows:
        con.execute("insert into quality.exceptions values (?, ?, 'x', 'f.csv', 'c', ?, ?, null, 'd', ?, null, ?)",
                    [source, f"{source}__t", row, rule, owner, NOW])
    folder = tmp_path / "exceptions"
    (folder).mkdir()
    (folder / "gone@old.example.csv").write_text("stale")
    counts = write_owner_reports(con, folder)
    assert counts == {"RevOps team": 1, "ar-ops@acme.example": 2}
    assert sorted(p.name for p in folder.iterdir()) == [owner_file_name("RevOps team"), owner_file_name("ar-ops@acme.example")]
    lines = (folder / owner_file_name("ar-ops@acme.example")).read_text().splitlines()
    assert len(lines) == 3 and lines[0].startswith("source,source_table,entity,file,row_number,rule")
    summary = exception_summary(con)
    assert summary["exceptions"].sum() == 3 and set(summary["owner"]) == {"RevOps team", "ar-ops@acme.example"}
