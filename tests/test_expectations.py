"""The source contracts and the batch runner: every row and batch rule has a named bad input.

Frames are typed batches (datetime64 or ``date`` dates, float64 or ``Decimal`` money, str ids, plus
``_row_number``); the runner judges them with the SQL landing runs. Each negative case breaks one
rule on one row of an otherwise clean batch and expects exactly that rule, on that row and column,
with a detail naming the offending value. ``tests/test_gx_oracle.py`` holds the same SQL to Great
Expectations' own verdicts.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from expectations.contracts import ENTITIES
from expectations.currencies import ISO_4217_CURRENCIES
from expectations.relations import find_cycles
from expectations.rules import RULES
from expectations.runner import BatchContext, BatchVerdict, RowFailure, validate_batch, validate_batches
from expectations.suites import entity_checks

AS_OF = dt.date(2026, 3, 1)
CONTEXT = BatchContext(as_of=AS_OF)
KNOWN_CUSTOMERS = {"C1", "C2", "C3"}
README = Path(__file__).resolve().parent.parent / "expectations" / "README.md"


def _d(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


#: Three valid rows per entity, column by column.
CLEAN: dict[str, dict[str, list]] = {
    "customers": {
        "customer_id": ["C1", "C2", "C3"],
        "name": ["Acme", "Globex", "Initech"],
        "country": ["US", "DE", "GB"],
        "currency": ["USD", "EUR", "GBP"],
        "payment_terms": ["NET30", "NET45", "EOM"],
        "credit_limit": [1000.0, 0.0, 250000.0],
        "erp_parent_id": [None, "C1", "C1"],
        "updated_at": [_d("2026-01-05 08:00")] * 3,
    },
    "invoices": {
        "document_id": ["I1", "I2", "I3"],
        "customer_id": ["C1", "C2", "C3"],
        "document_type": ["invoice", "credit_memo", "debit_memo"],
        "document_date": [_d("2026-01-10")] * 3,
        "due_date": [_d("2026-02-09"), _d("2026-01-10"), None],
        "currency": ["USD", "EUR", "GBP"],
        "amount": [100.0, -50.0, 20.0],
        "tax_amount": [10.0, -5.0, None],
        "status": ["open", "paid", "partially_paid"],
        "po_number": ["PO-1", None, None],
        "external_open_amount": [100.0, 0.0, 5.0],
        "updated_at": [_d("2026-01-10 09:30")] * 3,
    },
    "payments": {
        "payment_id": ["P1", "P2", "P3"],
        "customer_id": ["C1", None, "C3"],
        "payment_date": [_d("2026-02-01")] * 3,
        "currency": ["USD", "EUR", "GBP"],
        "amount": [100.0, 0.01, 5000.0],
        "method": ["wire", "card", None],
        "reference": ["INV I1", None, None],
    },
    "payment_applications": {
        "payment_id": ["P1", "P1", "I2"],
        "document_id": ["I1", "I3", "I1"],
        "applied_amount": [60.0, 20.0, 40.0],
        "applied_date": [_d("2026-02-01")] * 3,
    },
    "write_offs": {
        "document_id": ["I1", "I3", "I4"],
        "amount": [10.0, 20.0, 0.5],
        "write_off_date": [_d("2026-02-20")] * 3,
        "reason": ["bankrupt", None, "small balance"],
    },
    "fx_rates": {
        "rate_date": [_d("2026-02-27")] * 3,
        "currency": ["USD", "EUR", "JPY"],
        "rate_to_reporting": [1.0, 1.08, 0.00667],
    },
    "crm_accounts": {
        "account_id": ["A1", "A2", "A3"],
        "customer_id": ["C1", "C2", "C3"],
        "parent_account_id": [None, "A1", "A2"],
        "owner": ["kim", "lee", None],
        "collector": ["ana", "ana", "bo"],
        "segment": ["enterprise", "smb", "smb"],
        "region": ["NA", "EMEA", "EMEA"],
    },
    "crm_contacts": {
        "contact_id": ["K1", "K2", "K3"],
        "account_id": ["A1", "A2", "A3"],
        "name": ["Jane Doe", "Max Muster", None],
        "email": ["jane.doe@acme.com", None, "ap+invoices@initech.co.uk"],
        "phone": ["+1 555 0100", None, None],
        "role": ["billing", "buyer", "billing"],
    },
    "planned_billing": {
        "plan_id": ["B1", "B2", "B3"],
        "customer_id": ["C1", "C2", "C3"],
        "expected_invoice_date": [_d("2026-04-01"), _d("2027-01-01"), _d("2030-06-30")],
        "currency": ["USD", "EUR", "GBP"],
        "amount": [1200.0, 99.0, 15.5],
        "kind": ["subscription", "renewal", "usage"],
        "subscription_id": ["S1", "S2", None],
    },
    "settlements": {
        "line_id": ["L1", "L2", "L3"],
        "value_date": [_d("2026-02-02")] * 3,
        "currency": ["USD", "USD", "EUR"],
        "amount": [980.0, -20.0, 0.0],
        "reference": ["po_1", "re_2", None],
        "counterparty": ["Acme", None, None],
        "fee": [20.0, 0.0, -0.3],
        "payout_id": ["PO9", "PO9", None],
    },
    "bank_lines": {
        "line_id": ["BL1", "BL2", "BL3"],
        "value_date": [_d("2026-02-03")] * 3,
        "currency": ["USD", "USD", "CHF"],
        "amount": [980.0, -1500.0, 12.0],
        "reference": ["PO9", "rent", None],
        "counterparty": ["Stripe", "Landlord", None],
        "fee": [None, None, 0.5],
        "payout_id": ["PO9", None, None],
    },
    "activities": {
        "activity_id": ["T1", "T2", "T3"],
        "customer_id": ["C1", "C2", "C3"],
        "document_id": ["I1", None, None],
        "activity_date": [_d("2026-02-10")] * 3,
        "kind": ["note", "call", "stage_change"],
        "text": ["will pay Friday", None, "to legal"],
        "author": ["ana", "ana", None],
    },
    "promises": {
        "promise_id": ["R1", "R2", "R3"],
        "customer_id": ["C1", "C2", "C3"],
        "document_id": ["I1", None, "I3"],
        "promised_date": [_d("2026-01-20"), _d("2026-02-15"), _d("2026-03-01")],
        "promised_amount": [50.0, 20.0, 1.0],
        "created_at": [_d("2026-01-20 16:45"), _d("2026-02-01 09:00"), _d("2026-02-27 12:00")],
        "status": ["kept", "open", "broken"],
    },
    "disputes": {
        "dispute_id": ["D1", "D2", "D3"],
        "document_id": ["I1", "I2", "I3"],
        "opened_at": [_d("2026-01-15 10:00")] * 3,
        "amount": [30.0, None, 5.0],
        "reason": ["pricing", "damaged goods", None],
        "resolved_at": [None, _d("2026-01-15 10:00"), _d("2026-02-01 09:00")],
        "resolution": [None, "credit issued", "rejected"],
    },
}


def batch(entity: str, row: int | None = None, **changes) -> pd.DataFrame:
    """The clean batch of ``entity`` typed as landing types it, with ``changes`` on one row."""
    data = {name: list(values) for name, values in CLEAN[entity].items()}
    for column, value in changes.items():
        data[column][row] = value
    frame = pd.DataFrame(data)
    for col in ENTITIES[entity].columns:
        if col.type in ("date", "timestamp"):
            frame[col.name] = pd.to_datetime(frame[col.name]).astype("datetime64[us]")
        elif col.type in ("money", "rate"):
            frame[col.name] = frame[col.name].astype("float64")
    frame["_row_number"] = np.arange(1, len(frame) + 1)
    return frame


def validate(entity: str, frame: pd.DataFrame, context: BatchContext = CONTEXT, **kwargs) -> BatchVerdict:
    kwargs.setdefault("known_customer_ids", KNOWN_CUSTOMERS)
    return validate_batch(entity, frame, reporting_currency="USD", context=context, **kwargs)


# --- clean batches ---------------------------------------------------------------------------


def test_clean_data_covers_every_canonical_entity():
    assert set(CLEAN) == set(ENTITIES)
    for name, columns in CLEAN.items():
        assert list(columns) == ENTITIES[name].column_names, name


@pytest.mark.parametrize("entity", sorted(ENTITIES))
def test_clean_batch_passes_with_no_failures(entity):
    verdict = validate(entity, batch(entity))
    assert verdict == BatchVerdict(rejected=False, message=None, failures=[], summary={})


# --- one named bad input per row rule --------------------------------------------------------

#: rule -> (entity, 0-based row, column changes, column reported, text the detail must contain)
ROW_CASES: dict[str, tuple[str, int, dict, str, str]] = {
    "required_value_missing": ("invoices", 1, {"customer_id": None}, "customer_id", "required customer_id"),
    "currency_not_iso4217": ("invoices", 1, {"currency": "XXX"}, "currency", "'XXX'"),
    "amount_out_of_bounds": ("payments", 2, {"amount": 5e10}, "amount", "50000000000.00"),
    "date_out_of_range": ("payments", 0, {"payment_date": _d("1989-12-31")}, "payment_date", "1989-12-31"),
    "unknown_customer": ("invoices", 2, {"customer_id": "C9"}, "customer_id", "'C9'"),
    "parent_account_unknown": ("crm_accounts", 2, {"parent_account_id": "A9"}, "parent_account_id", "'A9'"),
    "parent_account_cycle": (
        "crm_accounts",
        1,
        {"parent_account_id": "A2"},
        "parent_account_id",
        "'A2' is its own parent",
    ),
    "document_type_invalid": ("invoices", 0, {"document_type": "proforma"}, "document_type", "'proforma'"),
    "due_before_document_date": ("invoices", 0, {"due_date": _d("2026-01-09")}, "due_date", "2026-01-09"),
    "invoice_amount_not_positive": ("invoices", 0, {"amount": -100.0}, "amount", "-100.00"),
    "credit_memo_amount_not_negative": ("invoices", 1, {"amount": 50.0}, "amount", "50.00"),
    "tax_amount_inconsistent": ("invoices", 0, {"tax_amount": 150.0}, "tax_amount", "150.00"),
    "external_open_amount_inconsistent": (
        "invoices",
        0,
        {"external_open_amount": -1.0},
        "external_open_amount",
        "-1.00",
    ),
    "payment_status_inconsistent": ("invoices", 1, {"external_open_amount": -50.0}, "external_open_amount", "'paid'"),
    "credit_limit_negative": ("customers", 1, {"credit_limit": -1.0}, "credit_limit", "-1.00"),
    "payment_amount_not_positive": ("payments", 1, {"amount": 0.0}, "amount", "0.00"),
    "applied_amount_not_positive": ("payment_applications", 2, {"applied_amount": -40.0}, "applied_amount", "-40.00"),
    "write_off_amount_not_positive": ("write_offs", 0, {"amount": 0.0}, "amount", "0.00"),
    "fx_rate_not_positive": ("fx_rates", 1, {"rate_to_reporting": -1.08}, "rate_to_reporting", "-1.08000000"),
    "fx_rate_reporting_currency_not_one": ("fx_rates", 0, {"rate_to_reporting": 1.1}, "rate_to_reporting", "'USD'"),
    "email_invalid": ("crm_contacts", 0, {"email": "jane.doe(at)acme.com"}, "email", "'j***'"),  # masked
    "planned_amount_not_positive": ("planned_billing", 1, {"amount": -99.0}, "amount", "-99.00"),
    "planned_billing_kind_invalid": ("planned_billing", 2, {"kind": "quarterly"}, "kind", "'quarterly'"),
    "activity_kind_invalid": ("activities", 1, {"kind": "fax"}, "kind", "'fax'"),
    "promise_amount_not_positive": ("promises", 0, {"promised_amount": 0.0}, "promised_amount", "0.00"),
    "promise_date_before_created": ("promises", 1, {"promised_date": _d("2026-01-31")}, "promised_date", "2026-01-31"),
    "dispute_amount_not_positive": ("disputes", 2, {"amount": -5.0}, "amount", "-5.00"),
    "dispute_resolved_before_opened": (
        "disputes",
        2,
        {"resolved_at": _d("2026-01-15 09:59")},
        "resolved_at",
        "2026-01-15 09:59:00",
    ),
}


def test_every_row_rule_has_a_named_negative_case():
    judged_here = {name for name, rule in RULES.items() if rule.stage in ("row", "relation")}
    assert set(ROW_CASES) == judged_here | {"required_value_missing"}


@pytest.mark.parametrize("rule", sorted(ROW_CASES))
def test_bad_row_is_reported_with_exactly_its_rule(rule):
    entity, row, changes, column, named = ROW_CASES[rule]
    verdict = validate(entity, batch(entity, row, **changes))
    assert not verdict.rejected
    assert [(f.row_number, f.rule, f.column) for f in verdict.failures] == [(row + 1, rule, column)]
    assert named in verdict.failures[0].detail
    assert verdict.summary == {rule: 1}


def test_detail_reads_as_a_sentence_naming_the_value():
    verdict = validate("invoices", batch("invoices", 1, currency="XXX"))
    assert verdict.failures == [
        RowFailure(2, "currency_not_iso4217", "currency", "currency 'XXX' is not an active ISO 4217 code")
    ]


def test_row_breaking_several_rules_gets_one_failure_per_rule():
    frame = batch("invoices", 0, currency="usd", customer_id="C9", due_date=_d("2025-12-31"))
    verdict = validate("invoices", frame)
    assert [(f.row_number, f.rule) for f in verdict.failures] == [
        (1, "currency_not_iso4217"),  # landing upper-cases; a lower-case code here was not normalized
        (1, "due_before_document_date"),
        (1, "unknown_customer"),
    ]
    assert verdict.summary == {"currency_not_iso4217": 1, "due_before_document_date": 1, "unknown_customer": 1}


# --- dates -----------------------------------------------------------------------------------


def test_document_dated_beyond_the_event_horizon_is_out_of_range():
    late = pd.Timestamp(AS_OF + dt.timedelta(days=91))
    verdict = validate("invoices", batch("invoices", 0, document_date=late, due_date=late))
    assert [(f.rule, f.column) for f in verdict.failures] == [("date_out_of_range", "document_date")]
    assert "between 1990-01-01 and 2026-05-30" in verdict.failures[0].detail


def test_due_dates_get_the_longer_forward_horizon():
    in_a_year = pd.Timestamp(AS_OF + dt.timedelta(days=365))
    assert validate("invoices", batch("invoices", 0, due_date=in_a_year)).failures == []
    far = pd.Timestamp(AS_OF + dt.timedelta(days=6 * 366))
    assert [f.rule for f in validate("invoices", batch("invoices", 0, due_date=far)).failures] == ["date_out_of_range"]


def test_without_as_of_only_the_earliest_date_bounds_dates():
    far = _d("2031-01-01")
    frame = batch("payments", 0, payment_date=far)
    assert validate("payments", frame, context=BatchContext()).failures == []
    assert [f.rule for f in validate("payments", frame).failures] == ["date_out_of_range"]


def test_sentinel_dates_beyond_nanosecond_range_are_out_of_range_and_named():
    frame = batch("payments")
    frame["payment_date"] = pd.Series([dt.date(2026, 2, 1), dt.date(9999, 12, 31), dt.date(1, 1, 1)], dtype=object)
    verdict = validate("payments", frame)
    assert [(f.row_number, f.rule) for f in verdict.failures] == [(2, "date_out_of_range"), (3, "date_out_of_range")]
    assert "9999-12-31" in verdict.failures[0].detail and "0001-01-01" in verdict.failures[1].detail


def test_promise_made_for_later_the_same_day_is_not_before_its_creation():
    frame = batch("promises", 0, promised_date=_d("2026-01-20"), created_at=_d("2026-01-20 23:59"))
    assert validate("promises", frame).failures == []


def test_dispute_resolved_at_the_instant_it_opened_is_fine_and_open_disputes_too():
    assert validate("disputes", batch("disputes", 1, resolved_at=_d("2026-01-15 10:00"))).failures == []


# --- typed values as the contract allows -----------------------------------------------------


def test_decimal_money_and_python_dates_are_validated_like_floats_and_datetimes():
    frame = batch("payments")
    frame["amount"] = pd.Series([Decimal("100.00"), Decimal("-0.01"), Decimal("5000.00")], dtype=object)
    frame["payment_date"] = pd.Series([dt.date(2026, 2, 1)] * 3, dtype=object)
    verdict = validate("payments", frame)
    assert [(f.row_number, f.rule, f.detail) for f in verdict.failures] == [
        (2, "payment_amount_not_positive", "amount -0.01 is not positive")
    ]


def test_optional_columns_left_unmapped_are_treated_as_null():
    frame = batch("invoices").drop(columns=["tax_amount", "status", "external_open_amount", "due_date"])
    assert validate("invoices", frame).failures == []


def test_unknown_customer_is_only_checked_against_a_given_master():
    frame = batch("invoices", 0, customer_id="C9")
    assert validate("invoices", frame, known_customer_ids=None).failures == []


def test_open_status_without_an_erp_open_amount_is_not_inconsistent():
    assert validate("invoices", batch("invoices", 0, external_open_amount=None)).failures == []


def test_paid_invoice_with_an_open_balance_is_inconsistent():
    verdict = validate("invoices", batch("invoices", 0, status="paid"))
    assert [(f.rule, f.detail) for f in verdict.failures] == [
        ("payment_status_inconsistent", "status 'paid' but external_open_amount is 100.00")
    ]


@pytest.mark.parametrize(
    ("tax", "detail"),
    [
        (5.0, "tax_amount 5.00 has the opposite sign of 'credit_memo' amount -50.00"),
        (-60.0, "tax_amount -60.00 exceeds 'credit_memo' amount -50.00"),
    ],
)
def test_credit_memo_tax_follows_the_credit_memo_sign(tax, detail):
    verdict = validate("invoices", batch("invoices", 1, tax_amount=tax))
    assert [(f.row_number, f.rule, f.detail) for f in verdict.failures] == [(2, "tax_amount_inconsistent", detail)]


def test_wrongly_signed_invoice_is_reported_once_not_again_for_its_tax():
    verdict = validate("invoices", batch("invoices", 0, amount=-100.0, tax_amount=10.0))
    assert [f.rule for f in verdict.failures] == ["invoice_amount_not_positive"]


# --- parent-account graph --------------------------------------------------------------------


def accounts(links: list[tuple[str, str | None]]) -> pd.DataFrame:
    n = len(links)
    return pd.DataFrame(
        {
            "account_id": [a for a, _ in links],
            "customer_id": ["C1"] * n,
            "parent_account_id": [p for _, p in links],
            "owner": [None] * n,
            "collector": [None] * n,
            "segment": [None] * n,
            "region": [None] * n,
            "_row_number": np.arange(1, n + 1),
        }
    )


def test_two_account_cycle_flags_both_accounts():
    verdict = validate("crm_accounts", accounts([("A", "B"), ("B", "A"), ("R", None)]))
    assert verdict.failures == [
        RowFailure(
            1, "parent_account_cycle", "parent_account_id", "account_id 'A' is on a parent cycle 'A' -> 'B' -> 'A'"
        ),
        RowFailure(
            2, "parent_account_cycle", "parent_account_id", "account_id 'B' is on a parent cycle 'B' -> 'A' -> 'B'"
        ),
    ]


def test_self_parent_is_a_cycle():
    verdict = validate("crm_accounts", accounts([("A", "A"), ("B", "A")]))
    assert [(f.row_number, f.rule, f.detail) for f in verdict.failures] == [
        (1, "parent_account_cycle", "account_id 'A' is its own parent")
    ]


def test_descendants_of_a_cycle_and_deep_chains_are_not_flagged():
    chain = [(f"N{i}", f"N{i - 1}" if i else None) for i in range(500)]
    links = [("A", "B"), ("B", "C"), ("C", "A"), ("D", "A"), ("E", "D"), *chain]
    verdict = validate("crm_accounts", accounts(links))
    assert [f.row_number for f in verdict.failures] == [1, 2, 3]
    assert {f.rule for f in verdict.failures} == {"parent_account_cycle"}


def test_repeated_account_uses_its_last_row_like_landing_dedupe():
    # A's first row points at B (B -> A would close a cycle), its later row is a root.
    verdict = validate("crm_accounts", accounts([("A", "B"), ("B", "A"), ("A", None)]))
    assert verdict.failures == []


def test_parent_known_from_earlier_loads_is_not_unknown():
    frame = accounts([("A", "P0")])
    assert [f.rule for f in validate("crm_accounts", frame).failures] == ["parent_account_unknown"]
    context = BatchContext(as_of=AS_OF, known_account_ids=frozenset({"P0"}))
    assert validate("crm_accounts", frame, context=context).failures == []


def test_erp_customer_hierarchy_gets_the_same_parent_rules():
    frame = batch("customers", 0, erp_parent_id="C2")  # C1 -> C2 -> C1
    verdict = validate("customers", frame)
    assert [(f.row_number, f.rule, f.column) for f in verdict.failures] == [
        (1, "parent_account_cycle", "erp_parent_id"),
        (2, "parent_account_cycle", "erp_parent_id"),
    ]
    unknown = validate("customers", batch("customers", 2, erp_parent_id="C7"), known_customer_ids={"C7"})
    assert unknown.failures == []


def test_find_cycles_returns_each_member_with_its_cycle():
    assert find_cycles({"a": "b", "b": "c", "c": "a", "d": "a", "e": "e", "f": None}) == {
        "a": ["a", "b", "c"],
        "b": ["b", "c", "a"],
        "c": ["c", "a", "b"],
        "e": ["e"],
    }


# --- batch rejections ------------------------------------------------------------------------


def test_empty_batch_is_rejected():
    verdict = validate("invoices", batch("invoices").iloc[0:0])
    assert verdict.rejected and verdict.failures == []
    assert verdict.message.startswith("batch_empty: ")
    assert verdict.summary == {"batch_empty": 1}


def test_missing_required_column_rejects_the_batch_naming_it():
    verdict = validate("invoices", batch("invoices").drop(columns=["currency"]))
    assert verdict.rejected and verdict.failures == []
    assert verdict.message.startswith("required_column_missing: required column 'currency' of invoices is missing")
    assert verdict.summary == {"required_column_missing": 1}


def test_required_column_null_on_every_row_rejects_the_batch():
    frame = batch("payments")
    frame["payment_date"] = pd.NaT
    verdict = validate("payments", frame)
    assert verdict.rejected
    assert verdict.message.startswith(
        "required_column_empty: required column 'payment_date' of payments is empty on all 3 rows"
    )


def test_row_count_collapsing_against_the_previous_load_rejects_the_batch():
    context = BatchContext(as_of=AS_OF, previous_row_count=1000, row_count_drop_threshold=0.5)
    verdict = validate("invoices", batch("invoices"), context=context)
    assert verdict.rejected
    assert verdict.summary == {"row_count_collapsed": 1}
    assert "3 rows against 1000 in the previous load" in verdict.message


def test_row_count_drop_within_the_threshold_loads():
    at_limit = BatchContext(as_of=AS_OF, previous_row_count=6, row_count_drop_threshold=0.5)
    assert not validate("invoices", batch("invoices"), context=at_limit).rejected
    beyond = BatchContext(as_of=AS_OF, previous_row_count=7, row_count_drop_threshold=0.5)
    assert validate("invoices", batch("invoices"), context=beyond).rejected


def test_collapse_judges_landed_rows_not_rows_left_after_typing():
    context = BatchContext(as_of=AS_OF, landed_row_count=1000, previous_row_count=1000)
    assert validate("invoices", batch("invoices"), context=context) == BatchVerdict(False, None, [], {})


def test_batch_whose_rows_all_failed_typing_is_not_empty_but_has_no_usable_value():
    """Rows that all failed typing (a wrong format, a wrong mapping) leave the required columns
    with no usable value: the batch is rejected whole, never landed as 3 quarantined rows."""
    context = BatchContext(as_of=AS_OF, landed_row_count=3)
    verdict = validate("invoices", batch("invoices").iloc[0:0], context=context)
    assert verdict.rejected
    assert set(verdict.summary) == {"required_column_empty"}
    assert "batch_empty" not in verdict.message


def test_required_column_with_one_usable_value_is_not_empty():
    frame = batch("payments")
    frame.loc[[0, 1], "payment_date"] = pd.NaT
    verdict = validate("payments", frame)
    assert not verdict.rejected
    assert [(f.row_number, f.rule) for f in verdict.failures] == [
        (1, "required_value_missing"),
        (2, "required_value_missing"),
    ]


def test_several_batch_problems_are_all_named():
    frame = batch("invoices").drop(columns=["currency", "amount"])
    verdict = validate("invoices", frame, context=BatchContext(as_of=AS_OF, previous_row_count=100))
    assert verdict.summary == {"required_column_missing": 2, "row_count_collapsed": 1}
    assert "'currency'" in verdict.message and "'amount'" in verdict.message


# --- several batches validated together -------------------------------------------------------


def test_batches_validated_together_get_the_verdicts_they_get_alone():
    """Stacking batches into one GX pass must not move a failure to another batch or row."""
    batches = [
        (batch("invoices", 0, amount=-5.0), CONTEXT),
        (batch("invoices"), CONTEXT),
        (batch("invoices", 2, currency="XYZ"), CONTEXT),
        (batch("invoices").iloc[0:0], CONTEXT),
    ]
    together = validate_batches("invoices", batches, reporting_currency="USD", known_customer_ids=KNOWN_CUSTOMERS)
    alone = [validate("invoices", frame, context=ctx) for frame, ctx in batches]
    assert together == alone
    assert together[0].summary and together[2].summary and not together[1].failures
    assert {f.row_number for f in together[2].failures} == {3}


def test_a_rejected_batch_does_not_count_as_the_previous_load_of_the_next():
    """In order, as if landed one by one: the rows a batch is compared with come from the last
    batch that passed, not from one that was rejected."""
    previous = BatchContext(as_of=AS_OF, previous_row_count=3)
    collapsed = BatchContext(as_of=AS_OF, landed_row_count=1, previous_row_count=3)
    verdicts = validate_batches(
        "invoices",
        [(batch("invoices").iloc[:1], collapsed), (batch("invoices").iloc[:2], previous)],
        reporting_currency="USD",
        known_customer_ids=KNOWN_CUSTOMERS,
    )
    assert [v.rejected for v in verdicts] == [True, False]
    after_a_small_batch = validate_batches(
        "invoices",
        [
            (batch("invoices").iloc[:2], BatchContext(as_of=AS_OF, previous_row_count=2)),
            (batch("invoices").iloc[:1], BatchContext(as_of=AS_OF, previous_row_count=100)),
        ],
        reporting_currency="USD",
        known_customer_ids=KNOWN_CUSTOMERS,
    )
    assert [v.rejected for v in after_a_small_batch] == [False, False]


def test_batches_validated_together_must_share_their_bounds():
    later = BatchContext(as_of=AS_OF + dt.timedelta(days=1))
    with pytest.raises(ValueError, match="share their date bounds"):
        validate_batches(
            "payments", [(batch("payments"), CONTEXT), (batch("payments"), later)], reporting_currency="USD"
        )


# --- caller errors are exceptions, not verdicts ----------------------------------------------


def test_unknown_entity_is_a_caller_error():
    with pytest.raises(KeyError, match="unknown canonical entity 'receipts'"):
        validate("receipts", batch("payments"))


def test_reporting_currency_must_be_iso():
    with pytest.raises(ValueError, match="reporting_currency 'XXX'"):
        validate_batch("payments", batch("payments"), reporting_currency="XXX")


def test_row_numbers_are_required_and_unique():
    with pytest.raises(ValueError, match="_row_number column"):
        validate("payments", batch("payments").drop(columns=["_row_number"]))
    repeated = batch("payments").assign(_row_number=[1, 1, 2])
    with pytest.raises(ValueError, match="unique"):
        validate("payments", repeated)


def test_context_rejects_nonsense_thresholds():
    with pytest.raises(ValueError, match="row_count_drop_threshold"):
        BatchContext(row_count_drop_threshold=1.5)


# --- the suites and the catalogue ------------------------------------------------------------


@pytest.mark.parametrize("entity", sorted(ENTITIES))
def test_checks_are_built_from_the_contract_and_name_catalogued_row_rules(entity):
    checks = entity_checks(entity, CONTEXT.bounds)
    assert {c.target for c in checks if c.kind == "not_null"} == set(ENTITIES[entity].required)
    for check in checks:
        assert RULES[check.rule].severity == "row"


def test_iso_list_is_real_and_excludes_non_money_codes():
    assert {"USD", "EUR", "JPY", "CHF", "INR", "BRL", "ZAR", "XOF", "XCG", "ZWG", "VES"} <= ISO_4217_CURRENCIES
    assert not {"XXX", "XTS", "XAU", "XDR", "USN", "CHE", "HRK", "ANG", "SLL"} & ISO_4217_CURRENCIES
    assert all(len(c) == 3 and c.isalpha() and c.isupper() for c in ISO_4217_CURRENCIES)
    assert len(ISO_4217_CURRENCIES) > 150


def test_readme_documents_every_rule():
    text = README.read_text(encoding="utf-8")
    missing = [name for name in RULES if f"`{name}`" not in text]
    assert missing == []


# --- a larger batch (smoke; timings are measured outside the tests) --------------------------


def test_larger_invoice_batch_reports_exactly_the_injected_defects():
    n = 20_000
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "document_id": [f"I{i}" for i in range(n)],
            "customer_id": rng.choice(sorted(KNOWN_CUSTOMERS), n),
            "document_type": "invoice",
            "document_date": pd.Timestamp("2025-06-01"),
            "due_date": pd.Timestamp("2025-07-01"),
            "currency": rng.choice(["USD", "EUR", "GBP"], n),
            "amount": rng.uniform(1, 10_000, n).round(2),
            "tax_amount": None,
            "status": "open",
            "po_number": None,
            "external_open_amount": None,
            "updated_at": pd.Timestamp("2025-06-01 12:00"),
            "_row_number": np.arange(1, n + 1),
        }
    )
    bad_currency, bad_sign, bad_customer = rng.choice(n, size=(3, 50), replace=False)
    frame.loc[bad_currency, "currency"] = "EURO"
    frame.loc[bad_sign, "amount"] = -frame.loc[bad_sign, "amount"]
    frame.loc[bad_customer, "customer_id"] = "C404"
    verdict = validate("invoices", frame)
    assert verdict.summary == {"currency_not_iso4217": 50, "invoice_amount_not_positive": 50, "unknown_customer": 50}
    by_rule = {rule: sorted(f.row_number for f in verdict.failures if f.rule == rule) for rule in verdict.summary}
    assert by_rule["currency_not_iso4217"] == sorted(bad_currency + 1)
    assert by_rule["invoice_amount_not_positive"] == sorted(bad_sign + 1)
    assert by_rule["unknown_customer"] == sorted(bad_customer + 1)


def test_frame_index_does_not_matter_only_row_numbers_do():
    frame = batch("invoices", 2, currency="XXX")
    frame.index = [10, 5, 7]
    verdict = validate("invoices", frame)
    assert [(f.row_number, f.rule) for f in verdict.failures] == [(3, "currency_not_iso4217")]
