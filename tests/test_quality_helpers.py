"""Freshness from cadence and per-owner exception files, on a warehouse built in memory."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml

from expectations.contracts import ENTITIES
from orchestration.defs.quality.freshness import measure_freshness
from orchestration.defs.quality.store import (
    LoadRecord,
    exception_summary,
    owner_file_name,
    record_load,
    write_owner_reports,
)
from orchestration.warehouse import ensure_schemas

NOW = dt.datetime(2026, 11, 27, 12, 0)


def _warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    ensure_schemas(con)
    return con


def test_fresh_stale_and_never_loaded() -> None:
    con = _warehouse()
    record_load(
        con,
        LoadRecord("erp", "erp__invoices", "invoices", "a.csv", "c1", 5, 5, 0, loaded_at=NOW - dt.timedelta(hours=20)),
    )
    record_load(
        con,
        LoadRecord(
            "erp",
            "erp__invoices",
            "invoices",
            "b.csv",
            "c2",
            0,
            0,
            0,
            status="rejected",
            loaded_at=NOW - dt.timedelta(hours=1),
        ),
    )
    day = dt.timedelta(days=1)
    fresh = measure_freshness(con, "erp__invoices", day, NOW)
    assert not fresh.is_stale and fresh.age == dt.timedelta(hours=20)
    stale = measure_freshness(con, "erp__invoices", dt.timedelta(hours=12), NOW)
    assert stale.is_stale and "20:00:00 ago" in stale.describe("erp__invoices")
    never = measure_freshness(con, "crm__accounts", day, NOW)
    assert never.is_stale and "no batch has ever landed" in never.describe("crm__accounts")


def test_owner_reports_one_file_per_owner(tmp_path: Path) -> None:
    con = _warehouse()
    rows = [
        ("erp", "ar-ops@acme.example", "unknown_customer", 3),
        ("erp", "ar-ops@acme.example", "duplicate_exact", 4),
        ("crm", "RevOps team", "parent_account_cycle", 7),
    ]
    for source, owner, rule, row in rows:
        con.execute(
            "insert into quality.exceptions values (?, ?, 'x', 'f.csv', 'c', ?, ?, null, 'd', ?, null, ?)",
            [source, f"{source}__t", row, rule, owner, NOW],
        )
    folder = tmp_path / "exceptions"
    (folder).mkdir()
    (folder / "gone@old.example.csv").write_text("stale")
    counts = write_owner_reports(con, folder)
    assert counts == {"RevOps team": 1, "ar-ops@acme.example": 2}
    assert sorted(p.name for p in folder.iterdir()) == [
        owner_file_name("RevOps team"),
        owner_file_name("ar-ops@acme.example"),
    ]
    lines = (folder / owner_file_name("ar-ops@acme.example")).read_text().splitlines()
    assert len(lines) == 3 and lines[0].startswith("source,source_table,entity,file,row_number,rule")
    summary = exception_summary(con)
    assert summary["exceptions"].sum() == 3 and set(summary["owner"]) == {"RevOps team", "ar-ops@acme.example"}


def test_rules_renamed_since_a_home_was_made_are_migrated_when_it_is_opened() -> None:
    from expectations.rules import RENAMED, RULES
    from orchestration.defs.quality.store import ensure_quality_tables
    from orchestration.home.migrations import LATEST, migrate_warehouse, warehouse_version

    assert set(RENAMED) == {"empty_batch", "missing_required_column"} and set(RENAMED.values()) <= set(RULES)
    con = duckdb.connect()
    ensure_quality_tables(con)  # a warehouse of the first release: quality tables, no schema version
    for old in [*RENAMED, "unknown_customer"]:
        con.execute(
            "insert into quality.exceptions values ('s', 't', 'e', 'f', 'c', null, ?, null, 'd', 'o', null, "
            "timestamp '2026-01-01 00:00:00')",
            [old],
        )
    assert warehouse_version(con) == 1
    assert migrate_warehouse(con)[0] == (
        "migrated the warehouse to schema version 2: rules renamed in the catalogue (expectations.rules.RENAMED) "
        "carry their new names in quality.exceptions"
    )
    assert sorted(r for (r,) in con.execute("select rule from quality.exceptions").fetchall()) == [
        "batch_empty",
        "required_column_missing",
        "unknown_customer",
    ]
    assert warehouse_version(con) == LATEST and migrate_warehouse(con) == []


def test_a_home_keeping_rejections_of_batches_loaded_since_is_migrated_without_them() -> None:
    """A home whose rejected files were loaded once their mapping was fixed, before rejections were
    settled on loading: the migration removes those rejections, nothing else."""
    from orchestration.home.migrations import migrate_warehouse, stamp

    con = _warehouse()
    stamp(con, 2, "a home of the release before")
    at = dt.datetime(2026, 11, 1)
    for file, status in [("a.csv", "rejected"), ("a.csv", "loaded"), ("b.csv", "rejected")]:
        record_load(
            con, LoadRecord("erp", "erp__invoices", "invoices", file, f"{file}-sum", status=status, loaded_at=at)
        )
    exceptions = [("a.csv", None, "required_column_missing"), ("b.csv", None, "required_column_missing")]
    exceptions.append(("a.csv", 7, "unparseable_amount"))
    for file, row, rule_name in exceptions:
        con.execute(
            "insert into quality.exceptions values ('erp', 'erp__invoices', 'invoices', ?, ?, ?, ?, null, 'd', 'o', "
            "null, ?)",
            [file, f"{file}-sum", row, rule_name, at],
        )
    assert migrate_warehouse(con) == [
        "migrated the warehouse to schema version 3: rejections of batches loaded since (a mapping fixed) leave "
        "quality.exceptions; source_loads keeps them"
    ]
    assert con.execute("select file, row_number from quality.exceptions order by all").fetchall() == [
        ("a.csv", 7),
        ("b.csv", None),
    ]
    assert con.execute("select count(*) from quality.source_loads where status = 'rejected'").fetchone()[0] == 2


def test_exceptions_judged_afresh_replace_their_source_only() -> None:
    import pandas as pd

    from orchestration.defs.quality.store import REPORT_COLUMNS, ensure_quality_tables, replace_exceptions_of

    con = duckdb.connect()
    ensure_quality_tables(con)
    con.execute(
        "insert into quality.exceptions values ('erp', 't', 'e', 'f', 'c', 1, 'unknown_customer', null, 'd', "
        "'o', null, timestamp '2026-01-01 00:00:00')"
    )
    row = {
        "source": "writeback",
        "source_table": "erp_outbox",
        "entity": "outbox",
        "file": "x",
        "checksum": "k",
        "row_number": None,
        "rule": "writeback_failed",
        "column_name": None,
        "detail": "refused",
        "owner": "a@b.c",
        "payload": None,
        "detected_at": pd.Timestamp("2026-01-02"),
    }
    for _ in range(2):  # a second run replaces, never piles up
        assert replace_exceptions_of(con, "writeback", pd.DataFrame([row])) == 1
    assert con.execute("select source, count(*) from quality.exceptions group by 1 order by 1").fetchall() == [
        ("erp", 1),
        ("writeback", 1),
    ]
    with pytest.raises(KeyError, match="not in the catalogue"):
        replace_exceptions_of(con, "writeback", pd.DataFrame([{**row, "rule": "made_up"}]))
    with pytest.raises(ValueError, match="must carry that source"):
        replace_exceptions_of(con, "writeback", pd.DataFrame([{**row, "source": "erp"}]))
    assert set(REPORT_COLUMNS) < set(row)


def test_the_run_summary_counts_a_rejected_file_apart_from_the_loaded_ones(tmp_path: Path) -> None:
    """Three monthly files: one loaded, one rejected before a row was read (a malformed CSV), one
    loaded by an earlier run. The rejected file is not a loaded one, and its zero rows do not hide it."""
    from orchestration.run_report import TableLine, table_lines
    from orchestration.settings import Settings

    for month in ("01", "02", "03"):
        (tmp_path / f"inv_2026-{month}.csv").write_text("DocNo\n1\n")
    table = {
        "entity": "invoices",
        "format": "csv",
        "path": "inv_*.csv",
        "columns": {c: c for c in ENTITIES["invoices"].required},
    }
    source = {"system": "erp", "role": "system_of_record", "transport": "file", "owner": "ar@test.example"}
    config = tmp_path / "inflow.yml"
    config.write_text(
        yaml.safe_dump(
            {"company": "T", "reporting_currency": "USD", "sources": {"erp": {**source, "tables": {"invoices": table}}}}
        )
    )
    con = _warehouse()
    since = NOW - dt.timedelta(minutes=5)
    earlier = LoadRecord(
        "erp", "erp__invoices", "invoices", "inv_2026-01.csv", "c1", 4, 4, 0, loaded_at=NOW - dt.timedelta(days=1)
    )
    loaded = LoadRecord("erp", "erp__invoices", "invoices", "inv_2026-02.csv", "c2", 10, 9, 1, loaded_at=NOW)
    rejected = LoadRecord(
        "erp", "erp__invoices", "invoices", "inv_2026-03.csv", "c3", 0, 0, 0, status="rejected", loaded_at=NOW
    )
    for rec in (earlier, loaded, rejected):
        record_load(con, rec)
    (line,) = table_lines(Settings.load(config, tmp_path / "home"), con, since)
    assert line == TableLine("erp__invoices", 1, 1, 1, 10, 9, 1, 0)


def test_a_failed_run_lists_its_blocking_checks_not_its_warnings() -> None:
    """A warning that did not pass is in the log, not among the causes of a failed run."""
    from orchestration.run_report import failure_lines

    @dg.asset
    def book() -> int:
        return 1

    @dg.asset_check(asset=book)
    def ties_out() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=False, description="open AR off by 12%")

    @dg.asset_check(asset=book)
    def customers_known() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN, description="3 unknown")

    result = dg.materialize([book, ties_out, customers_known], raise_on_error=False)
    assert failure_lines(result) == ["check book:ties_out (ERROR): open AR off by 12%"]


def test_a_failed_reconciliation_shows_the_rows_it_returned(tmp_path: Path) -> None:
    """dbt says only "Got 2 results"; the summary reads the test's compiled SQL again and shows
    the rows (at most FAILING_ROWS_SHOWN), and nothing for a test whose SQL is not there."""
    from orchestration.run_report import FAILING_ROWS_SHOWN, failing_rows
    from orchestration.settings import Settings

    settings = Settings.load(None, tmp_path / "home")
    settings.home.mkdir()
    con = duckdb.connect(str(settings.warehouse_path))
    con.execute("create table t as select * from (values ('USD', 294109.76, 258146.58), ('CAD', 1.0, 1.0)) v(c, a, e)")
    con.close()
    compiled = settings.dbt_runs_dir / "r1" / "compiled" / "inflow" / "tests" / "ties.sql"
    compiled.parent.mkdir(parents=True)
    compiled.write_text(
        "with d as (select c as currency, a as open_amount, e as erp from t)\n"
        "select * from d where open_amount <> erp -- what did not reconcile"
    )
    failures = [
        "step dbt_models: Failure in test ties (tests/ties.sql): Got 1 result, configured to fail if != 0",
        "step dbt_models: Failure in test gone (tests/gone.sql): Got 3 results, configured to fail if != 0",
    ]
    assert failing_rows(settings, "r1", failures) == [
        f"rows ties returned (at most {FAILING_ROWS_SHOWN}):",
        "  currency=USD, open_amount=294109.76, erp=258146.58",
    ]
    assert failing_rows(settings, "r2", failures) == []
