"""From the warehouse to outbox changes: pure functions over the marts' rows (DataFrames in, a
list of ``Change`` out; no I/O). The Dagster asset reads the relations and calls these.

Two sorts of change (DECISIONS W4):

- *state* (risk band, collector, collection stage, dispute flag): the current value of a field.
  Derived for every entity that has one today; the outbox adds a row only when the value differs
  from the last one it holds, so a daily run sends only what moved.
- *events* (notes, promises and their outcomes, dispute resolutions): things that happened on a
  date. Only events within ``lookback_days`` of the as-of date are derived, so installing Inflow
  on years of workflow history does not flood the ERP with old notes.

Everything is as of the run's date: an event after ``as_of`` does not exist yet.
Money must arrive as ``Decimal`` (read the relations through Arrow): floats are refused.
"""

from __future__ import annotations

import datetime as dt
import decimal
import numbers
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from orchestration.defs.writeback.changes import Change
from orchestration.defs.writeback.settings import ChangeKind

#: Promise outcomes that are final (``pending`` says nothing yet). ``partially_kept`` is the
#: outcome issue 14 §1 adds to int_promise_outcomes.
FINAL_PROMISE_OUTCOMES = frozenset({"kept", "broken", "cancelled", "partially_kept"})


class InputError(ValueError):
    """A relation handed to a derivation lacks columns it needs."""


def _require(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"{what} lacks column(s) {missing}; has {list(frame.columns)}")


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, (str, dict)) and bool(pd.isna(value)))


def _day(value: Any) -> dt.date | None:
    if _missing(value):
        return None
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _money(value: Any) -> decimal.Decimal | None:
    if _missing(value):
        return None
    if isinstance(value, decimal.Decimal):
        return value
    if isinstance(value, int):
        return decimal.Decimal(value)
    raise TypeError(
        f"money value {value!r} ({type(value).__name__}): read money columns as Decimal (through Arrow), not floats"
    )


def _text(value: Any) -> str | None:
    return None if _missing(value) else str(value)


@dataclass(frozen=True)
class Window:
    """The as-of date and the first day whose events are still sent."""

    as_of: dt.date
    lookback_days: int

    @property
    def start(self) -> dt.date:
        return self.as_of - dt.timedelta(days=self.lookback_days)

    def contains(self, day: dt.date | None) -> bool:
        return day is not None and self.start <= day <= self.as_of


def currency_lookup(invoices: pd.DataFrame | None, customers: pd.DataFrame | None) -> dict[tuple[str, str], str]:
    """{('invoice', id) | ('customer', id): currency}: a promise's amount is in its document's
    currency, or its customer's when it names no document."""
    lookup: dict[tuple[str, str], str] = {}
    for frame, kind, key in ((invoices, "invoice", "invoice_id"), (customers, "customer", "customer_id")):
        if frame is None:
            continue
        _require(frame, [key, "currency"], f"{kind} currencies")
        known = frame.loc[frame["currency"].notna(), [key, "currency"]]
        keys = ((kind, str(k)) for k in known[key].tolist())  # tolist(): a million rows, not a Python loop over Arrow
        lookup.update(zip(keys, map(str, known["currency"].tolist()), strict=True))
    return lookup


def promise_changes(outcomes: pd.DataFrame, window: Window, currencies: dict[tuple[str, str], str]) -> list[Change]:
    """Promises to pay and their outcomes, from ``intermediate.int_promise_outcomes``.

    A promise is sent when it was made, or fell due (promised date plus grace), within the
    window; its outcome is sent once final (kept, broken, partially kept, cancelled). The ERP
    gets the promise itself (workflow-owned, relayed) and Inflow's verdict on it, checked against
    the ERP's own cash (Inflow-owned).
    """
    _require(
        outcomes,
        [
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
        "intermediate.int_promise_outcomes",
    )
    changes: list[Change] = []
    for row in outcomes.itertuples(index=False):
        created, evaluated = _day(row.created_date), _day(row.evaluation_date)
        if created is None or created > window.as_of:
            continue
        if not (window.contains(created) or (evaluated is not None and evaluated >= window.start)):
            continue
        document, customer = _text(row.document_id), _text(row.customer_id)
        currency = currencies.get(("invoice", document)) if document else None
        currency = currency or currencies.get(("customer", customer or ""))
        key = str(row.promise_id)
        changes.append(
            Change(
                ChangeKind.PROMISE,
                key,
                "promise.promise",
                {
                    "customer_id": customer,
                    "document_id": document,
                    "created_date": created,
                    "promised_date": _day(row.promised_date),
                    "promised_amount": _money(row.promised_amount),
                    "currency": currency,
                },
            )
        )
        if row.outcome in FINAL_PROMISE_OUTCOMES:
            changes.append(
                Change(
                    ChangeKind.PROMISE,
                    key,
                    "promise.outcome",
                    {
                        "outcome": row.outcome,
                        "evaluation_date": evaluated,
                        "paid_toward_promise": _money(row.paid_toward_promise),
                        "currency": currency,
                    },
                )
            )
    return changes


def dispute_changes(disputes: pd.DataFrame, window: Window) -> list[Change]:
    """The dispute flag of each document and each dispute's resolution, from staging disputes.

    A document is flagged while any of its disputes is open as of the date (opened on or before
    it, not resolved by its end). The flag is derived for documents with an open dispute or a
    dispute opened or resolved within the window (that is how a flag comes down).
    """
    _require(
        disputes,
        ["dispute_id", "document_id", "opened_at", "resolved_at", "resolution"],
        "staging.stg_landing__disputes",
    )
    by_document: dict[str, list[tuple[dt.date, dt.date | None]]] = {}
    changes: list[Change] = []
    for row in disputes.itertuples(index=False):
        opened = _day(row.opened_at)
        if opened is None or opened > window.as_of:
            continue
        resolved = _day(row.resolved_at)
        resolved = resolved if resolved is not None and resolved <= window.as_of else None
        by_document.setdefault(str(row.document_id), []).append((opened, resolved))
        if window.contains(resolved):
            changes.append(
                Change(
                    ChangeKind.DISPUTE_RESOLUTION,
                    str(row.dispute_id),
                    "dispute.resolution",
                    {
                        "document_id": str(row.document_id),
                        "resolution": _text(row.resolution) or "unspecified",
                        "resolved_date": resolved,
                    },
                )
            )
    for document, spans in by_document.items():
        is_open = any(resolved is None for _, resolved in spans)
        recent = any(window.contains(opened) or window.contains(resolved) for opened, resolved in spans)
        if is_open or recent:
            changes.append(Change(ChangeKind.DISPUTE_FLAG, document, "invoice.dispute_flag", is_open))
    return changes


def note_changes(activities: pd.DataFrame, window: Window) -> list[Change]:
    """Collector notes (activities of kind ``note`` with text) dated within the window."""
    _require(
        activities,
        ["activity_id", "customer_id", "document_id", "activity_date", "kind", "text", "author"],
        "staging.stg_landing__activities",
    )
    changes = []
    notes = activities[(activities["kind"] == "note").fillna(False).astype(bool)]  # 4 % of a million activities
    for row in notes.itertuples(index=False):
        day = _day(row.activity_date)
        if row.kind != "note" or _missing(row.text) or not str(row.text).strip() or not window.contains(day):
            continue
        changes.append(
            Change(
                ChangeKind.NOTE,
                str(row.activity_id),
                "note.text",
                {
                    "customer_id": _text(row.customer_id),
                    "document_id": _text(row.document_id),
                    "activity_date": day,
                    "text": str(row.text),
                    "author": _text(row.author),
                },
            )
        )
    return changes


def _scored_as_of(frame: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """The rows scored for the as-of date when the relation keeps a history of scoring dates."""
    if "as_of_date" not in frame.columns:
        return frame
    return frame[[_day(v) == as_of for v in frame["as_of_date"]]]


def risk_band_changes(
    invoice_scores: pd.DataFrame | None, customer_scores: pd.DataFrame | None, as_of: dt.date
) -> list[Change]:
    """Risk bands of invoices (``ml.invoice_risk_scores``) and customers (``ml.customer_risk_scores``)."""
    changes = []
    for frame, key, field, what in (
        (invoice_scores, "invoice_id", "invoice.risk_band", "ml.invoice_risk_scores"),
        (customer_scores, "customer_id", "customer.risk_band", "ml.customer_risk_scores"),
    ):
        if frame is None:
            continue
        _require(frame, [key, "band"], what)
        for entity, band in zip(*(_scored_as_of(frame, as_of)[c] for c in (key, "band")), strict=True):
            if not _missing(band):
                changes.append(Change(ChangeKind.RISK_BAND, str(entity), field, str(band)))
    return changes


def collector_changes(queue: pd.DataFrame, as_of: dt.date) -> list[Change]:
    """The collector Inflow assigns each customer, from ``marts.collector_queue``: the owner of
    its rows in the collections queue (its disputed invoices go to the dispute owner, who is not
    its collector). Should a customer's rows name two collectors, the one of most rows wins,
    ties to the first name alphabetically.
    """
    _require(queue, ["customer_id", "queue_owner", "queue"], "marts.collector_queue")
    today = _scored_as_of(queue, as_of)
    today = today[today["queue"] == "collections"]
    counts: dict[str, dict[str, int]] = {}
    for customer, collector in zip(today["customer_id"], today["queue_owner"], strict=True):
        if not _missing(customer) and not _missing(collector):
            per = counts.setdefault(str(customer), {})
            per[str(collector)] = per.get(str(collector), 0) + 1
    return [
        Change(
            ChangeKind.COLLECTOR_ASSIGNMENT,
            customer,
            "customer.collector",
            min(per, key=lambda name: (-per[name], name)),
        )
        for customer, per in counts.items()
    ]


def stage_changes(stages: pd.DataFrame, as_of: dt.date) -> list[Change]:
    """Collection (dunning) stage per invoice and per customer: rows with ``stage`` and an
    ``invoice_id`` (invoice stage) or only a ``customer_id`` (customer stage)."""
    _require(stages, ["stage"], "collection stages")
    if "invoice_id" not in stages.columns and "customer_id" not in stages.columns:
        raise InputError("collection stages need an invoice_id or a customer_id column")
    changes = []
    for row in _scored_as_of(stages, as_of).to_dict("records"):
        if _missing(row["stage"]):
            continue
        invoice = _text(row.get("invoice_id"))
        customer = _text(row.get("customer_id"))
        if invoice or customer:
            field = "invoice.collection_stage" if invoice else "customer.collection_stage"
            changes.append(Change(ChangeKind.COLLECTION_STAGE, invoice or customer, field, _stage(row["stage"])))
    return changes


def _stage(value: Any) -> str | int:
    """A dunning level as a whole number (2.0 read from a float column is 2), a named stage as text."""
    if isinstance(value, numbers.Integral) or (isinstance(value, float) and value.is_integer()):
        return int(value)
    return str(value)


@dataclass(frozen=True)
class WarehouseFrames:
    """The relations the changes come from; ``None`` where the warehouse does not have one yet."""

    promise_outcomes: pd.DataFrame | None = None
    disputes: pd.DataFrame | None = None
    activities: pd.DataFrame | None = None
    invoice_scores: pd.DataFrame | None = None
    customer_scores: pd.DataFrame | None = None
    collector_queue: pd.DataFrame | None = None
    collection_stages: pd.DataFrame | None = None
    invoices: pd.DataFrame | None = None
    customers: pd.DataFrame | None = None


def derive_changes(frames: WarehouseFrames, as_of: dt.date, lookback_days: int) -> list[Change]:
    """Every change the warehouse implies as of a date, in a stable order (kind, field, entity)."""
    window = Window(as_of, lookback_days)
    changes: list[Change] = []
    if frames.promise_outcomes is not None:
        changes += promise_changes(frames.promise_outcomes, window, currency_lookup(frames.invoices, frames.customers))
    if frames.disputes is not None:
        changes += dispute_changes(frames.disputes, window)
    if frames.activities is not None:
        changes += note_changes(frames.activities, window)
    changes += risk_band_changes(frames.invoice_scores, frames.customer_scores, as_of)
    if frames.collector_queue is not None:
        changes += collector_changes(frames.collector_queue, as_of)
    if frames.collection_stages is not None:
        changes += stage_changes(frames.collection_stages, as_of)
    return sorted(changes, key=lambda c: (c.kind.value, c.field, c.entity_key))


def complete_state_kinds(frames: WarehouseFrames, as_of: dt.date) -> frozenset[ChangeKind]:
    """The state kinds derived for every entity that has one as of the date: their relation is
    there and holds rows of that date. An unsent change of one whose entity was not derived again
    is withdrawn (``OutboxStore.enqueue``). The dispute flag is not among them: a flag coming down
    is derived only within the lookback window, so its absence says nothing."""

    def fresh(frame: pd.DataFrame | None) -> bool:
        return frame is not None and not _scored_as_of(frame, as_of).empty

    kinds = set()
    if fresh(frames.collection_stages):
        kinds.add(ChangeKind.COLLECTION_STAGE)
    if fresh(frames.collector_queue):
        kinds.add(ChangeKind.COLLECTOR_ASSIGNMENT)
    if fresh(frames.invoice_scores) and fresh(frames.customer_scores):
        kinds.add(ChangeKind.RISK_BAND)
    return frozenset(kinds)
