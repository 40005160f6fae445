"""The daily scenario's correctness check (bench/compare.py).

The comparison is what the benchmark's "refresh equals a full rebuild" rests on, so it is tested
against the differences it must see: a changed value, a missing row, a duplicated row (EXCEPT
ALL, not EXCEPT), a table on one side only, and a volatile column it must not see. The slow test
runs the whole scenario on a small generated company.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import duckdb
import pytest

from bench.compare import TableDifference, published_differences
from bench.daily import expected, run_scenario
from bench.stage import dbt_fixed_costs
from seeds.generator import generate_company

#: The slow test's day and the next: the last day of a month and the first of the next.
MONTH_END, MONTH_START = "2026-11-30", "2026-12-01"
ROWS = [(1, "a", 10.0, "2026-11-27 06:00:00"), (2, "b", 20.0, "2026-11-27 06:00:00"), (3, "c", 30.0, None)]


def _serving(path: Path, rows: list[tuple], extra_table: bool = False) -> Path:
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute("create table marts.fct (id integer, name varchar, amount decimal(18,2), loaded_at timestamp)")
    con.executemany("insert into marts.fct values (?, ?, ?, ?)", rows)
    con.execute("create table marts.dim as select 1 as id")
    if extra_table:
        con.execute("create table marts.only_here as select 1 as id")
    con.close()
    return path


def _by_table(diffs: list[TableDifference]) -> dict[str, TableDifference]:
    return {d.table: d for d in diffs}


def test_equal_files_are_equal_whatever_the_load_time(tmp_path: Path) -> None:
    left = _serving(tmp_path / "l.duckdb", ROWS)
    right = _serving(tmp_path / "r.duckdb", [(i, n, a, "2026-11-30 07:00:00") for i, n, a, _ in reversed(ROWS)])
    diffs = published_differences(left, right)
    assert [d.table for d in diffs] == ["marts.dim", "marts.fct"]
    assert all(d.equal for d in diffs)
    # the load time is ignored only because it is declared volatile
    assert not _by_table(published_differences(left, right, ignore_columns=()))["marts.fct"].equal


def test_a_changed_value_counts_on_both_sides(tmp_path: Path) -> None:
    changed = [ROWS[0], (2, "b", 20.01, ROWS[1][3]), ROWS[2]]
    fct = _by_table(published_differences(_serving(tmp_path / "l", ROWS), _serving(tmp_path / "r", changed)))
    assert (fct["marts.fct"].only_left, fct["marts.fct"].only_right) == (1, 1)


def test_a_missing_or_duplicated_row_is_a_difference(tmp_path: Path) -> None:
    left = _serving(tmp_path / "l", ROWS)
    missing = _by_table(published_differences(left, _serving(tmp_path / "m", ROWS[:2])))["marts.fct"]
    doubled = _by_table(published_differences(left, _serving(tmp_path / "d", [*ROWS, ROWS[0]])))["marts.fct"]
    assert (missing.only_left, missing.only_right) == (1, 0)
    assert (doubled.only_left, doubled.only_right) == (0, 1)


def test_a_table_on_one_side_only_is_not_equal(tmp_path: Path) -> None:
    diffs = _by_table(published_differences(_serving(tmp_path / "l", ROWS), _serving(tmp_path / "r", ROWS, True)))
    assert not diffs["marts.only_here"].equal and "right" in diffs["marts.only_here"].note


@pytest.mark.slow
@pytest.mark.pipeline
def test_a_daily_refresh_publishes_what_a_rebuild_publishes(tmp_path: Path) -> None:
    """Issue 15's correctness check at a small size: a company built as of D, D+1's drop refreshed
    with the daily job, against the main job from an empty home as of D+1, every published table
    compared (what differs by design is named in bench/daily.py). D+1 is the first of a month (the
    benchmark's pair, Friday to Monday, ends on the last day of one), so the refresh opens a new
    month of KPIs and of the aging's exports."""
    day, next_day = dt.date.fromisoformat(MONTH_END), dt.date.fromisoformat(MONTH_START)
    company = {"customers": 40, "invoices": 1500, "seed": 11, "defect_rate": 0.02, "progress": False}
    generate_company(tmp_path / "d", as_of=day, horizon=next_day, **company)
    generate_company(tmp_path / "d1", as_of=next_day, **company)
    dates = (MONTH_END, MONTH_START)
    result = run_scenario(tmp_path / "d", tmp_path / "d1", tmp_path / "work", floor=False, dates=dates)
    assert any(name.startswith("erp/invoices/") for name in result["dropped"]), result["dropped"]
    diffs = {d.table: d for d in result["diffs"]}
    assert [d for d in diffs.values() if not d.equal and not expected(d.table)] == []
    for table in ("quality.exceptions", "marts.fct_ar_invoices", "marts.fct_ar_aging_daily", "marts.ar_kpis_monthly"):
        assert diffs[table].equal, table
    warehouse = tmp_path / "work" / "home" / "warehouse.duckdb"
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        replaced = con.execute("select count(*) from quality.source_loads where status = 'replaced'").fetchone()
        partial = con.execute(
            "select count(*) from quality.source_loads where source_table = 'workflow__activities' "
            f"and status = 'loaded' and file like '% where activity_on >= {MONTH_END}'"
        ).fetchone()
        defects = con.execute("select count(*) from quality.exceptions").fetchone()
    finally:
        con.close()
    assert replaced and replaced[0] > 0, "the refresh replaced rewritten deliveries"
    assert defects and defects[0] > 0, "the company's defects are still reported"
    assert partial == (1,), "the refresh read the activities from D's day on (their watermark)"
    _the_aging_exports_took_the_unchanged_months(tmp_path / "work" / "home")


def _the_aging_exports_took_the_unchanged_months(home: Path) -> None:
    """After the refresh the aging's monthly files hold the published table; the months before
    the refresh restated are the full build's files (hard links, decision P2), December is new."""
    current = (home / "published").resolve()
    (previous,) = [p for p in (home / "publications").iterdir() if p != current and p.is_dir()]
    mine, theirs = current / "exports/marts/fct_ar_aging_daily", previous / "exports/marts/fct_ar_aging_daily"
    con = duckdb.connect(str(current / "serving.duckdb"), read_only=True)
    try:
        published = con.execute("select count(*) from marts.fct_ar_aging_daily").fetchone()
        exported = con.execute(f"select count(*) from read_parquet('{mine}/*.parquet')").fetchone()  # noqa: S608
    finally:
        con.close()
    assert published == exported
    assert not (theirs / f"fct_ar_aging_daily_{MONTH_START[:7]}.parquet").exists()
    assert (mine / f"fct_ar_aging_daily_{MONTH_START[:7]}.parquet").exists()
    linked = [p.name for p in mine.iterdir() if (theirs / p.name).exists() and os.path.samefile(p, theirs / p.name)]
    assert len(linked) >= 2 * 10, f"the earlier months are linked, not written: {sorted(linked)}"


def test_dbt_fixed_costs_are_the_step_outside_dbts_own_run(tmp_path: Path) -> None:
    results = tmp_path / "run_results.json"
    assert dbt_fixed_costs(results, 12.0) == {"dbt_start": 0.0, "dbt_nodes": 0, "dbt_node_median": 0.0}
    nodes = [{"execution_time": t} for t in (0.5, 0.1, 3.0)]
    results.write_text(json.dumps({"elapsed_time": 10.0, "results": nodes}))
    assert dbt_fixed_costs(results, 12.5) == {"dbt_start": 2.5, "dbt_nodes": 3, "dbt_node_median": 0.5}
    assert dbt_fixed_costs(results, 9.0)["dbt_start"] == 0.0, "never negative when dbt's clock ran ahead"
