"""The dbt fact layer on a small company whose every figure is computed by hand.

The company lands straight into typed raw tables (the landing layer's output shape, lineage
columns included), so these tests exercise dbt alone: exact balances as of a date, the proof
that an earlier as-of date gives exactly the earlier answer whatever landed later, incremental
aging history equal to a full refresh after a back-dated payment lands, and the run refusing
bad configuration and bad data.
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from expectations.contracts import ENTITIES, LINEAGE_COLUMNS
from orchestration.warehouse import ensure_entity_view, ensure_schemas
from tests.dbt_cli import DbtRun, dbt

AS_OF = "2026-03-31"
LATER_AS_OF = "2026-04-10"
HISTORY_DAYS = 60
FIRST_LOAD = dt.datetime(2026, 4, 1, 6, 0)
LATE_LOAD = dt.datetime(2026, 4, 15, 6, 0)
#: The scenario builds skip the KPI models (another suite owns them) and the dbt unit tests
#: (test_builds_on_empty_landing runs the whole project, unit tests included).
FACT_LAYER = ["--exclude", "path:models/marts/kpis", "--exclude-resource-type", "unit_test"]
#: Run only tests whose every parent is selected (a narrowed build must not test unbuilt views).
ONLY_SELECTED = ["--indirect-selection", "cautious"]
MARTS = (
    "fct_ar_invoices",
    "fct_payments",
    "customer_credit_balances",
    "dim_customers",
    "fct_ar_aging_daily",
    "fct_disputes",
    "collection_stages",
    "collection_stage_history",
    "payment_behavior",
)
#: Intermediate models whose every column must also be as of the date (promise outcomes, P5).
AS_OF_INTERMEDIATE = ("int_promise_outcomes", "int_customer_promise_record", "int_collection_stage_entries")

D = Decimal
Rows = dict[str, list[dict[str, Any]]]

#: Rows dated on or before AS_OF. Hand-computed results are in the tests below.
COMPANY: Rows = {
    "customers": [
        {"customer_id": "C1", "name": "Acme", "currency": "USD", "payment_terms": "NET30"},
        {"customer_id": "C2", "name": "Beta GmbH", "currency": "EUR", "payment_terms": "NET30"},
        {"customer_id": "C3", "name": "Gamma", "currency": "USD", "erp_parent_id": "C4"},
        {"customer_id": "C4", "name": "Delta", "currency": "USD", "erp_parent_id": "C3"},
        {"customer_id": "C5", "name": "Epsilon", "currency": "USD", "erp_parent_id": "C2"},
    ],
    "crm_accounts": [
        {
            "account_id": "A1",
            "customer_id": "C1",
            "owner": "Olivia",
            "collector": "Carl",
            "segment": "Enterprise",
            "region": "NA",
        },
        {
            "account_id": "A2",
            "customer_id": "C2",
            "parent_account_id": "A1",
            "owner": "Olivia",
            "collector": "Dana",
            "segment": "Mid-Market",
            "region": "EMEA",
        },
    ],
    "crm_contacts": [
        {"contact_id": "K1", "account_id": "A1", "name": "Ann Payable", "email": "ap@acme.test", "role": "billing"},
        {"contact_id": "K2", "account_id": "A2", "name": "Bob Buyer", "email": "bob@beta.test", "role": "buyer"},
        {
            "contact_id": "K3",
            "account_id": "A2",
            "name": "Bea Billing",
            "email": "billing@beta.test",
            "role": "billing",
        },
    ],
    "fx_rates": [
        {"rate_date": "2026-01-02", "currency": "EUR", "rate_to_reporting": D("1.10")},
        {"rate_date": "2026-02-13", "currency": "EUR", "rate_to_reporting": D("1.20")},
        {"rate_date": "2026-03-27", "currency": "EUR", "rate_to_reporting": D("1.05")},
    ],
    "invoices": [
        {
            "document_id": "I1",
            "customer_id": "C1",
            "document_type": "invoice",
            "document_date": "2026-01-10",
            "due_date": "2026-02-09",
            "currency": "USD",
            "amount": D("1000.00"),
            "tax_amount": D("100.00"),
            "external_open_amount": D("600.00"),
        },
        {
            "document_id": "I2",
            "customer_id": "C1",
            "document_type": "invoice",
            "document_date": "2026-02-01",
            "due_date": "2026-03-03",
            "currency": "USD",
            "amount": D("300.00"),
        },
        {
            "document_id": "I3",
            "customer_id": "C1",
            "document_type": "invoice",
            "document_date": "2026-02-10",
            "currency": "USD",
            "amount": D("400.00"),
        },
        {
            "document_id": "I4",
            "customer_id": "C2",
            "document_type": "invoice",
            "document_date": "2026-02-15",
            "due_date": "2026-03-17",
            "currency": "EUR",
            "amount": D("1000.00"),
        },
        {
            "document_id": "CM1",
            "customer_id": "C2",
            "document_type": "credit_memo",
            "document_date": "2026-03-05",
            "currency": "EUR",
            "amount": D("-200.00"),
        },
        {
            "document_id": "I5",
            "customer_id": "C5",
            "document_type": "invoice",
            "document_date": "2026-03-25",
            "due_date": "2026-04-24",
            "currency": "USD",
            "amount": D("200.00"),
        },
        {
            "document_id": "I6",
            "customer_id": "C3",
            "document_type": "invoice",
            "document_date": "2025-12-01",
            "due_date": "2025-12-31",
            "currency": "USD",
            "amount": D("500.00"),
        },
        {
            "document_id": "I7",
            "customer_id": "C5",
            "document_type": "invoice",
            "document_date": "2026-03-01",
            "due_date": "2026-03-31",
            "currency": "USD",
            "amount": D("100.00"),
        },
        {
            "document_id": "DM1",
            "customer_id": "C1",
            "document_type": "debit_memo",
            "document_date": "2026-03-10",
            "due_date": "2026-03-20",
            "currency": "USD",
            "amount": D("50.00"),
        },
    ],
    "payments": [
        {
            "payment_id": "P1",
            "customer_id": "C1",
            "payment_date": "2026-02-01",
            "currency": "USD",
            "amount": D("400.00"),
        },
        {
            "payment_id": "P3",
            "customer_id": "C1",
            "payment_date": "2026-03-01",
            "currency": "USD",
            "amount": D("500.00"),
        },
        {
            "payment_id": "P4",
            "customer_id": "C5",
            "payment_date": "2026-03-10",
            "currency": "USD",
            "amount": D("120.00"),
        },
        {"payment_id": "P5", "payment_date": "2026-03-20", "currency": "USD", "amount": D("75.00")},
        {"payment_id": "P6", "payment_date": "2026-03-28", "currency": "USD", "amount": D("50.00")},
    ],
    "payment_applications": [
        {"payment_id": "P1", "document_id": "I1", "applied_amount": D("400.00"), "applied_date": "2026-02-01"},
        {"payment_id": "P3", "document_id": "I2", "applied_amount": D("300.00"), "applied_date": "2026-03-01"},
        {"payment_id": "P3", "document_id": "I3", "applied_amount": D("150.00"), "applied_date": "2026-03-01"},
        {"payment_id": "CM1", "document_id": "I4", "applied_amount": D("150.00"), "applied_date": "2026-03-06"},
        {"payment_id": "P4", "document_id": "I7", "applied_amount": D("120.00"), "applied_date": "2026-03-10"},
        {"payment_id": "P6", "document_id": "I5", "applied_amount": D("50.00"), "applied_date": "2026-03-28"},
    ],
    "write_offs": [{"document_id": "I6", "amount": D("500.00"), "write_off_date": "2026-03-15"}],
    "disputes": [
        {
            "dispute_id": "DS2",
            "document_id": "I4",
            "opened_at": "2026-02-20 09:00:00",
            "amount": D("1000.00"),
            "resolved_at": "2026-03-10 12:00:00",
            "resolution": "credit_issued",
        },
    ],
    "promises": [
        # I1: nothing paid between Mar 1 and the evaluation day Mar 23 (P2 comes Apr 5): broken.
        {
            "promise_id": "PR1",
            "customer_id": "C1",
            "document_id": "I1",
            "promised_date": "2026-03-20",
            "promised_amount": D("600.00"),
            "created_at": "2026-03-01 09:00:00",
            "status": "open",
        },
        # I5: due Apr 5 with grace: pending on Mar 31.
        {
            "promise_id": "PR2",
            "customer_id": "C5",
            "document_id": "I5",
            "promised_date": "2026-04-02",
            "promised_amount": D("150.00"),
            "created_at": "2026-03-25 09:00:00",
            "status": "open",
        },
        # I3: 150 of 300 paid on Mar 1 (evaluation Mar 3): partially kept.
        {
            "promise_id": "PR4",
            "customer_id": "C1",
            "document_id": "I3",
            "promised_date": "2026-02-28",
            "promised_amount": D("300.00"),
            "created_at": "2026-02-25 09:00:00",
            "status": "open",
        },
    ],
    "activities": [
        {
            "activity_id": "A1",
            "customer_id": "C1",
            "document_id": "I1",
            "activity_date": "2026-03-05",
            "kind": "stage_change",
            "text": "Escalated to collections level 2: I1",
        },
    ],
}

#: The workflow's dispute DS1 as its export shows it on AS_OF (open) and later (resolved Apr 5):
#: the workflow tables are snapshots, so a later load restates the row.
DS1_ON_AS_OF = {"dispute_id": "DS1", "document_id": "I1", "opened_at": "2026-03-01 10:00:00"}
DS1_LATER = {**DS1_ON_AS_OF, "resolved_at": "2026-04-05 12:00:00", "resolution": "credit_issued"}

#: Rows dated after AS_OF, landed in the same load: a build as of AS_OF must not see them.
AFTER_AS_OF: Rows = {
    "fx_rates": [{"rate_date": "2026-04-10", "currency": "EUR", "rate_to_reporting": D("1.50")}],
    "invoices": [
        {
            "document_id": "I8",
            "customer_id": "C1",
            "document_type": "invoice",
            "document_date": "2026-04-02",
            "due_date": "2026-05-02",
            "currency": "USD",
            "amount": D("999.00"),
        },
    ],
    "payments": [
        {
            "payment_id": "P2",
            "customer_id": "C1",
            "payment_date": "2026-04-05",
            "currency": "USD",
            "amount": D("600.00"),
        },
    ],
    "payment_applications": [
        {"payment_id": "P2", "document_id": "I1", "applied_amount": D("600.00"), "applied_date": "2026-04-05"},
    ],
    "write_offs": [{"document_id": "I3", "amount": D("250.00"), "write_off_date": "2026-04-06"}],
    "disputes": [
        DS1_LATER,
        {"dispute_id": "DS3", "document_id": "I4", "opened_at": "2026-04-02 09:00:00", "amount": D("10.00")},
    ],
    "promises": [
        {
            "promise_id": "PR3",
            "customer_id": "C1",
            "document_id": "I8",
            "promised_date": "2026-04-20",
            "promised_amount": D("999.00"),
            "created_at": "2026-04-03 09:00:00",
            "status": "open",
        },
    ],
    "activities": [
        {
            "activity_id": "A2",
            "customer_id": "C2",
            "document_id": "I4",
            "activity_date": "2026-04-02",
            "kind": "stage_change",
            "text": "Final demand issued for I4",
        },
        {
            "activity_id": "A3",
            "customer_id": "C1",
            "document_id": None,
            "activity_date": "2026-04-01",
            "kind": "stage_change",
            "text": "Final demand issued for the account",
        },
    ],
}

#: A payment that arrives late but back-dated: landed after the first build, dated 2026-03-20.
BACKDATED: Rows = {
    "payments": [
        {
            "payment_id": "P7",
            "customer_id": "C1",
            "payment_date": "2026-03-20",
            "currency": "USD",
            "amount": D("100.00"),
        },
    ],
    "payment_applications": [
        {"payment_id": "P7", "document_id": "I1", "applied_amount": D("100.00"), "applied_date": "2026-03-20"},
    ],
}


def new_warehouse(path: Path) -> Path:
    """An empty landing: schemas, and one raw table plus its entity view for every entity."""
    con = duckdb.connect(str(path))
    try:
        ensure_schemas(con)
        for name in ENTITIES:
            ensure_entity_view(con, name, [f"fixture__{name}"])
    finally:
        con.close()
    return path


def land(path: Path, rows: Rows, loaded_at: dt.datetime, status: str = "accepted") -> None:
    """Insert rows as the landing layer would: contract columns in order, then lineage."""
    con = duckdb.connect(str(path))
    try:
        for name, entity_rows in rows.items():
            columns = ENTITIES[name].column_names
            placeholders = ", ".join("?" * (len(columns) + len(LINEAGE_COLUMNS)))
            for number, row in enumerate(entity_rows, start=1):
                unknown = set(row) - set(columns)
                assert not unknown, f"{name}: not contract columns: {unknown}"
                lineage = [
                    "fixture",
                    f"fixture__{name}",
                    f"{name}.csv",
                    loaded_at.isoformat(),
                    number,
                    loaded_at,
                    status,
                    None,
                ]
                con.execute(
                    f"insert into raw.fixture__{name} values ({placeholders})", [row.get(c) for c in columns] + lineage
                )
    finally:
        con.close()


def build(path: Path, work: Path, as_of: str, *extra: str) -> DbtRun:
    run = dbt(path, work, ["build", *FACT_LAYER, *extra], {"as_of_date": as_of, "aging_history_days": HISTORY_DAYS})
    assert run.returncode == 0, run.output[-4000:]
    return run


def query(path: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def by_key(path: Path, table: str, columns: str) -> dict[Any, tuple[Any, ...]]:
    """Rows of a mart keyed by their first column."""
    return {row[0]: row[1:] for row in query(path, f"select {columns} from marts.{table}")}


def table_contents(path: Path, table: str, where: str = "true", schema: str = "marts") -> list[tuple[Any, ...]]:
    return sorted(query(path, f"select * from {schema}.{table} where {where}"), key=repr)


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The company with rows dated after AS_OF landed too, built as of AS_OF."""
    root = tmp_path_factory.mktemp("company")
    path = new_warehouse(root / "warehouse.duckdb")
    land(path, COMPANY, FIRST_LOAD)
    land(path, AFTER_AS_OF, FIRST_LOAD)
    build(path, root / "dbt", AS_OF)
    return path


def test_builds_on_empty_landing(tmp_path: Path) -> None:
    """The whole project, unit tests included, builds with zero errors when nothing has landed."""
    path = new_warehouse(tmp_path / "warehouse.duckdb")
    run = dbt(path, tmp_path / "dbt", ["build"], {"as_of_date": AS_OF})
    assert run.returncode == 0, run.output[-4000:]
    assert "ERROR=0" in run.output
    for mart in MARTS:
        assert query(path, f"select count(*) from marts.{mart}") == [(0,)]


def test_invoice_balances_as_of(company: Path) -> None:
    rows = by_key(
        company,
        "fct_ar_invoices",
        "invoice_id, open_amount, paid_amount, credited_amount, written_off_amount, aging_bucket, "
        "days_past_due, closed_date, days_to_pay, is_disputed",
    )
    closed = dt.date.fromisoformat
    assert rows == {
        "I1": (D("600.00"), D("400.00"), D("0.00"), D("0.00"), "31-60", 50, None, None, True),
        "I2": (D("0.00"), D("300.00"), D("0.00"), D("0.00"), "closed", None, closed("2026-03-01"), 28, False),
        "I3": (D("250.00"), D("150.00"), D("0.00"), D("0.00"), "1-30", 19, None, None, False),
        "I4": (D("850.00"), D("0.00"), D("150.00"), D("0.00"), "1-30", 14, None, None, False),
        "I5": (D("150.00"), D("50.00"), D("0.00"), D("0.00"), "current", 0, None, None, False),
        "I6": (D("0.00"), D("0.00"), D("0.00"), D("500.00"), "closed", None, closed("2026-03-15"), 104, False),
        "I7": (D("0.00"), D("120.00"), D("0.00"), D("0.00"), "closed", None, closed("2026-03-10"), 9, False),
        "DM1": (D("50.00"), D("0.00"), D("0.00"), D("0.00"), "1-30", 11, None, None, False),
    }


def test_missing_due_date_is_imputed_and_flagged(company: Path) -> None:
    rows = by_key(company, "fct_ar_invoices", "invoice_id, due_date, due_date_is_imputed")
    assert rows["I3"] == (dt.date(2026, 3, 12), True)
    assert rows["I1"] == (dt.date(2026, 2, 9), False)


def test_reporting_amounts_state_their_rate_date(company: Path) -> None:
    """I4: 1,000 EUR billed at 1.20 (rate of 02-13 carried to 02-15); 850 open at 1.05 on 03-31."""
    rows = by_key(
        company,
        "fct_ar_invoices",
        "invoice_id, fx_rate_invoice_date, amount_reporting, fx_rate_as_of, open_amount_reporting",
    )
    assert rows["I4"] == (D("1.20"), D("1200.00"), D("1.05"), D("892.50"))
    assert rows["I1"] == (D("1"), D("1000.00"), D("1"), D("600.00"))


def test_payments_applied_and_unapplied(company: Path) -> None:
    rows = by_key(company, "fct_payments", "payment_id, customer_id, applied_amount, unapplied_amount")
    assert rows == {
        "P1": ("C1", D("400.00"), D("0.00")),
        "P3": ("C1", D("450.00"), D("50.00")),
        "P4": ("C5", D("120.00"), D("0.00")),
        "P5": (None, D("0.00"), D("75.00")),
        "P6": ("C5", D("50.00"), D("0.00")),
    }


def test_credits_are_kept_per_customer(company: Path) -> None:
    """Unapplied cash, an unapplied credit memo and an over-application stay visible as credit."""
    rows = query(
        company,
        "select customer_id, currency, unapplied_cash_amount, unapplied_credit_memo_amount, "
        "overapplied_invoice_amount, credit_balance_reporting from marts.customer_credit_balances",
    )
    assert sorted(rows, key=repr) == sorted(
        [
            ("C1", "USD", D("50.00"), D("0.00"), D("0.00"), D("50.00")),
            ("C2", "EUR", D("0.00"), D("50.00"), D("0.00"), D("52.50")),
            ("C5", "USD", D("0.00"), D("0.00"), D("20.00"), D("20.00")),
            (None, "USD", D("75.00"), D("0.00"), D("0.00"), D("75.00")),
        ],
        key=repr,
    )


def test_customer_hierarchy_rolls_up_and_cannot_loop(company: Path) -> None:
    rows = by_key(
        company,
        "dim_customers",
        "customer_id, parent_customer_id, ultimate_parent_customer_id, hierarchy_depth, "
        "hierarchy_has_cycle, collector, billing_contact_name",
    )
    assert rows == {
        "C1": (None, "C1", 0, False, "Carl", "Ann Payable"),
        "C2": ("C1", "C1", 1, False, "Dana", "Bea Billing"),
        "C5": ("C2", "C1", 2, False, None, None),
        "C3": ("C4", "C3", 0, True, None, None),
        "C4": ("C3", "C4", 0, True, None, None),
    }


def test_aging_snapshot_of_as_of_day(company: Path) -> None:
    rows = query(
        company,
        f"select customer_id, currency, aging_bucket, open_amount, invoice_count, "
        f"due_date_missing_count from marts.fct_ar_aging_daily where snapshot_date = '{AS_OF}'",
    )
    assert sorted(rows) == sorted(
        [
            ("C1", "USD", "31-60", D("600.00"), 1, 0),
            ("C1", "USD", "1-30", D("300.00"), 2, 1),
            ("C2", "EUR", "1-30", D("850.00"), 1, 0),
            ("C5", "USD", "current", D("150.00"), 1, 0),
        ]
    )
    days = query(
        company,
        "select min(snapshot_date), max(snapshot_date), count(distinct snapshot_date) from marts.fct_ar_aging_daily",
    )
    assert days == [(dt.date(2026, 3, 31) - dt.timedelta(days=HISTORY_DAYS - 1), dt.date(2026, 3, 31), HISTORY_DAYS)]


def test_earlier_as_of_gives_exactly_the_earlier_answer(company: Path, tmp_path: Path) -> None:
    """Built as of AS_OF, a company that already holds later payments, invoices, write-offs,
    rates, promises, stage changes, a dispute and a dispute's resolution equals the same company
    before any of them existed, mart for mart, row for row (the collections workflow state too:
    promise outcomes, dispute aging, collection stages and their history)."""
    before = new_warehouse(tmp_path / "before.duckdb")
    land(before, COMPANY, FIRST_LOAD)
    land(before, {"disputes": [DS1_ON_AS_OF]}, FIRST_LOAD)
    build(before, tmp_path / "dbt", AS_OF)
    for mart in MARTS:
        assert table_contents(company, mart) == table_contents(before, mart), mart
    for model in AS_OF_INTERMEDIATE:
        assert table_contents(company, model, schema="intermediate") == table_contents(
            before, model, schema="intermediate"
        ), model
    # the later events are in the warehouse: the comparison is not vacuous
    assert (
        query(company, "select count(*) from staging.stg_landing__activities where activity_date > '2026-03-31'")[0][0]
        == 2
    )
    assert query(
        company, "select resolved_at is not null from staging.stg_landing__disputes where dispute_id = 'DS1'"
    ) == [(True,)]


def test_promise_outcomes_disputes_and_stages_as_of(company: Path) -> None:
    """By hand, as of Mar 31 (grace 3 days; stages reminder +3, call +21, escalation +45, final
    demand +90). Promises: PR1 broken (nothing paid by Mar 23; the Apr 5 payment is later), PR2
    pending (evaluation Apr 5; 50 of 150 paid Mar 28 so far), PR4 partially kept (150 of 300).
    Disputes: DS1 open 30 days (its Apr 5 resolution not yet known; the whole 1,000 USD of I1), DS2
    resolved after 18 days (1,000 EUR at 1.05 = 1,050.00); DS3 (Apr 2) not there. Stages: I1 due
    Feb 9 was escalated by the workflow on Mar 5 (its schedule said Mar 26); I3 (imputed due Mar
    12), I4 (due Mar 17) and DM1 (due Mar 20) are at reminder; I6 went reminder Jan 3, call Jan 21,
    escalation Feb 14 and closed Mar 15 (written off), so C3 is back to current; the final demands
    of Apr 1-2 do not count."""
    outcomes = query(
        company, "select promise_id, outcome, paid_toward_promise from intermediate.int_promise_outcomes order by 1"
    )
    assert outcomes == [
        ("PR1", "broken", D("0.00")),
        ("PR2", "pending", D("50.00")),
        ("PR4", "partially_kept", D("150.00")),
    ]
    assert query(
        company,
        "select customer_id, judged_count, kept_rate, paid_share_judged from intermediate.int_customer_promise_record "
        "order by 1",
    ) == [("C1", 2, D("0.0000"), D("0.2500")), ("C5", 0, None, None)]

    disputes = by_key(
        company,
        "fct_disputes",
        "dispute_id, status, days_open, resolved_date, resolution, currency, disputed_amount, "
        "disputed_amount_source, disputed_amount_reporting",
    )
    assert disputes == {
        "DS1": ("open", 30, None, None, "USD", D("1000.00"), "document", D("1000.00")),
        "DS2": ("resolved", 18, dt.date(2026, 3, 10), "credit_issued", "EUR", D("1000.00"), "dispute", D("1050.00")),
    }

    day = dt.date.fromisoformat
    stages = query(
        company,
        "select entity_type, coalesce(invoice_id, customer_id), stage, stage_since, stage_source, next_stage "
        "from marts.collection_stages order by 1, 2",
    )
    assert stages == [
        ("customer", "C1", "escalation", day("2026-03-05"), "invoices", None),
        ("customer", "C2", "reminder", day("2026-03-20"), "invoices", None),
        ("customer", "C3", "current", day("2026-03-15"), "invoices", None),
        ("invoice", "DM1", "reminder", day("2026-03-23"), "schedule", "call"),
        ("invoice", "I1", "escalation", day("2026-03-05"), "workflow", "final_demand"),
        ("invoice", "I3", "reminder", day("2026-03-15"), "schedule", "call"),
        ("invoice", "I4", "reminder", day("2026-03-20"), "schedule", "call"),
    ]
    history = query(
        company,
        "select changed_on, stage, valid_until from marts.collection_stage_history "
        "where entity_type = 'customer' and entity_id = 'C3' order by 1",
    )
    assert history == [
        (day("2026-01-03"), "reminder", day("2026-01-21")),
        (day("2026-01-21"), "call", day("2026-02-14")),
        (day("2026-02-14"), "escalation", day("2026-03-15")),
        (day("2026-03-15"), "current", None),
    ]


def test_incremental_aging_equals_full_refresh_after_backdated_landing(company: Path, tmp_path: Path) -> None:
    """A payment dated 03-20 lands after the 03-31 build; the next run (as of 04-10) restates the
    history from 03-20, so the incremental table equals a full refresh on every shared day."""
    incremental = tmp_path / "incremental.duckdb"
    shutil.copy(company, incremental)
    land(incremental, BACKDATED, LATE_LOAD)
    full = tmp_path / "full.duckdb"
    shutil.copy(incremental, full)

    build(incremental, tmp_path / "dbt_incremental", LATER_AS_OF)
    build(full, tmp_path / "dbt_full", LATER_AS_OF, "--full-refresh")

    first_full_day = dt.date(2026, 4, 10) - dt.timedelta(days=HISTORY_DAYS - 1)
    shared = f"snapshot_date >= '{first_full_day}'"
    columns = "snapshot_date, customer_id, currency, aging_bucket, open_amount, invoice_count, due_date_missing_count"
    incremental_rows = sorted(query(incremental, f"select {columns} from marts.fct_ar_aging_daily where {shared}"))
    assert incremental_rows == sorted(query(full, f"select {columns} from marts.fct_ar_aging_daily where {shared}"))
    i1_bucket = (
        "select open_amount from marts.fct_ar_aging_daily where customer_id = 'C1' "
        "and aging_bucket = '31-60' and snapshot_date = '{day}'"
    )
    assert query(incremental, i1_bucket.format(day="2026-03-19")) == [(D("600.00"),)]
    assert query(incremental, i1_bucket.format(day="2026-03-20")) == [(D("500.00"),)]
    assert query(
        incremental,
        "select count(distinct snapshot_date) from marts.fct_ar_aging_daily where snapshot_date < '2026-03-20'",
    ) == [(HISTORY_DAYS - 12,)]


def redeliver(path: Path, document_id: str, loaded_at: dt.datetime, **changes: Any) -> None:
    """What landing does when a re-delivered file holds a new version of an invoice (decision L1):
    the new version is accepted, the old one kept as ``replaced``, both stamped with the load."""
    con = duckdb.connect(str(path))
    try:
        sets = ", ".join(
            [*(f"{column} = ?" for column in changes), "_loaded_at = ?", "_row_number = _row_number + 1000"]
        )
        con.execute(
            "create temp table new_version as select * from raw.fixture__invoices "
            "where document_id = ? and _status = 'accepted'",
            [document_id],
        )
        con.execute(f"update new_version set {sets}", [*changes.values(), loaded_at])  # noqa: S608 (test's own columns)
        con.execute(
            "update raw.fixture__invoices set _status = 'replaced', _loaded_at = ? "
            "where document_id = ? and _status = 'accepted'",
            [loaded_at, document_id],
        )
        con.execute("insert into raw.fixture__invoices select * from new_version")
    finally:
        con.close()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("changes", "first_restated"),
    [
        ({"status": "paid", "external_open_amount": D("0.00")}, dt.date(2026, 3, 31)),  # only the latest day
        ({"amount": D("1100.00")}, dt.date(2026, 2, 10)),  # I1 (2026-01-10) on: the whole new window
    ],
)
def test_a_new_version_restates_the_aging_only_when_it_moves_an_aging_column(
    company: Path, tmp_path: Path, changes: dict[str, Any], first_restated: dt.date
) -> None:
    """An invoice exported again with a new status and open amount (what moves when it is paid)
    restates no history; a new amount restates it from the document date. Either way the
    incremental table equals a full refresh on every shared day."""
    incremental = tmp_path / "incremental.duckdb"
    shutil.copy(company, incremental)
    redeliver(incremental, "I1", LATE_LOAD, **changes)
    full = tmp_path / "full.duckdb"
    shutil.copy(incremental, full)
    build(incremental, tmp_path / "dbt_incremental", LATER_AS_OF)
    build(full, tmp_path / "dbt_full", LATER_AS_OF, "--full-refresh")
    restated = query(
        incremental,
        "select min(snapshot_date) from marts.fct_ar_aging_daily where _inputs_loaded_through = "
        "(select max(_inputs_loaded_through) from marts.fct_ar_aging_daily)",
    )
    assert restated == [(first_restated,)]
    first_full_day = dt.date(2026, 4, 10) - dt.timedelta(days=HISTORY_DAYS - 1)
    columns = "snapshot_date, customer_id, currency, aging_bucket, open_amount, invoice_count, due_date_missing_count"
    shared = f"select {columns} from marts.fct_ar_aging_daily where snapshot_date >= '{first_full_day}' order by all"
    assert query(incremental, shared) == query(full, shared)


@pytest.mark.parametrize(
    ("run_vars", "message"),
    [
        ({"as_of_date": "31/03/2026"}, "expected an ISO date YYYY-MM-DD, got '31/03/2026'"),
        ({"aging_buckets": [60, 30]}, "aging_buckets must be strictly ascending positive integers"),
        ({"aging_buckets": []}, "aging_buckets must be a non-empty list"),
        ({"aging_basis": "posting_date"}, "aging_basis must be 'due_date' or 'invoice_date', got 'posting_date'"),
    ],
)
def test_bad_configuration_fails_naming_the_value(tmp_path: Path, run_vars: dict[str, Any], message: str) -> None:
    """Refused when dbt parses the project, i.e. when Dagster loads its definitions."""
    run = dbt(tmp_path / "warehouse.duckdb", tmp_path / "dbt", ["parse"], {"as_of_date": AS_OF, **run_vars})
    assert run.returncode != 0
    assert message in run.output


def test_duplicated_document_key_fails_the_build(tmp_path: Path) -> None:
    """Two accepted rows with one document_id (landing guarantees otherwise) fail an
    error-severity key test: the run fails and nothing downstream of the key is built."""
    path = new_warehouse(tmp_path / "warehouse.duckdb")
    invoice = COMPANY["invoices"][0]
    land(path, {"invoices": [invoice, {**invoice, "amount": D("90.00")}]}, FIRST_LOAD)
    run = dbt(
        path,
        tmp_path / "dbt",
        ["build", "--select", "stg_landing__invoices+", *ONLY_SELECTED, *FACT_LAYER],
        {"as_of_date": AS_OF},
    )
    assert run.returncode != 0
    assert "FAIL 1 unique_stg_landing__invoices_document_id" in run.output
    assert query(
        path,
        "select count(*) from information_schema.tables "
        "where table_schema = 'marts' and table_name = 'fct_ar_invoices'",
    ) == [(0,)]


@pytest.mark.parametrize(("applied", "fails"), [(D("400.02"), True), (D("400.01"), False)])
def test_payment_applied_beyond_its_amount_fails_the_build(tmp_path: Path, applied: Decimal, fails: bool) -> None:
    """400.00 received but more applied: cash that never arrived would count as collected. The
    documented tolerance is 0.01 (split-application rounding), so 400.01 still passes."""
    path = new_warehouse(tmp_path / "warehouse.duckdb")
    land(
        path,
        {
            "invoices": [COMPANY["invoices"][0]],
            "payments": [COMPANY["payments"][0]],
            "payment_applications": [
                {"payment_id": "P1", "document_id": "I1", "applied_amount": applied, "applied_date": "2026-02-01"},
            ],
        },
        FIRST_LOAD,
    )
    run = dbt(
        path,
        tmp_path / "dbt",
        ["build", "--select", "+assert_payments_not_overapplied", *ONLY_SELECTED, *FACT_LAYER],
        {"as_of_date": AS_OF},
    )
    assert (run.returncode != 0) == fails, run.output[-3000:]
    assert ("FAIL 1 assert_payments_not_overapplied" in run.output) == fails


#: I1 of the company (1,000.00) paid 400.00: Inflow's open amount is 600.00.
I1_PAID_400: Rows = {
    "payments": [COMPANY["payments"][0]],
    "payment_applications": [
        {"payment_id": "P1", "document_id": "I1", "applied_amount": D("400.00"), "applied_date": "2026-02-01"}
    ],
}
#: ... and the rest of it paid on 2026-04-05, after AS_OF: the ERP's balance may show it, Inflow's does not.
I1_PAID_LATER: Rows = {
    "payments": [*I1_PAID_400["payments"], *AFTER_AS_OF["payments"]],
    "payment_applications": [*I1_PAID_400["payment_applications"], *AFTER_AS_OF["payment_applications"]],
}


@pytest.mark.parametrize(
    ("erp_open", "landed", "fails"),
    [
        (D("603.00"), I1_PAID_400, False),  # 3.00 off: 0.4975 % of 603.00, within 0.5 %
        (D("603.02"), I1_PAID_400, True),  # 3.02 off: 0.5008 %
        (D("603.02"), I1_PAID_LATER, False),  # a rebuild of an earlier day: paid in full since
    ],
)
def test_open_ar_far_from_the_erps_own_balance_fails_the_build(
    tmp_path: Path, erp_open: Decimal, landed: Rows, fails: bool
) -> None:
    """D10: per currency, the customers' differences from the ERP's exported open balance may add
    up to 0.5 % of it; beyond, the build fails (publish never runs). An invoice with an application
    dated after the as-of date is not compared (only the per-customer warning). The trial's case,
    invoices exported with no payments mapped, is the failing one by more: 1,000.00 open against
    the ERP's 600.00."""
    path = new_warehouse(tmp_path / "warehouse.duckdb")
    invoice = {**COMPANY["invoices"][0], "external_open_amount": erp_open}
    land(path, {**landed, "invoices": [invoice, *landed.get("invoices", [])]}, FIRST_LOAD)
    run = dbt(
        path,
        tmp_path / "dbt",
        ["build", "--select", "+assert_open_ar_ties_to_erp_within_tolerance", *ONLY_SELECTED, *FACT_LAYER],
        {"as_of_date": AS_OF},
    )
    assert (run.returncode != 0) == fails, run.output[-3000:]
    assert ("FAIL 1 assert_open_ar_ties_to_erp_within_tolerance" in run.output) == fails, run.output[-3000:]


@pytest.mark.parametrize("customers_landed", [True, False])
def test_documents_are_looked_up_in_the_customer_master_only_when_one_lands(
    tmp_path: Path, customers_landed: bool
) -> None:
    """An invoice whose customer the master lacks is a warning; with no customer master at all
    every customer is derived from the documents, and a warning per document would be noise."""
    path = new_warehouse(tmp_path / "warehouse.duckdb")
    land(path, {"invoices": [COMPANY["invoices"][0]], "customers": COMPANY["customers"][1:2]}, FIRST_LOAD)
    run = dbt(
        path,
        tmp_path / "dbt",
        ["build", "--select", "stg_landing__invoices stg_landing__customers", *ONLY_SELECTED, *FACT_LAYER],
        {"as_of_date": AS_OF, "customers_landed": customers_landed},
    )
    assert run.returncode == 0, run.output[-3000:]
    warned = "WARN 1 relationships_stg_landing__invoices_customer_id__customer_id__ref_stg_landing__customers_"
    assert (warned in run.output) == customers_landed, run.output[-3000:]


def test_quarantined_rows_never_reach_the_marts(tmp_path: Path) -> None:
    path = new_warehouse(tmp_path / "warehouse.duckdb")
    land(path, {"customers": COMPANY["customers"]}, FIRST_LOAD)
    land(path, {"invoices": COMPANY["invoices"][:1]}, FIRST_LOAD, status="quarantined")
    build(path, tmp_path / "dbt", AS_OF, "--select", "+fct_ar_invoices", *ONLY_SELECTED)
    assert query(path, "select count(*) from marts.fct_ar_invoices") == [(0,)]


def test_the_outbox_sends_the_collection_stages(company: Path, tmp_path: Path) -> None:
    """The ERP outbox reads marts.collection_stages as dbt builds it: one change per staged open
    invoice and per customer, with the stage name, sent to the ERP's import file; a second
    refresh on the same warehouse adds nothing."""
    from orchestration.defs.writeback.assets import refresh_outbox
    from orchestration.defs.writeback.outbox import OutboxStore, utc_now
    from orchestration.defs.writeback.sender import send
    from orchestration.defs.writeback.settings import WritebackConfig

    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(company, warehouse)
    config = WritebackConfig.model_validate(
        {
            "targets": {
                "erp": {
                    "type": "file",
                    "format": "generic_csv",
                    "directory": "drop",
                    "owner": "ar@x.example",
                    "kinds": ["collection_stage"],
                }
            },
            "approval": {"collection_stage": "auto"},
        }
    )
    con = duckdb.connect(str(warehouse))
    try:
        with OutboxStore.at_home(tmp_path / "home") as store:
            first = refresh_outbox(con, store, config, utc_now())
            second = refresh_outbox(con, store, config, utc_now())
            rows = store.frame()
            report = send(store, config, tmp_path / "home")
    finally:
        con.close()
    assert (first["added"], second["added"], second["unchanged"]) == (7, 0, 7)
    assert sorted(zip(rows["field"], rows["entity_key"], rows["value"], strict=True)) == [
        ("customer.collection_stage", "C1", '"escalation"'),
        ("customer.collection_stage", "C2", '"reminder"'),
        ("customer.collection_stage", "C3", '"current"'),
        ("invoice.collection_stage", "DM1", '"reminder"'),
        ("invoice.collection_stage", "I1", '"escalation"'),
        ("invoice.collection_stage", "I3", '"reminder"'),
        ("invoice.collection_stage", "I4", '"reminder"'),
    ]
    assert (report.targets["erp"].delivered, report.targets["erp"].failed) == (7, 0)
    (written,) = (tmp_path / "home" / "drop").glob("inflow_erp_*.csv")
    with written.open(encoding="utf-8", newline="") as handle:
        sent = sorted((row["entity_key"], row["value"]) for row in csv.DictReader(handle))
    assert sent == [
        ("C1", "escalation"),
        ("C2", "reminder"),
        ("C3", "current"),
        ("DM1", "reminder"),
        ("I1", "escalation"),
        ("I3", "reminder"),
        ("I4", "reminder"),
    ]
