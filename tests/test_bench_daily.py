"""The daily scenario's correctness check (bench/compare.py).

The comparison is what the benchmark's "refresh equals a full rebuild" rests on, so it is tested
against the differences it must see: a changed value, a missing row, a duplicated row (EXCEPT
ALL, not EXCEPT), a table on one side only, and a volatile column it must not see. The slow test
runs the whole scenario on a small generated company.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest

from bench.compare import TableDifference, published_differences
from bench.daily import DAY, NEXT_DAY, expected, run_scenario
from bench.stage import dbt_fixed_costs
from seeds.generator import generate_company

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
def test_a_daily_refresh_publishes_what_a_rebuild_publishes(tmp_path: Path) -> None:
    """Issue 15's correctness check at a small size: a company built as of D, D+1's drop refreshed
    with the daily job, against the main job from an empty home as of D+1, every published table
    compared (what differs by design is named in bench/daily.py)."""
    day, next_day = dt.date.fromisoformat(DAY), dt.date.fromisoformat(NEXT_DAY)
    company = {"customers": 40, "invoices": 1500, "seed": 11, "defect_rate": 0.02, "progress": False}
    generate_company(tmp_path / "d", as_of=day, horizon=next_day, **company)
    generate_company(tmp_path / "d1", as_of=next_day, **company)
    result = run_scenario(tmp_path / "d", tmp_path / "d1", tmp_path / "work", floor=False)
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
            "and status = 'loaded' and file like '% where activity_on >= 2026-11-27'"
        ).fetchone()
        defects = con.execute("select count(*) from quality.exceptions").fetchone()
    finally:
        con.close()
    assert replaced and replaced[0] > 0, "the refresh replaced rewritten deliveries"
    assert defects and defects[0] > 0, "the company's defects are still reported"
    assert partial == (1,), "the refresh read the activities from D's day on (their watermark)"


def test_dbt_fixed_costs_are_the_step_outside_dbts_own_run(tmp_path: Path) -> None:
    results = tmp_path / "run_results.json"
    assert dbt_fixed_costs(results, 12.0) == {"dbt_start": 0.0, "dbt_nodes": 0, "dbt_node_median": 0.0}
    nodes = [{"execution_time": t} for t in (0.5, 0.1, 3.0)]
    results.write_text(json.dumps({"elapsed_time": 10.0, "results": nodes}))
    assert dbt_fixed_costs(results, 12.5) == {"dbt_start": 2.5, "dbt_nodes": 3, "dbt_node_median": 0.5}
    assert dbt_fixed_costs(results, 9.0)["dbt_start"] == 0.0, "never negative when dbt's clock ran ahead"
