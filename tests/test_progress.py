"""Progress lines of long work: rows and rows/s, no more often than the interval, always a closing line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from orchestration.defs.publish.serving import publish
from orchestration.progress import Progress, rate_text


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_lines_come_at_the_interval_with_rows_and_rate() -> None:
    clock, lines = Clock(), []
    progress = Progress("landing erp__invoices", lines.append, every=10.0, clock=clock)
    clock.now = 109.9
    progress.add(500_000, "file 1/3")
    assert lines == []  # 9.9 s: not yet
    clock.now = 110.0
    progress.add(500_000, "file 2/3")
    assert lines == ["landing erp__invoices: 1,000,000 rows in 10.0s (100,000 rows/s), file 2/3"]
    clock.now = 115.0
    progress.add(250_000)
    assert len(lines) == 1  # 5 s after the last line
    clock.now = 125.0
    progress.finish("3 new batch(es)")
    assert lines[-1] == "landing erp__invoices: done, 1,250,000 rows in 25.0s (50,000 rows/s), 3 new batch(es)"


def test_rate_of_no_time_is_not_a_division_by_zero() -> None:
    assert rate_text(10, 0.0) == "10 rows in 0.0s (- rows/s)"


def test_publish_reports_the_rows_it_copied(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    con.execute("create schema marts; create table marts.fct_ar_invoices as select range as id from range(1234)")
    con.close()
    lines: list[str] = []
    publish(tmp_path / "wh.duckdb", tmp_path / "serving.duckdb", dt.date(2026, 11, 27), "run-1", progress=lines.append)
    assert len(lines) == 1 and lines[0].startswith("publishing: tables copied into the serving file: done, 1,234 rows")
    assert lines[0].endswith(", 1 tables, 0 unchanged since the current publication")
