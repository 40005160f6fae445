"""The generator's day drop: the company as of D (with horizon D+1) is the company as of D+1 minus
what happened on D+1, so the pair is one business day's drop for the daily-refresh benchmark.

Checked across a plain weekday, a month end and a year end: every event row of D's exports (a
document's issue, a payment, an application, a write-off, a bank line, a settlement, an FX rate,
an activity, a promise, a dispute) is in D+1's exports unchanged apart from its as-of state
(open amount, status, last change, promise status, dispute resolution), and every row D+1 adds
is dated D+1. The generation as of D without a horizon is a different company (its history
window and invoice budget end at D), which the last test shows, so the horizon is what makes
the drop.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from seeds.generator import generate_company

SIZE = dict(customers=40, invoices=500, seed=3, defect_rate=0.0, progress=False)

#: Per export: the files, the columns that identify an event (its as-of state left out), and
#: the column that dates it (an expression over the file's columns, as an ISO date).
EVENT_TABLES = {
    "invoices": (
        "erp/invoices/invoices_*.csv",
        "DocNo, CustNo, DocType, DocDate, DueDate, Curr, Amount, TaxAmount, PONo",
        "DocDate",
    ),
    "payments": ("erp/payments/payments_*.csv", "*", "PmtDate"),
    "applications": ("erp/payment_applications/payment_applications_*.csv", "*", "ApplyDate"),
    "write_offs": ("erp/write_offs.csv", "*", "WODate"),
    "fx_rates": ("erp/fx_rates.csv", "*", "RateDate"),
    "settlements": ("processor/settlements.csv", "*", "created"),
    "bank": ("bank/statement.csv", "*", "strftime(strptime(ValueDate, '%d.%m.%Y'), '%Y-%m-%d')"),
}
WORKFLOW_TABLES = {
    "activities": ("*", "activity_on"),
    "promises": ("ptp_no, cust_no, doc_no, promise_date, amount_cents, currency, created_at", "created_at[:10]"),
    "disputes": ("case_no, doc_no, opened_at, disputed_cents, reason_code", "opened_at[:10]"),
}


def _relations(con: duckdb.DuckDBPyConnection, folder: Path, tag: str) -> None:
    """Register every event table of a generated company as views ``<table>_<tag>``."""
    for name, (pattern, columns, date) in EVENT_TABLES.items():
        source = f"read_csv('{folder / pattern}', all_varchar=true, union_by_name=true, delim=',')"
        if name == "bank":
            source = f"read_csv('{folder / pattern}', all_varchar=true, delim=';')"
        con.execute(f"create view {name}_{tag} as select {columns}, {date} as _day from {source}")
    with sqlite3.connect(folder / "workflow" / "workflow.sqlite") as lite:
        for name, (columns, date) in WORKFLOW_TABLES.items():
            frame = pd.read_sql_query(f"select {columns} from {name}", lite)  # noqa: S608 (test constants)
            con.register("frame", frame)
            con.execute(f"create table {name}_{tag} as select *, {date} as _day from frame")
            con.unregister("frame")


def day_drop_differences(earlier: Path, later: Path, later_day: dt.date) -> dict[str, tuple[int, int, int]]:
    """Per event table: (rows of ``earlier`` missing from ``later``, rows ``later`` adds, of those
    the ones not dated ``later_day``). A day's drop has (0, n, 0) everywhere."""
    con = duckdb.connect()
    _relations(con, earlier, "a")
    _relations(con, later, "b")
    out = {}
    for name in (*EVENT_TABLES, *WORKFLOW_TABLES):

        def count(sql: str) -> int:
            return con.cursor().execute(sql).fetchall()[0][0]

        missing = count(f"select count(*) from (select * from {name}_a except all select * from {name}_b)")
        added = f"(select * from {name}_b except all select * from {name}_a)"
        new = count(f"select count(*) from {added}")
        undated = count(f"select count(*) from {added} where _day <> '{later_day.isoformat()}'")
        out[name] = (missing, new, undated)
    con.close()
    return out


@pytest.mark.parametrize(
    "day, next_day",
    [
        (dt.date(2026, 11, 26), dt.date(2026, 11, 27)),  # a weekday inside a month
        (dt.date(2026, 11, 30), dt.date(2026, 12, 1)),  # a month end
        (dt.date(2026, 12, 31), dt.date(2027, 1, 1)),  # a year end (and the history window moves)
    ],
)
def test_next_day_keeps_the_past_and_adds_only_that_day(tmp_path: Path, day: dt.date, next_day: dt.date) -> None:
    earlier = generate_company(tmp_path / "d", as_of=day, horizon=next_day, **SIZE)
    later = generate_company(tmp_path / "d1", as_of=next_day, **SIZE)
    diffs = day_drop_differences(earlier.out_dir, later.out_dir, next_day)
    assert {name: (missing, undated) for name, (missing, _, undated) in diffs.items()} == dict.fromkeys(
        diffs, (0, 0)
    ), diffs
    # the day adds rows (invoices about 1/250 of the book, so often none at this size; cash and
    # workflow nearly always), and FX rates only on a business day
    assert diffs["fx_rates"][1] in (0, 4)
    assert later.invoices >= earlier.invoices
    assert sum(n for _, n, _ in diffs.values()) > diffs["fx_rates"][1]


def test_horizon_equal_to_as_of_is_the_plain_generation(tmp_path: Path) -> None:
    """The next day's company is the ordinary generation as of that day (byte for byte), so the
    benchmark's D+1 is no special case; only D is generated with a horizon."""
    day = dt.date(2026, 11, 30)
    a = generate_company(tmp_path / "a", as_of=day, horizon=day, **SIZE)
    b = generate_company(tmp_path / "b", as_of=day, **SIZE)
    files = sorted(p.relative_to(a.out_dir) for p in a.out_dir.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b.out_dir) for p in b.out_dir.rglob("*") if p.is_file())
    assert all((a.out_dir / f).read_bytes() == (b.out_dir / f).read_bytes() for f in files)


def test_without_a_horizon_the_next_day_is_another_company(tmp_path: Path) -> None:
    """Why the horizon exists: the plain generation spreads its invoice budget and history over
    the months up to its own as-of date, so as of D and as of D+1 share almost no rows."""
    day, next_day = dt.date(2026, 11, 26), dt.date(2026, 11, 27)
    earlier = generate_company(tmp_path / "d", as_of=day, **SIZE)
    later = generate_company(tmp_path / "d1", as_of=next_day, **SIZE)
    missing, _, _ = day_drop_differences(earlier.out_dir, later.out_dir, next_day)["invoices"]
    assert missing > 0


@pytest.mark.parametrize("horizon", [dt.date(2026, 11, 25), dt.date(2026, 12, 30)])
def test_horizon_must_be_within_four_weeks_after_as_of(tmp_path: Path, horizon: dt.date) -> None:
    with pytest.raises(ValueError, match="horizon"):
        generate_company(tmp_path / "co", as_of=dt.date(2026, 11, 26), horizon=horizon, **SIZE)
