"""Builders of forecast input frames for tests: hand-made companies and a synthetic one.

The frames have exactly the columns of the dbt models of schema ``forecast`` (and of the
customer and FX relations the forecast reads), so the same frames can be written into a DuckDB
file to exercise the Dagster assets.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import numpy as np
import pandas as pd

from models.forecast_state import ForecastInputs

INVOICE_COLUMNS = [
    "invoice_id",
    "customer_id",
    "segment",
    "document_type",
    "currency",
    "invoice_date",
    "due_date",
    "amount",
    "dispute_opened_date",
    "dispute_resolved_date",
]
EVENT_COLUMNS = ["invoice_id", "event_type", "source_id", "known_date", "effective_date", "amount"]
LEDGER_COLUMNS = ["payment_id", "customer_id", "currency", "movement", "movement_date", "payment_date", "amount"]
PROMISE_COLUMNS = [
    "promise_id",
    "customer_id",
    "document_id",
    "created_date",
    "promised_date",
    "evaluation_date",
    "promised_amount",
    "outcome",
    "is_judged",
    "is_kept",
]
PLAN_COLUMNS = [
    "plan_id",
    "customer_id",
    "currency",
    "expected_invoice_date",
    "amount",
    "kind",
    "invoice_id",
    "invoice_date",
]
DATE_COLUMNS = {
    "invoice_date",
    "due_date",
    "dispute_opened_date",
    "dispute_resolved_date",
    "known_date",
    "effective_date",
    "movement_date",
    "payment_date",
    "created_date",
    "promised_date",
    "evaluation_date",
    "expected_invoice_date",
    "rate_date",
}


def frame(rows: Iterable[dict], columns: list[str]) -> pd.DataFrame:
    """A frame with exactly ``columns`` (missing keys null), dates as datetime64."""
    out = pd.DataFrame(list(rows), columns=columns)
    for col in columns:
        if col in DATE_COLUMNS:
            out[col] = pd.to_datetime(out[col])
        elif col in ("amount", "promised_amount", "rate_to_reporting"):
            out[col] = out[col].astype(np.float64)
        else:
            out[col] = out[col].astype(object)
    return out


def inputs(
    invoices: Iterable[dict],
    events: Iterable[dict],
    *,
    ledger: Iterable[dict] = (),
    promises: Iterable[dict] = (),
    plans: Iterable[dict] = (),
    customers: Iterable[dict] = (),
    rates: dict[str, float] | None = None,
    first_rate_day: dt.date = dt.date(2020, 1, 1),
    reporting_currency: str = "USD",
) -> ForecastInputs:
    """ForecastInputs from row dicts; FX is one constant rate per currency from ``first_rate_day``."""
    inv = frame(({"document_type": "invoice", "segment": "smb", **r} for r in invoices), INVOICE_COLUMNS)
    cust = pd.DataFrame(list(customers), columns=["customer_id", "segment"])
    if cust.empty:
        cust = inv[["customer_id", "segment"]].drop_duplicates("customer_id").reset_index(drop=True)
    fx = frame(
        (
            {"rate_date": first_rate_day, "currency": c, "rate_to_reporting": r}
            for c, r in (rates or {reporting_currency: 1.0}).items()
        ),
        ["rate_date", "currency", "rate_to_reporting"],
    )
    return ForecastInputs(
        invoices=inv,
        events=frame(({"event_type": "payment", **r} for r in events), EVENT_COLUMNS),
        cash_ledger=frame(ledger, LEDGER_COLUMNS),
        promises=frame(promises, PROMISE_COLUMNS),
        plan_lines=frame(plans, PLAN_COLUMNS),
        customers=cust,
        fx_rates=fx,
        reporting_currency=reporting_currency,
    )


def paid_history(
    customer: str,
    currency: str,
    origin: dt.date,
    lags: Iterable[int],
    *,
    first_due_days_back: int = 200,
    last_due_days_back: int = 10,
    step_days: int = 10,
    amount: float = 100.0,
    terms_days: int = 30,
    prefix: str = "H",
) -> tuple[list, list]:
    """Invoices of a customer due every ``step_days`` from ``first_due_days_back`` to
    ``last_due_days_back`` days before the origin, each paid in full ``lag`` days after its due
    date (lags cycle), recorded the day it was paid; one not paid by the origin is left out."""
    lags = list(lags)
    invoices, events = [], []
    for i, back in enumerate(range(first_due_days_back, last_due_days_back - 1, -step_days)):
        due = origin - dt.timedelta(days=back)
        paid = due + dt.timedelta(days=lags[i % len(lags)])
        if paid > origin:
            continue
        iid = f"{prefix}-{customer}-{i:03d}"
        invoices.append(
            {
                "invoice_id": iid,
                "customer_id": customer,
                "currency": currency,
                "invoice_date": due - dt.timedelta(days=terms_days),
                "due_date": due,
                "amount": amount,
            }
        )
        events.append({"invoice_id": iid, "known_date": paid, "effective_date": paid, "amount": amount})
    return invoices, events


def synthetic_company(
    seed: int, *, customers: int = 80, invoices: int = 4000, as_of: dt.date = dt.date(2026, 6, 30), days: int = 720
) -> ForecastInputs:
    """A company whose customers pay with their own lag distribution, a drifting monthly shock per
    customer (so a customer's invoices are early or late together) and payment runs on a weekday.

    Two currencies, a few defaults (never paid, written off 200 days after due), partial payments
    and a billing plan; everything known on the day it happened.
    """
    rng = np.random.default_rng(seed)
    start = as_of - dt.timedelta(days=days)
    base_lag = rng.normal(4.0, 8.0, customers)
    spread = rng.uniform(2.0, 8.0, customers)
    run_day = rng.integers(0, 7, customers)
    currency = np.where(rng.random(customers) < 0.7, "USD", "EUR")
    size = rng.lognormal(7.0, 0.8, customers)
    defaulter = rng.random(customers) < 0.04
    months = days // 30 + 6
    shock = np.cumsum(rng.normal(0.0, 3.0, (customers, months)), axis=1) * 0.7

    cust = rng.integers(0, customers, invoices)
    issue = np.array([start + dt.timedelta(days=int(k)) for k in np.sort(rng.integers(0, days, invoices))])
    due = np.array([d + dt.timedelta(days=30) for d in issue])
    month = np.array([((d - start).days // 30) for d in due]).clip(0, months - 1)
    lag = base_lag[cust] + shock[cust, month] + spread[cust] * (rng.gamma(2.0, 1.0, invoices) - 2.0)
    pay = np.array([d + dt.timedelta(days=round(x)) for d, x in zip(due, lag, strict=True)])
    pay = np.array([max(p, i + dt.timedelta(days=1)) for p, i in zip(pay, issue, strict=True)])
    pay = np.array([p + dt.timedelta(days=int((run_day[c] - p.weekday()) % 7)) for p, c in zip(pay, cust, strict=True)])
    amount = np.round(size[cust] * rng.lognormal(0.0, 0.5, invoices), 2)
    partial = rng.random(invoices) < 0.08

    inv_rows, ev_rows, ledger_rows = [], [], []
    for i in range(invoices):
        iid = f"INV-{i:06d}"
        c = int(cust[i])
        cid = f"C{c:03d}"
        inv_rows.append(
            {
                "invoice_id": iid,
                "customer_id": cid,
                "currency": currency[c],
                "invoice_date": issue[i],
                "due_date": due[i],
                "amount": amount[i],
                "segment": "enterprise" if size[c] > 2500 else "smb",
            }
        )
        if defaulter[c] and due[i] > start + dt.timedelta(days=days // 2):
            wo = due[i] + dt.timedelta(days=200)
            if wo <= as_of:
                ev_rows.append(
                    {
                        "invoice_id": iid,
                        "event_type": "write_off",
                        "known_date": wo,
                        "effective_date": wo,
                        "amount": amount[i],
                    }
                )
            continue
        parts = [(pay[i], amount[i])]
        if partial[i]:
            first = round(amount[i] * 0.5, 2)
            parts = [(pay[i], first), (pay[i] + dt.timedelta(days=28), round(amount[i] - first, 2))]
        for k, (day, part) in enumerate(parts):
            if day > as_of:
                continue
            pid = f"PAY-{i:06d}-{k}"
            ev_rows.append(
                {
                    "invoice_id": iid,
                    "event_type": "payment",
                    "source_id": pid,
                    "known_date": day,
                    "effective_date": day,
                    "amount": part,
                }
            )
            ledger_rows += [
                {
                    "payment_id": pid,
                    "customer_id": cid,
                    "currency": currency[c],
                    "movement": m,
                    "movement_date": day,
                    "payment_date": day,
                    "amount": part,
                }
                for m in ("received", "applied")
            ]
    return inputs(
        inv_rows,
        ev_rows,
        ledger=ledger_rows,
        rates={"USD": 1.0, "EUR": 1.1},
        first_rate_day=start - dt.timedelta(days=30),
    )
