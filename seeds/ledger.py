"""The receivables ledger: documents issued each month and everything that later happens to them.

Generation streams month by month. When a month's invoices are issued, their whole future is
drawn at once, vectorised: credit notes, instalments, short payments, write-offs, disputes,
promises and collector activity. Events dated in later months wait in an :class:`EventQueue`
(columnar arrays, a few months of events at most) until their month is closed; closing a month
groups its payment events into payments (a customer's payment run settles several invoices with
one payment), numbers credit memos and releases applications and write-offs. Because every
event of an invoice is known when it is issued, the ERP's open balance as of the as-of date is
exact: amount - applications - write-offs dated on or before it.

Event dates after the as-of date are never exported, so the export is the ledger as the ERP
saw it that day: recent invoices open, payments received but not yet applied, disputes open.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seeds.billing import USAGE, Plans
from seeds.calendar import (
    SECONDS_PER_DAY,
    Month,
    end_of_following_month,
    month_of,
    next_business_day,
    next_weekday,
    previous_business_day,
)
from seeds.population import EOM_TERMS, TERM_DAYS, Population
from seeds.records import Records
from seeds.workflow import (
    CALL,
    CREDIT_ISSUED,
    DISPUTE_NOTE,
    DISPUTE_REASONS,
    ESCALATION,
    FINAL_DEMAND,
    PROMISE_NOTE,
    REMINDER,
    Activities,
    Disputes,
    Promises,
)

DOC_TYPES = ("invoice", "credit_memo", "debit_memo")
INVOICE, CREDIT_MEMO, DEBIT_MEMO = range(3)
PAYMENT, CREDIT, WRITE_OFF = range(3)  # event kinds
WRITE_OFF_REASONS = ("small_balance", "bankruptcy", "uncollectible")
SMALL_BALANCE, BANKRUPTCY, UNCOLLECTIBLE = range(3)
STATUSES = ("open", "partially_paid", "closed", "written_off")
OPEN, PARTIALLY_PAID, CLOSED, WRITTEN_OFF = range(4)

#: Probabilities of the ledger's per-document behaviours (customer-specific ones live on the
#: population): a pricing credit without dispute, an invoice lost in the customer's process,
#: a short payment, a collector asking for a promise, a payment received but applied later.
P_ADJUSTMENT_CREDIT = 0.015
P_STUCK = 0.003
P_SHORT_PAY = 0.02
P_PROMISE_ASKED = 0.45
P_DEBIT_MEMO = 0.012
P_DUE_DATE_MISSING_ON_DEBIT_MEMO = 0.25
P_OVERPAYMENT = 0.01
P_ON_ACCOUNT = 0.005
P_OPEN_CREDIT = 0.003
PROMISE_GRACE_DAYS = 5
DAY_START, DAY_END = 7 * 3600, 19 * 3600  # office hours for timestamps
NO_DAY = np.iinfo(np.int32).max


class Sequences:
    """Running document and record numbers, so ids are unique and ordered across months."""

    def __init__(self) -> None:
        self._next: dict[str, int] = {}

    def take(self, name: str, n: int) -> np.ndarray:
        start = self._next.get(name, 1)
        self._next[name] = start + n
        return np.arange(start, start + n, dtype=np.int64)


@dataclass(frozen=True)
class Documents(Records):
    """Invoices and debit memos issued in one month."""

    doc_type: np.ndarray
    number: np.ndarray
    customer: np.ndarray
    day: np.ndarray
    due_day: np.ndarray  # -1 when the ERP has no due date
    amount: np.ndarray  # cents, gross of tax
    tax: np.ndarray
    po_number: np.ndarray  # -1 without purchase order
    plan: np.ndarray  # index into the month's invoiced plans, -1 for transactional documents


@dataclass(frozen=True)
class Events(Records):
    """Dated changes to documents' balances, waiting for their month to be closed."""

    kind: np.ndarray  # PAYMENT, CREDIT or WRITE_OFF
    doc_type: np.ndarray
    doc_number: np.ndarray
    customer: np.ndarray
    amount: np.ndarray
    day: np.ndarray  # payment date / credit memo date / write-off date
    app_day: np.ndarray  # date the payment is applied (== day for credits and write-offs)
    aux: np.ndarray  # credit memo tax, or write-off reason
    payment_no: np.ndarray  # assigned when the payment month is closed, -1 before


@dataclass(frozen=True)
class Settlement:
    """What the issue of one month's documents sets in motion."""

    open_amount: np.ndarray  # ERP open balance as of the as-of date, per document
    status: np.ndarray  # index into STATUSES, per document
    last_modified: np.ndarray  # epoch seconds, per document
    events: Events
    activities: Activities
    promises: Promises
    disputes: Disputes


@dataclass(frozen=True)
class Payments(Records):
    number: np.ndarray
    customer: np.ndarray
    day: np.ndarray
    amount: np.ndarray  # may exceed what is applied: over-payments and unidentified receipts


@dataclass(frozen=True)
class Applications(Records):
    payer_type: np.ndarray  # PAYMENT, or CREDIT for a credit memo applied to a document
    payer_number: np.ndarray
    doc_type: np.ndarray
    doc_number: np.ndarray
    amount: np.ndarray
    day: np.ndarray


@dataclass(frozen=True)
class CreditMemos(Records):
    number: np.ndarray
    customer: np.ndarray
    day: np.ndarray
    amount: np.ndarray  # positive cents
    tax: np.ndarray
    open_amount: np.ndarray  # 0 once applied, the full amount for an unapplied credit


@dataclass(frozen=True)
class WriteOffs(Records):
    doc_type: np.ndarray
    doc_number: np.ndarray
    amount: np.ndarray
    day: np.ndarray
    reason: np.ndarray


@dataclass(frozen=True)
class MonthClose:
    payments: Payments
    applications: Applications
    credit_memos: CreditMemos
    write_offs: WriteOffs


def _time_of_day(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(DAY_START, DAY_END, n)


def _customer_bounds(pop: Population, customers: np.ndarray, month: Month, as_of: int):
    lo = np.maximum(pop.start_day[customers], month.first_day)
    hi = np.minimum(np.minimum(pop.end_day[customers], month.last_day), as_of)
    return lo, np.maximum(hi, lo)


def _draw_customers(rng: np.random.Generator, pop: Population, month: Month, n: int) -> np.ndarray:
    weights = pop.activity * pop.active_between(month.first_day, month.last_day)
    return rng.choice(len(pop), n, p=weights / weights.sum())


def due_days(pop: Population, customers: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Due date from the customer's terms (NETn, or EOM: end of the following month)."""
    terms = pop.terms[customers]
    return np.where(terms == EOM_TERMS, end_of_following_month(days), days + TERM_DAYS[terms]).astype(np.int32)


def issue_documents(
    rng: np.random.Generator,
    pop: Population,
    month: Month,
    as_of: int,
    plans: Plans,
    n_transactional: int,
    seq: Sequences,
) -> Documents:
    """Invoices from plans plus transactional invoices and debit memos, numbered by date."""
    last = min(month.last_day, as_of)
    slip = np.where(rng.random(len(plans)) < 0.85, 0, rng.integers(1, 4, len(plans)))
    plan_day = np.minimum(plans.day + slip, last)
    plan_amount = np.where(
        plans.kind == USAGE, np.round(plans.amount * rng.lognormal(0.0, 0.2, len(plans))), plans.amount
    ).astype(np.int64)

    n_debit = int(rng.binomial(n_transactional + len(plans), P_DEBIT_MEMO))
    customers = _draw_customers(rng, pop, month, n_transactional + n_debit)
    lo, hi = _customer_bounds(pop, customers, month, as_of)
    free_day = np.maximum(previous_business_day(lo + (rng.random(len(customers)) * (hi - lo + 1)).astype(np.int64)), lo)
    is_debit = np.arange(len(customers)) >= n_transactional
    median = np.where(is_debit, np.log(15_000.0), pop.size_mu[customers])
    free_amount = np.round(np.exp(median + rng.normal(0.0, np.where(is_debit, 0.7, 0.8)))).astype(np.int64)

    customer = np.concatenate([plans.customer, customers])
    day = np.concatenate([plan_day, free_day]).astype(np.int32)
    doc_type = np.concatenate([np.full(len(plans), INVOICE), np.where(is_debit, DEBIT_MEMO, INVOICE)]).astype(np.int8)
    amount = np.maximum(np.concatenate([plan_amount, free_amount]), 1_000)
    plan = np.concatenate([np.arange(len(plans)), np.full(len(customers), -1)])
    order = np.lexsort((customer, doc_type, day))
    customer, day, doc_type, amount, plan = (a[order] for a in (customer, day, doc_type, amount, plan))

    due = due_days(pop, customer, day)
    due[(doc_type == DEBIT_MEMO) & (rng.random(len(day)) < P_DUE_DATE_MISSING_ON_DEBIT_MEMO)] = -1
    rate = pop.tax_rate[customer]
    number = np.empty(len(day), dtype=np.int64)
    for t in (INVOICE, DEBIT_MEMO):
        mask = doc_type == t
        number[mask] = seq.take(DOC_TYPES[t], int(mask.sum()))
    return Documents(
        doc_type=doc_type,
        number=number,
        customer=customer.astype(np.int64),
        day=day,
        due_day=due,
        amount=amount,
        tax=np.round(amount * rate / (1 + rate)).astype(np.int64),
        po_number=np.where(pop.po_required[customer], rng.integers(100_000, 1_000_000, len(day)), -1),
        plan=plan,
    )


def _application_lag(customer: np.ndarray, day: np.ndarray, salt: int) -> np.ndarray:
    """Days between receiving and applying a payment, the same for every invoice it settles.

    A hash of (customer, payment date) rather than a random draw, so all the invoices one
    payment settles — drawn in different months — get the same application date.
    """
    with np.errstate(over="ignore"):
        x = customer.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        x += day.astype(np.uint64) * np.uint64(0xBF58476D1CE4E5B9) + np.uint64(salt)
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    u = (x >> np.uint64(11)).astype(np.float64) / 2.0**53
    return np.where(u < 0.88, 0, 1 + np.minimum((u - 0.88) / 0.12 * 6, 5)).astype(np.int32)


def _expected_delay(rng: np.random.Generator, pop: Population, c: np.ndarray, due: np.ndarray, amount: np.ndarray):
    """Days after due the customer would pay this invoice: its archetype and trend at the due
    date, the season of the due date, a larger-than-usual invoice, and right-skewed noise."""
    trend = pop.trend_per_day[c] * np.maximum(due - pop.trend_start[c], 0)
    trend = np.clip(trend, np.minimum(0.0, 2.0 - pop.delay_mean[c]), 80.0)  # improvers level off at +2
    month = month_of(due)
    season = np.where(month == 12, pop.december_effect[c], 0.0)
    season += np.where((month == 7) | (month == 8), pop.summer_effect[c], 0.0)
    size = np.clip(1.5 * (np.log(amount) - pop.size_mu[c]), -3.0, 6.0)
    noise = pop.delay_sd[c] * (rng.gamma(2.0, 1.0, len(c)) - 2.0) / np.sqrt(2.0)
    return pop.delay_mean[c] + trend + season + size + noise


def _snap_to_payment_run(pop: Population, c: np.ndarray, day: np.ndarray) -> np.ndarray:
    run = pop.payment_weekday[c]
    return np.where(run >= 0, next_weekday(day, run.astype(np.int64)), next_business_day(day)).astype(np.int32)


@dataclass(frozen=True)
class _Disputes:
    disputed: np.ndarray
    opened: np.ndarray
    resolved: np.ndarray
    resolution: np.ndarray
    credit: np.ndarray  # cents credited (by a dispute resolution or a pricing adjustment)
    credit_day: np.ndarray
    credited_by_dispute: np.ndarray


@dataclass(frozen=True)
class _Promises:
    asked: np.ndarray
    created: np.ndarray
    promised: np.ndarray


@dataclass(frozen=True)
class _Cash:
    """Up to two instalments per document and whatever is written off instead of paid."""

    part1: np.ndarray
    part2: np.ndarray
    day1: np.ndarray
    day2: np.ndarray
    paid1: np.ndarray
    paid2: np.ndarray
    app1: np.ndarray
    app2: np.ndarray
    written_off: np.ndarray
    wo_day: np.ndarray
    wo_reason: np.ndarray


def _draw_disputes(rng: np.random.Generator, pop: Population, docs: Documents, pay: np.ndarray) -> _Disputes:
    """Disputes (likelier on unusually large invoices) hold payment until resolved; a
    resolution may credit part or all of the invoice. Undisputed invoices sometimes get a
    pricing credit before they are paid."""
    n, c, amount, day = len(docs), docs.customer, docs.amount, docs.day
    disputed = rng.random(n) < pop.p_dispute[c] * np.where(np.log(amount) > pop.size_mu[c] + 0.7, 1.5, 1.0)
    opened = day + rng.integers(3, 46, n)
    resolved = opened + 5 + np.rint(rng.gamma(2.0, 10.0, n)).astype(np.int64)
    resolution = rng.choice(3, n, p=[0.45, 0.40, 0.15])
    by_dispute = disputed & (resolution == CREDIT_ISSUED)
    adjustment = ~disputed & (rng.random(n) < P_ADJUSTMENT_CREDIT)
    fraction = np.where(
        by_dispute & (rng.random(n) < 0.3),
        1.0,
        np.where(by_dispute, rng.uniform(0.05, 0.5, n), rng.uniform(0.02, 0.2, n)),
    )
    credit = np.where(by_dispute | adjustment, np.clip(np.round(amount * fraction), 1, amount), 0).astype(np.int64)
    credit_day = np.where(disputed, resolved, np.clip(day + rng.integers(5, 41, n), day + 1, pay - 1))
    return _Disputes(disputed, opened, resolved, resolution, credit, credit_day, by_dispute)


def _draw_promises(
    rng: np.random.Generator,
    pop: Population,
    c: np.ndarray,
    due: np.ndarray,
    pay: np.ndarray,
    never: np.ndarray,
    to_pay: np.ndarray,
) -> tuple[_Promises, np.ndarray]:
    """Collectors ask late payers for a promise to pay; a customer keeps it with its own
    propensity, which pulls its payment forward. Returns the promises and the new payment days."""
    n = len(c)
    asked = (never | (pay > due + 10)) & (rng.random(n) < P_PROMISE_ASKED) & (to_pay > 0)
    created = due + rng.integers(5, 26, n)
    asked &= never | (created < pay - 1)
    promised = created + rng.integers(3, 15, n)
    keeps = asked & ~never & (rng.random(n) < pop.p_keep_promise[c])
    pay = np.where(keeps, np.maximum(created + 1, promised - rng.integers(0, 3, n)), pay)
    return _Promises(asked, created, promised), pay


def _draw_cash(
    rng: np.random.Generator,
    pop: Population,
    c: np.ndarray,
    due: np.ndarray,
    pay: np.ndarray,
    to_pay: np.ndarray,
    stuck: np.ndarray,
    salt: int,
) -> _Cash:
    """Instalments and short payments on the customer's payment-run days, the application lag,
    and the write-off of whatever is never paid: small short-paid balances after a month, a
    defaulter's items with its account, an invoice lost in the customer's process after a year."""
    n = len(c)
    partial = (rng.random(n) < pop.p_partial[c]) & (to_pay >= 2_000)
    part1 = np.where(partial, np.round(to_pay * rng.uniform(0.3, 0.7, n)), to_pay).astype(np.int64)
    short = (rng.random(n) < P_SHORT_PAY) & (to_pay >= 5_000)
    short_by = np.where(short, np.minimum(rng.integers(100, 2_501, n), to_pay // 50), 0)
    part2 = np.where(partial, to_pay - part1 - short_by, 0)
    part1 = np.where(partial, part1, part1 - short_by)
    day1 = _snap_to_payment_run(pop, c, pay)
    day2 = _snap_to_payment_run(pop, c, pay + rng.integers(14, 61, n))
    default_day = pop.default_day[c]
    paid1 = ~stuck & (day1 < default_day) & (part1 > 0)
    paid2 = ~stuck & (day2 < default_day) & (part2 > 0)

    written_off = to_pay - part1 * paid1 - part2 * paid2
    missed = ((part1 > 0) & ~paid1) | ((part2 > 0) & ~paid2)
    reason = np.where(stuck, UNCOLLECTIBLE, np.where(missed, BANKRUPTCY, SMALL_BALANCE))
    wo_day = np.select(
        [reason == UNCOLLECTIBLE, reason == BANKRUPTCY],
        [due + rng.integers(365, 541, n), np.maximum(pop.write_off_day[c], due + 120)],
        np.where(paid2, day2, day1) + rng.integers(20, 46, n),
    )
    return _Cash(
        part1,
        part2,
        day1,
        day2,
        paid1,
        paid2,
        day1 + _application_lag(c, day1, salt),
        day2 + _application_lag(c, day2, salt),
        written_off,
        wo_day,
        reason,
    )


def settle(
    rng: np.random.Generator, pop: Population, docs: Documents, as_of: int, salt: int, horizon: int | None = None
) -> Settlement:
    """Draw the complete future of ``docs``; keep what happens on or before ``horizon``.

    The balances, statuses and stamps of the documents are as of ``as_of`` (at most
    ``horizon``, its default); the events and workflow records run to ``horizon`` so that what
    is drawn, and every id numbered from it, does not depend on ``as_of``: the caller cuts them
    at ``as_of`` when it writes them. Any ``as_of`` up to a horizon so sees the same past.
    """
    horizon = as_of if horizon is None else horizon
    n = len(docs)
    c = docs.customer
    due = np.where(docs.due_day >= 0, docs.due_day, docs.day + 30)
    pay = due + np.rint(_expected_delay(rng, pop, c, due, docs.amount)).astype(np.int64)
    pay = np.maximum(pay, docs.day + 3)
    dispute = _draw_disputes(rng, pop, docs, pay)
    pay = np.where(dispute.disputed, np.maximum(pay, dispute.resolved + rng.integers(2, 16, n)), pay)
    to_pay = docs.amount - dispute.credit
    stuck = rng.random(n) < P_STUCK
    promise, pay = _draw_promises(rng, pop, c, due, pay, stuck | (pay >= pop.default_day[c]), to_pay)
    cash = _draw_cash(rng, pop, c, due, pay, to_pay, stuck, salt)

    has_credit, has_wo = dispute.credit > 0, cash.written_off > 0
    dated = [  # (kind, happens, amount, day, application day, aux)
        (PAYMENT, cash.paid1, cash.part1, cash.day1, cash.app1, 0),
        (PAYMENT, cash.paid2, cash.part2, cash.day2, cash.app2, 0),
        (
            CREDIT,
            has_credit,
            dispute.credit,
            dispute.credit_day,
            dispute.credit_day,
            np.round(docs.tax * dispute.credit / docs.amount).astype(np.int64),
        ),
        (WRITE_OFF, has_wo, cash.written_off, cash.wo_day, cash.wo_day, cash.wo_reason),
    ]
    counted = sum(amount * (happens & (app <= as_of)) for _, happens, amount, _, app, _ in dated)
    open_amount = docs.amount - counted
    status = np.select(
        [open_amount == docs.amount, open_amount > 0, has_wo & (cash.wo_day <= as_of)],
        [OPEN, PARTIALLY_PAID, WRITTEN_OFF],
        CLOSED,
    ).astype(np.int8)
    seen = np.stack([docs.day] + [np.where(h & (app <= as_of), app, 0) for _, h, _, _, app, _ in dated])
    last_modified = seen.max(axis=0) * SECONDS_PER_DAY + _time_of_day(rng, n)
    cleared = np.stack([np.where(h, app, 0) for _, h, _, _, app, _ in dated]).max(axis=0)
    events = _events(docs, [(k, h & (d <= horizon), a, d, app, x) for k, h, a, d, app, x in dated])

    final_pay = np.where(
        cash.part2 > 0, np.where(cash.paid2, cash.day2, NO_DAY), np.where(cash.paid1, cash.day1, NO_DAY)
    )
    return Settlement(
        open_amount,
        status,
        last_modified,
        events,
        _activities(docs, due, cleared, horizon, dispute, promise),
        _promise_records(rng, docs, promise, to_pay, final_pay, as_of, horizon),
        _dispute_records(rng, docs, dispute, as_of, horizon),
    )


def _promise_records(
    rng: np.random.Generator,
    docs: Documents,
    promise: _Promises,
    to_pay: np.ndarray,
    final_pay: np.ndarray,
    as_of: int,
    horizon: int,
) -> Promises:
    """Promises made by the horizon, with their status as of the as-of date: kept (paid within
    a grace period), broken, or open."""
    deadline = promise.promised + PROMISE_GRACE_DAYS
    status = np.select([(final_pay <= deadline) & (final_pay <= as_of), deadline < as_of], [1, 2], 0)
    keep = promise.asked & (promise.created <= horizon)
    return Promises(
        customer=docs.customer[keep],
        doc_type=docs.doc_type[keep],
        doc_number=docs.number[keep],
        promised_day=promise.promised[keep],
        amount=to_pay[keep],
        created=promise.created[keep] * SECONDS_PER_DAY + _time_of_day(rng, int(keep.sum())),
        status=status[keep].astype(np.int8),
    )


def _dispute_records(
    rng: np.random.Generator, docs: Documents, dispute: _Disputes, as_of: int, horizon: int
) -> Disputes:
    """Disputes opened by the horizon; those resolved after the as-of date are still open."""
    keep = dispute.disputed & (dispute.opened <= horizon)
    k = int(keep.sum())
    resolved = dispute.resolved[keep] <= as_of
    amount = docs.amount[keep]
    claimed = np.where(
        dispute.credited_by_dispute[keep],
        np.maximum(dispute.credit[keep], np.round(amount * rng.uniform(0.1, 1.0, k))),
        amount,
    ).astype(np.int64)
    return Disputes(
        doc_type=docs.doc_type[keep],
        doc_number=docs.number[keep],
        opened=dispute.opened[keep] * SECONDS_PER_DAY + _time_of_day(rng, k),
        amount=claimed,
        reason=rng.integers(0, len(DISPUTE_REASONS), k),
        resolved=np.where(resolved, dispute.resolved[keep] * SECONDS_PER_DAY + _time_of_day(rng, k), -1),
        resolution=np.where(resolved, dispute.resolution[keep], -1),
    )


def _events(docs: Documents, parts: list[tuple]) -> Events:
    out = []
    for kind, mask, amount, day, app_day, aux in parts:
        k = int(mask.sum())
        out.append(
            Events(
                kind=np.full(k, kind, dtype=np.int8),
                doc_type=docs.doc_type[mask],
                doc_number=docs.number[mask],
                customer=docs.customer[mask],
                amount=amount[mask].astype(np.int64),
                day=day[mask].astype(np.int32),
                app_day=app_day[mask].astype(np.int32),
                aux=np.broadcast_to(aux, mask.shape)[mask].astype(np.int64),
                payment_no=np.full(k, -1, dtype=np.int64),
            )
        )
    return Events.concat(out)


def _activities(
    docs: Documents, due: np.ndarray, cleared: np.ndarray, as_of: int, dispute: _Disputes, promise: _Promises
) -> Activities:
    """Dunning steps while a document stays unpaid, plus notes on disputes and promises."""
    always = np.ones(len(due), dtype=bool)
    steps = [
        (REMINDER, due + 3, always),
        (CALL, next_business_day(due + 21), always),
        (ESCALATION, due + 45, always),
        (FINAL_DEMAND, due + 90, always),
        (DISPUTE_NOTE, dispute.opened, dispute.disputed),
        (PROMISE_NOTE, promise.created, promise.asked),
    ]
    parts = []
    for template, day, applies in steps:
        mask = applies & (day <= as_of)
        if template < DISPUTE_NOTE:
            mask &= day < cleared
        k = int(mask.sum())
        parts.append(
            Activities(
                customer=docs.customer[mask],
                doc_type=docs.doc_type[mask],
                doc_number=docs.number[mask],
                day=day[mask].astype(np.int32),
                template=np.full(k, template, dtype=np.int8),
                promised_day=promise.promised[mask] if template == PROMISE_NOTE else np.full(k, -1),
            )
        )
    acts = Activities.concat(parts)
    return acts.subset(np.lexsort((acts.template, acts.doc_number, acts.day)))


class EventQueue:
    """Events waiting for their month to close: columnar, never one object per invoice."""

    def __init__(self) -> None:
        self.events: Events | None = None

    def push(self, events: Events) -> None:
        self.events = events if self.events is None else Events.concat([self.events, events])

    def __len__(self) -> int:
        return 0 if self.events is None else len(self.events)

    def close_month(
        self,
        rng: np.random.Generator,
        pop: Population,
        month: Month,
        as_of: int,
        seq: Sequences,
        issued_customers: np.ndarray,
    ) -> MonthClose:
        """Release everything dated in ``month``; events of later months stay queued."""
        if self.events is None:
            raise RuntimeError("close_month before any documents were issued")
        ev = self.events
        in_month = (ev.day >= month.first_day) & (ev.day <= month.last_day)
        pay_idx = np.flatnonzero((ev.kind == PAYMENT) & in_month)
        payments, payment_no = _group_payments(rng, pop, ev.subset(pay_idx), month, as_of, seq)
        ev.payment_no[pay_idx] = payment_no

        applied = (ev.kind == PAYMENT) & (ev.app_day >= month.first_day) & (ev.app_day <= min(month.last_day, as_of))
        credits = ev.subset((ev.kind == CREDIT) & in_month)
        credits = credits.subset(np.lexsort((credits.doc_number, credits.customer, credits.day)))
        cm_number = seq.take(DOC_TYPES[CREDIT_MEMO], len(credits))
        open_credits = _open_credits(rng, pop, month, as_of, issued_customers, seq)
        credit_memos = CreditMemos.concat(
            [
                CreditMemos(
                    cm_number,
                    credits.customer,
                    credits.day,
                    credits.amount,
                    credits.aux,
                    np.zeros(len(credits), dtype=np.int64),
                ),
                open_credits,
            ]
        )
        pay_apps = ev.subset(applied)
        applications = Applications.concat(
            [
                Applications(
                    np.full(len(pay_apps), PAYMENT, np.int8),
                    pay_apps.payment_no,
                    pay_apps.doc_type,
                    pay_apps.doc_number,
                    pay_apps.amount,
                    pay_apps.app_day,
                ),
                Applications(
                    np.full(len(credits), CREDIT, np.int8),
                    cm_number,
                    credits.doc_type,
                    credits.doc_number,
                    credits.amount,
                    credits.day,
                ),
            ]
        )
        applications = applications.subset(
            np.lexsort((applications.doc_number, applications.payer_number, applications.day))
        )
        wo = ev.subset((ev.kind == WRITE_OFF) & in_month)
        write_offs = WriteOffs(wo.doc_type, wo.doc_number, wo.amount, wo.day, wo.aux)
        write_offs = write_offs.subset(np.lexsort((write_offs.doc_number, write_offs.day)))

        done = np.where(ev.kind == PAYMENT, ev.app_day, ev.day) <= month.last_day
        self.events = ev.subset(~done)
        return MonthClose(payments, applications, credit_memos, write_offs)


def _group_payments(
    rng: np.random.Generator, pop: Population, ev: Events, month: Month, as_of: int, seq: Sequences
) -> tuple[Payments, np.ndarray]:
    """One payment per payment-run day for customers with a run, else one per instalment;
    plus a few over-payments and unidentified receipts that stay unapplied."""
    n = len(ev)
    batch = pop.payment_weekday[ev.customer] >= 0
    tiebreak = np.where(batch, -1, np.arange(n))
    order = np.lexsort((ev.doc_number, tiebreak, ev.customer, ev.day))
    c, d, t = ev.customer[order], ev.day[order], tiebreak[order]
    new = np.ones(n, dtype=bool)
    new[1:] = (c[1:] != c[:-1]) | (d[1:] != d[:-1]) | (t[1:] != t[:-1])
    starts = np.flatnonzero(new)
    group = np.empty(n, dtype=np.int64)
    group[order] = np.cumsum(new) - 1
    g_amount = np.add.reduceat(ev.amount[order], starts) if n else np.zeros(0, np.int64)
    g_customer, g_day = c[starts], d[starts]
    over = rng.random(len(starts)) < P_OVERPAYMENT
    g_amount = g_amount + np.where(
        over, np.maximum(np.round(g_amount * rng.uniform(0.01, 0.1, len(starts))), 100), 0
    ).astype(np.int64)

    k = int(rng.binomial(len(starts), P_ON_ACCOUNT)) if len(starts) else 0
    oa_customer = rng.choice(g_customer, k) if k else np.zeros(0, np.int64)
    last = min(month.last_day, as_of)
    oa_day = np.maximum(previous_business_day(rng.integers(month.first_day, last + 1, k)), month.first_day)
    oa_amount = np.round(np.exp(pop.size_mu[oa_customer] + rng.normal(-1.0, 0.5, k))).astype(np.int64)

    customer = np.concatenate([g_customer, oa_customer]).astype(np.int64)
    day = np.concatenate([g_day, oa_day]).astype(np.int32)
    amount = np.concatenate([g_amount, np.maximum(oa_amount, 1_000)])
    unapplied = np.concatenate([np.zeros(len(starts), bool), np.ones(k, bool)])
    final = np.lexsort((unapplied, customer, day))
    numbers = np.empty(len(final), dtype=np.int64)
    numbers[final] = seq.take("payment", len(final))
    payments = Payments(numbers, customer, day, amount).subset(final)
    return payments, numbers[group]


def _open_credits(
    rng: np.random.Generator, pop: Population, month: Month, as_of: int, customers: np.ndarray, seq: Sequences
) -> CreditMemos:
    """Goodwill and rebate credits not yet applied to anything: open credit on the account."""
    k = int(rng.binomial(len(customers), P_OPEN_CREDIT)) if len(customers) else 0
    who = np.sort(rng.choice(customers, k)) if k else np.zeros(0, np.int64)
    last = min(month.last_day, as_of)
    day = np.maximum(previous_business_day(rng.integers(month.first_day, last + 1, k)), month.first_day)
    amount = np.maximum(np.round(np.exp(pop.size_mu[who] + rng.normal(-1.5, 0.5, k))), 500).astype(np.int64)
    rate = pop.tax_rate[who]
    return CreditMemos(
        number=seq.take(DOC_TYPES[CREDIT_MEMO], k),
        customer=who.astype(np.int64),
        day=day.astype(np.int32),
        amount=amount,
        tax=np.round(amount * rate / (1 + rate)).astype(np.int64),
        open_amount=amount,
    )
