"""The point-in-time risk features (dbt_project/models/intermediate/ml) on a tiny company computed by hand,
and the leakage property: nothing dated after a row's scoring day changes any of its features.

Company C1 (USD, NET30, credit limit 10,000, smb / emea / DE), as of 2026-03-31:
  I6 2025-12-01 due 12-31   800  written off in full 2026-02-15
  I1 2026-01-01 due 01-31 1,000  paid 02-05 (5 days late)
  I2 2026-01-10 due 02-09 2,000  paid 1,000 on 02-01, the rest 03-01 (20 days late, partial)
  I3 2026-02-01 due 03-03   500  paid 03-03 (on time)
  I4 2026-02-20 due 03-22 3,000  open; dispute opened 03-25, unresolved
  I5 2026-03-10 due 04-09 1,500  open; promise made 03-20 to pay 04-05 (pending)
  promise on I2 made 02-10 for 02-15, 1,000: nothing paid by 02-18 (grace 3) -> broken, known 02-19
  activities: call 03-20, stage change 03-28 (not a collector touch)
C2 (USD) has one invoice, so C1's figures are not polluted by another customer.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.risk_sql import Rows, build_company, compile_models

AS_OF = "2026-03-31"
D = Decimal

COMPANY: Rows = {
    "customers": [
        {
            "customer_id": "C1",
            "name": "Acme",
            "country": "DE",
            "currency": "USD",
            "payment_terms": "NET30",
            "credit_limit": D("10000.00"),
        },
        {
            "customer_id": "C2",
            "name": "Beta",
            "country": "US",
            "currency": "USD",
            "payment_terms": "NET30",
            "credit_limit": D("5000.00"),
        },
    ],
    "crm_accounts": [
        {
            "account_id": "A1",
            "customer_id": "C1",
            "owner": "Olivia",
            "collector": "Carl",
            "segment": "smb",
            "region": "emea",
        },
        {
            "account_id": "A2",
            "customer_id": "C2",
            "owner": "Olivia",
            "collector": "Dana",
            "segment": "enterprise",
            "region": "na",
        },
    ],
    "invoices": [
        {
            "document_id": doc,
            "customer_id": cust,
            "document_type": "invoice",
            "document_date": issued,
            "due_date": due,
            "currency": "USD",
            "amount": D(amount),
        }
        for doc, cust, issued, due, amount in [
            ("I6", "C1", "2025-12-01", "2025-12-31", "800.00"),
            ("I1", "C1", "2026-01-01", "2026-01-31", "1000.00"),
            ("I2", "C1", "2026-01-10", "2026-02-09", "2000.00"),
            ("I3", "C1", "2026-02-01", "2026-03-03", "500.00"),
            ("I4", "C1", "2026-02-20", "2026-03-22", "3000.00"),
            ("I5", "C1", "2026-03-10", "2026-04-09", "1500.00"),
            ("J1", "C2", "2026-01-15", "2026-02-14", "700.00"),
        ]
    ],
    "payments": [
        {"payment_id": pid, "customer_id": cust, "payment_date": day, "currency": "USD", "amount": D(amount)}
        for pid, cust, day, amount in [
            ("P1", "C1", "2026-02-05", "1000.00"),
            ("P2", "C1", "2026-02-01", "1000.00"),
            ("P3", "C1", "2026-03-01", "1000.00"),
            ("P4", "C1", "2026-03-03", "500.00"),
            ("P5", "C2", "2026-02-10", "700.00"),
        ]
    ],
    "payment_applications": [
        {"payment_id": pid, "document_id": doc, "applied_amount": D(amount), "applied_date": day}
        for pid, doc, amount, day in [
            ("P1", "I1", "1000.00", "2026-02-05"),
            ("P2", "I2", "1000.00", "2026-02-01"),
            ("P3", "I2", "1000.00", "2026-03-01"),
            ("P4", "I3", "500.00", "2026-03-03"),
            ("P5", "J1", "700.00", "2026-02-10"),
        ]
    ],
    "write_offs": [
        {"document_id": "I6", "amount": D("800.00"), "write_off_date": "2026-02-15", "reason": "bankruptcy"}
    ],
    "disputes": [{"dispute_id": "DS1", "document_id": "I4", "opened_at": "2026-03-25 10:00:00", "reason": "pricing"}],
    "promises": [
        {
            "promise_id": "PR1",
            "customer_id": "C1",
            "document_id": "I2",
            "promised_date": "2026-02-15",
            "promised_amount": D("1000.00"),
            "created_at": "2026-02-10 09:00:00",
            "status": "open",
        },
        {
            "promise_id": "PR2",
            "customer_id": "C1",
            "document_id": "I5",
            "promised_date": "2026-04-05",
            "promised_amount": D("1500.00"),
            "created_at": "2026-03-20 09:00:00",
            "status": "open",
        },
    ],
    "activities": [
        {"activity_id": "AC1", "customer_id": "C1", "document_id": "I4", "activity_date": "2026-03-20", "kind": "call"},
        {
            "activity_id": "AC2",
            "customer_id": "C1",
            "document_id": "I4",
            "activity_date": "2026-03-28",
            "kind": "stage_change",
        },
    ],
}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return compile_models(tmp_path_factory.mktemp("risk-dbt"), {"as_of_date": AS_OF})


@pytest.fixture(scope="module")
def built(models):
    con = build_company(models, COMPANY)
    yield con
    con.close()


@pytest.fixture(scope="module")
def daily_models(tmp_path_factory):
    """The models with a snapshot every day: a feature row on every day of every open invoice, so
    a leak of even one day has a row to show in."""
    return compile_models(
        tmp_path_factory.mktemp("risk-dbt-daily"), {"as_of_date": AS_OF, "risk_snapshot_step_days": 1}
    )


@pytest.fixture(scope="module")
def daily_built(daily_models):
    con = build_company(daily_models, COMPANY)
    yield con
    con.close()


def row(con: duckdb.DuckDBPyConnection, table: str, invoice: str, scoring_date: str, kind: str | None = None) -> dict:
    where = "invoice_id = ? and scoring_date = ?" + (" and row_kind = ?" if kind else "")
    params = [invoice, scoring_date] + ([kind] if kind else [])
    frame = con.execute(f"select * from intermediate.{table} where {where}", params).df()
    assert len(frame) == 1, f"expected one {table} row for {invoice} on {scoring_date}, got {len(frame)}"
    return frame.iloc[0].to_dict()


def test_snapshot_row_of_an_aged_open_invoice(built):
    """I4 on 2026-03-31: history through that day, its own balance and dispute, exposure without it."""
    r = row(built, "int_risk_scoring_rows", "I4", AS_OF)
    expected = {
        "row_kind": "snapshot",
        "age_days": 39,
        "days_past_due": 9,
        "terms_days": 30,
        "due_month": 3,
        "open_share": 1.0,
        "amount_reporting_value": 3000.0,
        "paid_invoice_count": 3,
        "late_invoice_count": 2,
        "late_share": 2 / 3,
        "severe_late_share": 0.0,
        "partial_payment_share": 1 / 3,
        "days_beyond_terms_mean": 25 / 3,
        "days_late_when_late_mean": 12.5,
        "days_late_mean": 25 / 3,
        "days_beyond_terms_median_last_10": 5.0,
        "days_beyond_terms_mean_last_5": 25 / 3,
        "days_beyond_terms_trend": 0.0,
        "days_late_mean_last_5": 25 / 3,
        "days_since_last_late_payment": 30,
        "written_off_invoice_count": 1,
        "customer_dispute_count": 1,
        "broken_promise_count": 1,
        "days_since_broken_promise": 44,
        "days_since_last_touch": 11,
        "customer_tenure_days": 120,
        "prior_invoice_count": 5,
        "usual_invoice_amount_reporting": 1160.0,
        "usual_terms_days": 30.0,
        "invoice_size_ratio": 3000 / 1160,
        "other_open_invoice_count": 1,
        "other_open_balance_reporting": 1500.0,
        "other_overdue_invoice_count": 0,
        "other_overdue_balance_reporting": 0.0,
        "other_overdue_share": 0.0,
        "credit_limit_use": 0.45,
        "own_dispute_open": 1,
        "own_dispute_count": 1,
        "own_broken_promise_count": 0,
        "own_promise_pending": 0,
        "segment": "smb",
        "region": "emea",
        "country": "DE",
        "payment_terms": "NET30",
    }
    for name, value in expected.items():
        assert r[name] == pytest.approx(value) if isinstance(value, float) else r[name] == value, (name, r[name], value)
    assert r["last_broken_promised_date"].date() == dt.date(2026, 2, 15)
    assert r["own_last_dispute_opened_date"].date() == dt.date(2026, 3, 25)


def test_issue_row_sees_only_the_days_before_the_invoice(built):
    """I4 as billed on 2026-02-20: history through 02-19 (I2's broken promise became known that day)."""
    r = row(built, "int_risk_training_rows", "I4", "2026-02-20", "issue")
    expected = {
        "age_days": 0,
        "days_past_due": -30,
        "open_share": 1.0,
        "paid_invoice_count": 1,
        "late_invoice_count": 1,
        "late_share": 1.0,
        "days_beyond_terms_mean": 5.0,
        "days_since_last_late_payment": 15,
        "written_off_invoice_count": 1,
        "broken_promise_count": 1,
        "days_since_broken_promise": 5,
        "customer_dispute_count": 0,
        "prior_invoice_count": 4,
        "usual_invoice_amount_reporting": 1075.0,
        "invoice_size_ratio": 3000 / 1075,
        "other_open_invoice_count": 2,
        "other_open_balance_reporting": 1500.0,
        "other_overdue_invoice_count": 1,
        "other_overdue_balance_reporting": 1000.0,
        "other_overdue_share": 2 / 3,
        "credit_limit_use": 0.45,
        "customer_tenure_days": 81,
        "own_dispute_open": 0,
    }
    for name, value in expected.items():
        assert r[name] == pytest.approx(value), (name, r[name], value)
    assert pd.isna(r["days_since_last_touch"])
    assert pd.isna(r["settled_date"]) and bool(r["is_open_at_as_of"])


def test_pending_promise_and_outcomes(built):
    """I5 carries its pending promise; settled and written-off dates are the training outcomes."""
    assert row(built, "int_risk_scoring_rows", "I5", AS_OF)["own_promise_pending"] == 1
    outcomes = (
        built.execute(
            "select invoice_id, settled_date, written_off_date from intermediate.int_risk_training_rows "
            "where row_kind = 'issue' order by invoice_id"
        )
        .df()
        .set_index("invoice_id")
    )
    assert outcomes.loc["I2", "settled_date"].date() == dt.date(2026, 3, 1)
    assert outcomes.loc["I3", "settled_date"].date() == dt.date(2026, 3, 3)
    assert pd.isna(outcomes.loc["I6", "settled_date"])
    assert outcomes.loc["I6", "written_off_date"].date() == dt.date(2026, 2, 15)


def test_snapshot_rows_are_the_invoices_open_on_each_snapshot_day(built):
    """Snapshot days are as_of minus multiples of 28 days; a row exists only while its invoice is open."""
    snapshots = built.execute(
        "select scoring_date, list(invoice_id order by invoice_id) from intermediate.int_risk_training_rows "
        "where row_kind = 'snapshot' group by 1 order by 1"
    ).fetchall()
    assert snapshots == [
        (dt.date(2025, 12, 9), ["I6"]),
        (dt.date(2026, 1, 6), ["I1", "I6"]),
        (dt.date(2026, 2, 3), ["I1", "I2", "I3", "I6", "J1"]),
        (dt.date(2026, 3, 3), ["I4"]),
        (dt.date(2026, 3, 31), ["I4", "I5"]),
    ]


def test_customer_rows_describe_the_customer_without_an_invoice(built):
    r = (
        built.execute(
            "select * from intermediate.int_risk_customer_rows where customer_id = 'C1' and scoring_date = ?", [AS_OF]
        )
        .df()
        .iloc[0]
    )
    assert r["prior_invoice_count"] == 6 and r["other_open_invoice_count"] == 2
    assert r["other_open_balance_reporting"] == pytest.approx(4500.0)
    assert r["usual_invoice_amount_reporting"] == pytest.approx(8800 / 6)
    assert r["credit_limit_use"] == pytest.approx(0.45)
    assert r["late_share"] == pytest.approx(2 / 3)


# --- leakage -------------------------------------------------------------------------------------

FEATURE_TABLES = ("int_risk_training_rows", "int_risk_scoring_rows", "int_risk_customer_rows")
OUTCOMES = ("settled_date", "written_off_date", "is_open_at_as_of")
FIRST_DAY, LAST_DAY = dt.date(2026, 1, 1), dt.date(2026, 3, 31)


def features_through(con: duckdb.DuckDBPyConnection, cutoff: dt.date) -> dict[str, pd.DataFrame]:
    """Every feature row scored on or before ``cutoff``, outcomes dropped, in a stable order."""
    out = {}
    for table in FEATURE_TABLES:
        frame = con.execute(f"select * from intermediate.{table} where scoring_date <= ?", [cutoff]).df()
        frame = frame.drop(columns=[c for c in OUTCOMES if c in frame])
        keys = [c for c in ("invoice_id", "customer_id", "scoring_date", "row_kind") if c in frame]
        out[table] = frame.sort_values(keys).reset_index(drop=True)
    return out


def day_after(cutoff: dt.date, offset: int) -> str:
    return (cutoff + dt.timedelta(days=1 + offset)).isoformat()


AMOUNTS = {r["document_id"]: r["amount"] for r in COMPANY["invoices"]}
#: Days on which something happens in COMPANY: cutoffs just before them are where a leak would show.
EVENT_DAYS = sorted(
    {
        dt.date.fromisoformat(str(day)[:10])
        for name, rows in COMPANY.items()
        for r in rows
        for key, day in r.items()
        if key.endswith(("_date", "_at")) and day
    }
)


@st.composite
def cutoffs(draw) -> dt.date:
    """A scoring day, half the time one to three days before an event of the company."""
    if draw(st.booleans()):
        return draw(st.dates(min_value=FIRST_DAY, max_value=LAST_DAY))
    day = draw(st.sampled_from([d for d in EVENT_DAYS if FIRST_DAY < d <= LAST_DAY]))
    return day - dt.timedelta(days=draw(st.integers(min_value=1, max_value=3)))


#: The day each invoice of COMPANY stops being open (None: still open on the as-of date).
CLOSED_ON = {
    "I6": "2026-02-15",
    "I1": "2026-02-05",
    "I2": "2026-03-01",
    "I3": "2026-03-03",
    "J1": "2026-02-10",
    "I4": None,
    "I5": None,
}
KINDS = ("payment", "write_off", "dispute", "promise", "activity", "invoice", "fx")


def open_on(day: dt.date) -> list[str]:
    issued = {r["document_id"]: dt.date.fromisoformat(r["document_date"]) for r in COMPANY["invoices"]}
    return [
        doc
        for doc, closed in sorted(CLOSED_ON.items())
        if issued[doc] <= day and (closed is None or dt.date.fromisoformat(closed) > day)
    ]


def later_event(draw, kind: str, n: int, cutoff: dt.date, docs: list[str]) -> tuple[str, dict]:
    """One event of ``kind`` dated after ``cutoff`` (mostly within days of it) on one of ``docs``."""
    offset = draw(
        st.one_of(
            st.integers(min_value=0, max_value=3), st.integers(min_value=0, max_value=(LAST_DAY - cutoff).days + 30)
        )
    )
    day, doc = day_after(cutoff, offset), draw(st.sampled_from(docs))
    value = AMOUNTS[doc] if draw(st.booleans()) else draw(st.decimals(min_value=1, max_value=4000, places=2))
    customer = "C2" if doc == "J1" else "C1"
    later = day_after(dt.date.fromisoformat(day), draw(st.integers(min_value=0, max_value=40)))
    return kind, {
        "payment": {
            "payment_id": f"X{n}",
            "customer_id": customer,
            "payment_date": day,
            "currency": "USD",
            "amount": value,
            "document_id": doc,
        },
        "write_off": {"document_id": doc, "amount": value, "write_off_date": day},
        "dispute": {"dispute_id": f"XD{n}", "document_id": doc, "opened_at": f"{day} 08:00:00"},
        "promise": {
            "promise_id": f"XP{n}",
            "customer_id": customer,
            "document_id": doc,
            "promised_date": later,
            "promised_amount": value,
            "created_at": f"{day} 08:00:00",
            "status": "open",
        },
        "activity": {
            "activity_id": f"XA{n}",
            "customer_id": customer,
            "document_id": doc,
            "activity_date": day,
            "kind": draw(st.sampled_from(["call", "email", "note"])),
        },
        "invoice": {
            "document_id": f"XI{n}",
            "customer_id": customer,
            "document_type": "invoice",
            "document_date": day,
            "due_date": later,
            "currency": "USD",
            "amount": value,
        },
        "fx": {"rate_date": day, "currency": "EUR", "rate_to_reporting": D("1.1")},
    }[kind]


@st.composite
def later_events(draw, cutoff: dt.date) -> Rows:
    """One event of every kind dated after ``cutoff`` on an invoice open then (a leak can only show
    on a row that exists), plus up to four more on any invoice: payments (half of them settling
    the invoice in full), write-offs, disputes, promises, activities, new invoices, FX rates."""
    still_open = open_on(cutoff) or sorted(AMOUNTS)
    events = [later_event(draw, kind, n, cutoff, still_open) for n, kind in enumerate(KINDS)]
    for n in range(len(KINDS), len(KINDS) + draw(st.integers(min_value=0, max_value=4))):
        events.append(later_event(draw, draw(st.sampled_from(KINDS)), n, cutoff, sorted(AMOUNTS)))
    extra: Rows = {}
    for kind, event in events:
        if kind == "payment":
            doc = event.pop("document_id")
            extra.setdefault("payments", []).append(event)
            extra.setdefault("payment_applications", []).append(
                {
                    "payment_id": event["payment_id"],
                    "document_id": doc,
                    "applied_amount": event["amount"],
                    "applied_date": event["payment_date"],
                }
            )
        else:
            table = {
                "write_off": "write_offs",
                "dispute": "disputes",
                "promise": "promises",
                "activity": "activities",
                "invoice": "invoices",
                "fx": "fx_rates",
            }[kind]
            extra.setdefault(table, []).append(event)
    return extra


def changed_later_events(rows: Rows, cutoff: dt.date, shift: int) -> Rows:
    """The company with every payment, write-off and dispute resolution dated after ``cutoff`` moved
    ``shift`` days later: changing existing later events, not only adding new ones."""

    def later(day: str) -> bool:
        return dt.date.fromisoformat(day[:10]) > cutoff

    def moved(day: str) -> str:
        return (dt.date.fromisoformat(day[:10]) + dt.timedelta(days=shift)).isoformat() + day[10:]

    out = {name: [dict(r) for r in entity_rows] for name, entity_rows in rows.items()}
    for r in out["payments"]:
        r["payment_date"] = moved(r["payment_date"]) if later(r["payment_date"]) else r["payment_date"]
    for r in out["payment_applications"]:
        r["applied_date"] = moved(r["applied_date"]) if later(r["applied_date"]) else r["applied_date"]
    for r in out["write_offs"]:
        r["write_off_date"] = moved(r["write_off_date"]) if later(r["write_off_date"]) else r["write_off_date"]
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_nothing_after_the_scoring_day_changes_a_feature(daily_models, daily_built, data):
    """Add events dated after a scoring day and move the existing later ones: every feature row
    scored on or before that day stays identical."""
    cutoff = data.draw(cutoffs(), label="cutoff")
    shift = data.draw(st.integers(min_value=1, max_value=20), label="shift")
    extra = data.draw(later_events(cutoff), label="later events")
    changed = changed_later_events(COMPANY, cutoff, shift)
    for name, rows in extra.items():
        changed.setdefault(name, []).extend(rows)
    other = build_company(daily_models, changed)
    try:
        before, after = features_through(daily_built, cutoff), features_through(other, cutoff)
        for table in FEATURE_TABLES:
            pd.testing.assert_frame_equal(
                before[table], after[table], check_exact=False, rtol=1e-9, obj=f"{table} through {cutoff}"
            )
    finally:
        other.close()


def test_a_later_payment_does_change_later_rows(models):
    """Guard for the property above: the same kind of change is visible from the day it happens."""
    extra = {
        "payments": [
            {
                "payment_id": "X",
                "customer_id": "C1",
                "payment_date": "2026-03-30",
                "currency": "USD",
                "amount": D("3000.00"),
            }
        ],
        "payment_applications": [
            {"payment_id": "X", "document_id": "I4", "applied_amount": D("3000.00"), "applied_date": "2026-03-30"}
        ],
    }
    base = build_company(models, COMPANY)
    changed = {name: list(rows) for name, rows in COMPANY.items()}
    for name, rows in extra.items():
        changed[name] = changed[name] + rows
    other = build_company(models, changed)
    try:
        assert row(base, "int_risk_scoring_rows", "I5", AS_OF)["paid_invoice_count"] == 3
        assert row(other, "int_risk_scoring_rows", "I5", AS_OF)["paid_invoice_count"] == 4
        assert (
            other.execute("select count(*) from intermediate.int_risk_scoring_rows where invoice_id = 'I4'").fetchone()[
                0
            ]
            == 0
        )
        assert features_through(base, dt.date(2026, 3, 29))["int_risk_training_rows"].equals(
            features_through(other, dt.date(2026, 3, 29))["int_risk_training_rows"]
        )
    finally:
        base.close()
        other.close()


def test_training_rows_are_a_sample_of_whole_invoices_when_there_are_many(tmp_path_factory, built):
    """With risk_training_invoices below the invoice count, only a stable sample of invoices gets
    training rows, each with exactly the features it has without sampling; every open invoice is
    still scored today."""
    sampled_models = compile_models(
        tmp_path_factory.mktemp("risk-dbt-sampled"), {"as_of_date": AS_OF, "risk_training_invoices": 3}
    )
    con = build_company(sampled_models, COMPANY)
    try:
        issue = con.execute("select invoice_id from intermediate.int_risk_training_rows where row_kind = 'issue'").df()
        assert 0 < len(issue) < len(COMPANY["invoices"])
        past = con.execute(
            "select distinct invoice_id from intermediate.int_risk_training_rows "
            "where row_kind = 'snapshot' and scoring_date < ?",
            [AS_OF],
        ).df()
        assert set(past["invoice_id"]) <= set(issue["invoice_id"])
        scoring = con.execute("select invoice_id from intermediate.int_risk_scoring_rows order by 1").df()
        assert list(scoring["invoice_id"]) == ["I4", "I5"]
        kept = features_through(con, LAST_DAY)["int_risk_training_rows"]
        everything = features_through(built, LAST_DAY)["int_risk_training_rows"]
        same = everything.merge(kept[["invoice_id", "scoring_date", "row_kind"]])
        pd.testing.assert_frame_equal(same.reset_index(drop=True), kept.reset_index(drop=True))
    finally:
        con.close()
