"""Deriving outbox changes from the marts, on small hand-made frames."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pandas as pd
import pytest

from orchestration.defs.writeback.derive import (
    InputError,
    WarehouseFrames,
    Window,
    collector_changes,
    complete_state_kinds,
    currency_lookup,
    derive_changes,
    dispute_changes,
    note_changes,
    promise_changes,
    risk_band_changes,
    stage_changes,
)
from orchestration.defs.writeback.settings import ChangeKind

AS_OF = dt.date(2026, 11, 27)
WINDOW = Window(AS_OF, 30)  # events from 2026-10-28 on
d = dt.date.fromisoformat


def _promises() -> pd.DataFrame:
    rows = [
        # id, customer, document, created, promised, evaluation, amount, paid, outcome
        ("P-new", "C1", "INV-1", d("2026-11-20"), d("2026-11-30"), d("2026-12-03"), D("500.00"), D("0"), "pending"),
        ("P-kept", "C1", "INV-1", d("2026-11-01"), d("2026-11-10"), d("2026-11-13"), D("100.50"), D("100.50"), "kept"),
        ("P-edge", "C2", None, d("2026-10-28"), d("2026-10-30"), d("2026-11-02"), D("40"), D("0"), "broken"),
        ("P-old", "C2", None, d("2026-10-27"), d("2026-10-20"), d("2026-10-23"), D("40"), D("0"), "broken"),
        ("P-old-due", "C2", "INV-2", d("2026-09-01"), d("2026-10-26"), d("2026-10-29"), D("75"), D("10"), "broken"),
        ("P-future", "C1", None, d("2026-11-28"), d("2026-12-05"), d("2026-12-08"), D("1"), D("0"), "pending"),
    ]
    return pd.DataFrame(
        rows,
        columns=[
            "promise_id",
            "customer_id",
            "document_id",
            "created_date",
            "promised_date",
            "evaluation_date",
            "promised_amount",
            "paid_toward_promise",
            "outcome",
        ],
    )


CURRENCIES = currency_lookup(
    pd.DataFrame({"invoice_id": ["INV-1", "INV-2"], "currency": ["EUR", "GBP"]}),
    pd.DataFrame({"customer_id": ["C1", "C2"], "currency": ["USD", "CAD"]}),
)


def test_a_document_without_a_currency_is_not_looked_up():
    lookup = currency_lookup(
        pd.DataFrame({"invoice_id": ["INV-1", "INV-2", 3], "currency": ["EUR", None, "USD"]}),
        pd.DataFrame({"customer_id": ["C1"], "currency": [float("nan")]}),
    )
    assert lookup == {("invoice", "INV-1"): "EUR", ("invoice", "3"): "USD"}


def test_promises_and_final_outcomes_within_the_window():
    changes = promise_changes(_promises(), WINDOW, CURRENCIES)
    got = {(c.entity_key, c.field) for c in changes}
    assert got == {
        ("P-new", "promise.promise"),
        ("P-kept", "promise.promise"),
        ("P-kept", "promise.outcome"),
        ("P-edge", "promise.promise"),
        ("P-edge", "promise.outcome"),
        ("P-old-due", "promise.promise"),
        ("P-old-due", "promise.outcome"),
    }
    # P-old: made and due before the window; P-future: made after the as-of date; P-new: pending, no outcome
    by = {(c.entity_key, c.field): c.value for c in changes}
    assert by[("P-new", "promise.promise")] == {
        "customer_id": "C1",
        "document_id": "INV-1",
        "created_date": d("2026-11-20"),
        "promised_date": d("2026-11-30"),
        "promised_amount": D("500.00"),
        "currency": "EUR",
    }
    assert by[("P-edge", "promise.promise")]["currency"] == "CAD", "customer-level promise: customer's currency"
    assert by[("P-old-due", "promise.outcome")] == {
        "outcome": "broken",
        "evaluation_date": d("2026-10-29"),
        "paid_toward_promise": D("10"),
        "currency": "GBP",
    }
    assert all(c.kind == ChangeKind.PROMISE for c in changes)


def test_a_partially_kept_outcome_is_final_and_pending_is_not():
    frame = _promises().iloc[[0]].assign(outcome="partially_kept")
    assert [c.field for c in promise_changes(frame, WINDOW, CURRENCIES)] == ["promise.promise", "promise.outcome"]
    pending = promise_changes(frame.assign(outcome="pending"), WINDOW, CURRENCIES)
    assert [c.field for c in pending] == ["promise.promise"]


def test_promise_money_as_float_is_refused():
    frame = _promises().iloc[[0]].assign(promised_amount=500.0)
    with pytest.raises(TypeError, match="Decimal"):
        promise_changes(frame, WINDOW, CURRENCIES)


def _disputes() -> pd.DataFrame:
    ts = pd.Timestamp
    rows = [
        ("D1", "INV-1", ts("2026-11-05 10:00"), None, None),  # open
        ("D2", "INV-2", ts("2026-09-01 10:00"), ts("2026-11-20 12:00"), "credit_issued"),  # resolved in window
        ("D3", "INV-3", ts("2026-06-01 10:00"), ts("2026-07-01 12:00"), "rejected"),  # long resolved
        ("D4", "INV-4", ts("2026-11-01 10:00"), ts("2026-11-28 09:00"), "withdrawn"),  # resolved after as-of
        ("D5", "INV-5", ts("2026-11-28 08:00"), None, None),  # opened after as-of
        ("D6", "INV-2", ts("2026-11-25 08:00"), ts("2026-11-27 23:59"), None),  # resolved on as-of
        ("D7", "INV-6", ts("2026-01-10 08:00"), None, None),  # old but open
    ]
    return pd.DataFrame(rows, columns=["dispute_id", "document_id", "opened_at", "resolved_at", "resolution"])


def test_dispute_flags_and_resolutions_as_of_the_date():
    changes = dispute_changes(_disputes(), WINDOW)
    flags = {c.entity_key: c.value for c in changes if c.field == "invoice.dispute_flag"}
    assert flags == {"INV-1": True, "INV-2": False, "INV-4": True, "INV-6": True}
    resolutions = {c.entity_key: c.value for c in changes if c.field == "dispute.resolution"}
    assert resolutions == {
        "D2": {"document_id": "INV-2", "resolution": "credit_issued", "resolved_date": d("2026-11-20")},
        "D6": {"document_id": "INV-2", "resolution": "unspecified", "resolved_date": d("2026-11-27")},
    }


def test_notes_only_of_kind_note_with_text_inside_the_window():
    frame = pd.DataFrame(
        [
            ("A1", "C1", "INV-1", d("2026-11-27"), "note", "Will pay on Friday", "Ann"),
            ("A2", "C1", None, d("2026-10-28"), "note", "first day of the window", "Bob"),
            ("A3", "C1", None, d("2026-10-27"), "note", "one day too old", "Bob"),
            ("A4", "C1", None, d("2026-11-28"), "note", "tomorrow", "Bob"),
            ("A5", "C1", None, d("2026-11-20"), "call", "called", "Bob"),
            ("A6", "C1", None, d("2026-11-20"), "note", "   ", "Bob"),
            ("A7", "C1", None, d("2026-11-20"), "note", None, "Bob"),
            ("A8", "C1", None, d("2026-11-20"), None, "a row without a kind", "Bob"),
        ],
        columns=["activity_id", "customer_id", "document_id", "activity_date", "kind", "text", "author"],
    )
    changes = note_changes(frame, WINDOW)
    assert [c.entity_key for c in changes] == ["A1", "A2"]
    assert changes[0].value == {
        "customer_id": "C1",
        "document_id": "INV-1",
        "activity_date": d("2026-11-27"),
        "text": "Will pay on Friday",
        "author": "Ann",
    }


def test_risk_bands_of_the_scoring_date_only():
    invoices = pd.DataFrame(
        {
            "invoice_id": ["INV-1", "INV-1", "INV-2", "INV-3"],
            "as_of_date": [d("2026-11-26"), AS_OF, AS_OF, AS_OF],
            "band": ["low", "high", "medium", None],
        }
    )
    customers = pd.DataFrame({"customer_id": ["C1"], "band": ["high"]})
    changes = risk_band_changes(invoices, customers, AS_OF)
    assert [(c.field, c.entity_key, c.value) for c in changes] == [
        ("invoice.risk_band", "INV-1", "high"),
        ("invoice.risk_band", "INV-2", "medium"),
        ("customer.risk_band", "C1", "high"),
    ]


def test_collector_is_the_collections_queue_owner_of_most_rows_ties_alphabetical():
    queue = pd.DataFrame(
        {
            "customer_id": ["C1", "C1", "C1", "C2", "C2", "C3", "C4"],
            "queue_owner": ["Zoe", "Zoe", "Disputes Desk", "Zoe", "Amir", None, "Disputes Desk"],
            "queue": [
                "collections",
                "collections",
                "disputes",
                "collections",
                "collections",
                "collections",
                "disputes",
            ],
            "as_of_date": [AS_OF] * 7,
        }
    )
    changes = collector_changes(queue, AS_OF)
    assert {c.entity_key: c.value for c in changes} == {"C1": "Zoe", "C2": "Amir"}, "the dispute owner is no collector"
    assert all(c.field == "customer.collector" for c in changes)


def test_stages_per_invoice_and_per_customer():
    stages = pd.DataFrame({"invoice_id": ["INV-1", None], "customer_id": ["C1", "C2"], "stage": [2.0, "final_notice"]})
    changes = stage_changes(stages, AS_OF)
    assert [(c.field, c.entity_key, c.value) for c in changes] == [
        ("invoice.collection_stage", "INV-1", 2),
        ("customer.collection_stage", "C2", "final_notice"),
    ]


def test_a_relation_without_the_needed_columns_is_named():
    with pytest.raises(InputError, match=r"marts\.collector_queue lacks column\(s\) \['queue_owner', 'queue'\]"):
        collector_changes(pd.DataFrame({"customer_id": ["C1"]}), AS_OF)


def test_derive_changes_combines_what_exists_in_a_stable_order():
    frames = WarehouseFrames(
        promise_outcomes=_promises(),
        disputes=_disputes(),
        invoice_scores=pd.DataFrame({"invoice_id": ["INV-9"], "band": ["low"]}),
    )
    changes = derive_changes(frames, AS_OF, 30)
    assert changes == derive_changes(frames, AS_OF, 30)
    assert [c.kind.value for c in changes] == sorted(c.kind.value for c in changes)
    assert {c.kind for c in changes} == {
        ChangeKind.PROMISE,
        ChangeKind.DISPUTE_FLAG,
        ChangeKind.DISPUTE_RESOLUTION,
        ChangeKind.RISK_BAND,
    }
    assert derive_changes(WarehouseFrames(), AS_OF, 30) == []


def test_a_state_kind_is_complete_only_with_rows_of_the_day():
    """Withdrawal rests on this: a relation missing, or scored for another day, proves nothing."""
    day = dt.date(2026, 11, 30)
    stages = pd.DataFrame({"invoice_id": ["I1"], "stage": ["reminder"]})
    scores = pd.DataFrame({"invoice_id": ["I1"], "band": ["high"], "as_of_date": [day]})
    customers = pd.DataFrame({"customer_id": ["C1"], "band": ["low"], "as_of_date": [day]})
    yesterday = customers.assign(as_of_date=[day - dt.timedelta(days=1)])
    assert complete_state_kinds(WarehouseFrames(), day) == frozenset()
    assert complete_state_kinds(
        WarehouseFrames(collection_stages=stages, invoice_scores=scores, customer_scores=customers), day
    ) == {ChangeKind.COLLECTION_STAGE, ChangeKind.RISK_BAND}
    assert complete_state_kinds(WarehouseFrames(invoice_scores=scores, customer_scores=yesterday), day) == frozenset()
    assert complete_state_kinds(WarehouseFrames(collection_stages=stages.iloc[0:0]), day) == frozenset()
