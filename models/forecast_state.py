"""The receivables book as it stood on an origin day: what the cash forecast starts from.

Everything here is point-in-time: an origin day sees invoices issued by then, balance events
recorded (known) by then, promises made by then and plan lines not yet invoiced by then. The
live forecast is the same function at origin = as-of date, so the backtest measures exactly
the code that publishes.

Rules (decision log: models/FORECAST_DECISIONS.md):
* unapplied cash received in the last ``unapplied_window_days`` before the origin has arrived
  already: it is never forecast, and it offsets the customer's open invoices in the same
  currency, oldest due date first (it is the payment of invoices not yet marked paid);
* a promise is pending from its creation through its evaluation day (promised date + grace);
  a customer-level promise is spread over the customer's open invoices, oldest due first;
* the customer's kept rate counts promises whose evaluation day is before the origin, shrunk
  toward the portfolio's rate;
* a plan line is pending when its expected invoice day is within the horizon (or up to
  ``plan_slip_days`` late) and its invoice had not been issued by the origin; it is realised
  with the share of past lines of its kind that became invoices (shrunk toward all kinds, and
  those toward ``plan_prior_rate``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.timing import NEVER, InvoiceHistory, day_numbers


@dataclass(frozen=True)
class ForecastInputs:
    """The frames the forecast reads, shaped like the dbt models of schema ``forecast``.

    invoices: int_forecast_invoices; events: int_forecast_invoice_events; cash_ledger:
    int_forecast_cash_ledger; promises: int_forecast_promises; plan_lines: int_forecast_plan_lines;
    customers: customer_id, segment (marts.dim_customers); fx_rates: rate_date, currency,
    rate_to_reporting (intermediate.int_fx_rates_daily).
    """

    invoices: pd.DataFrame
    events: pd.DataFrame
    cash_ledger: pd.DataFrame
    promises: pd.DataFrame
    plan_lines: pd.DataFrame
    customers: pd.DataFrame
    fx_rates: pd.DataFrame
    reporting_currency: str


@dataclass(frozen=True)
class StateConfig:
    """Windows and priors of the point-in-time reconstruction."""

    unapplied_window_days: int = 14
    plan_slip_days: int = 7
    plan_lookback_days: int = 365
    #: A plan line is judged (became an invoice or not) this many days after its expected day.
    plan_settle_days: int = 28
    promise_prior_strength: float = 3.0
    #: Realisation rate assumed for plan lines without history, and its weight in pseudo-lines.
    plan_prior_rate: float = 0.9
    plan_prior_strength: float = 2.0
    default_terms_days: int = 30


@dataclass(frozen=True)
class PreparedInputs:
    """Inputs coded once for many origins: the invoice history plus coded side tables."""

    history: InvoiceHistory
    ledger: pd.DataFrame  # customer (code), currency, movement, movement_day, payment_day, amount
    promises: (
        pd.DataFrame
    )  # customer (code), invoice (position or -1), created/promised/evaluation day, amount, outcome
    plans: pd.DataFrame  # plan_id, customer (code), segment (code), currency, expected_day, invoice_day, amount, kind
    fx: pd.DataFrame  # rate_day, currency, rate
    reporting_currency: str


def prepare(inputs: ForecastInputs) -> PreparedInputs:
    """Code customers, invoices and dates once; every origin reuses the result."""
    customers = (
        pd.concat(
            [
                inputs.customers[["customer_id", "segment"]],
                pd.DataFrame(
                    {
                        "customer_id": pd.concat(
                            [
                                inputs.plan_lines["customer_id"],
                                inputs.promises["customer_id"],
                                inputs.cash_ledger["customer_id"],
                            ]
                        )
                        .astype(str)
                        .unique(),
                        "segment": "unknown",
                    }
                ),
            ]
        )
        .astype({"customer_id": str})
        .drop_duplicates("customer_id", keep="first")
    )
    history = InvoiceHistory.from_frames(inputs.invoices, inputs.events, customers)
    code = history.customers.get_indexer
    ledger = pd.DataFrame(
        {
            "customer": code(inputs.cash_ledger["customer_id"].astype(str)),
            "currency": inputs.cash_ledger["currency"].to_numpy(object),
            "received": (inputs.cash_ledger["movement"] == "received").to_numpy(),
            "movement_day": day_numbers(inputs.cash_ledger["movement_date"]),
            "payment_day": day_numbers(inputs.cash_ledger["payment_date"]),
            "amount": inputs.cash_ledger["amount"].to_numpy(np.float64),
        }
    )
    invoice_pos = pd.Index(history.invoice_id).get_indexer(inputs.promises["document_id"])
    promises = pd.DataFrame(
        {
            "promise_id": inputs.promises["promise_id"].to_numpy(object),
            "customer": code(inputs.promises["customer_id"].astype(str)),
            "invoice": np.where(inputs.promises["document_id"].isna(), -1, invoice_pos),
            "created_day": day_numbers(inputs.promises["created_date"]),
            "promised_day": day_numbers(inputs.promises["promised_date"]),
            "evaluation_day": day_numbers(inputs.promises["evaluation_date"]),
            "amount": inputs.promises["promised_amount"].to_numpy(np.float64),
            # How an outcome counts in the kept rate is decided once, in int_promise_outcomes (P5).
            "kept": inputs.promises["is_kept"].astype(bool).to_numpy(),
            "judged": inputs.promises["is_judged"].astype(bool).to_numpy(),
        }
    )
    # A promise on a document the forecast does not know (a credit memo, a quarantined invoice) is dropped.
    promises = promises[~(inputs.promises["document_id"].notna().to_numpy() & (invoice_pos < 0))]
    plan_customer = code(inputs.plan_lines["customer_id"].astype(str))
    plans = pd.DataFrame(
        {
            "plan_id": inputs.plan_lines["plan_id"].to_numpy(object),
            "customer": plan_customer,
            "segment": history.customer_segment[plan_customer],
            "currency": inputs.plan_lines["currency"].to_numpy(object),
            "expected_day": day_numbers(inputs.plan_lines["expected_invoice_date"]),
            "invoice_day": day_numbers(inputs.plan_lines["invoice_date"]),
            "invoice": pd.Index(history.invoice_id).get_indexer(inputs.plan_lines["invoice_id"]),
            "amount": inputs.plan_lines["amount"].to_numpy(np.float64),
            "kind": inputs.plan_lines["kind"].fillna("unknown").to_numpy(object),
        }
    )
    fx = pd.DataFrame(
        {
            "rate_day": day_numbers(inputs.fx_rates["rate_date"]),
            "currency": inputs.fx_rates["currency"].to_numpy(object),
            "rate": inputs.fx_rates["rate_to_reporting"].to_numpy(np.float64),
        }
    )
    return PreparedInputs(history, ledger, promises, plans, fx, inputs.reporting_currency)


@dataclass(frozen=True)
class OriginState:
    """The open book on one origin day.

    ``open``: one row per open invoice (pos = position in the history), its open amount after
    the unapplied-cash offset, dispute flag and pending promise (promised part, days).
    ``plans``: pending plan lines with issue day, terms and realisation probability.
    ``kept_rate``: per customer code, the shrunk share of judged promises kept.
    ``book``: positions of every invoice with a balance at the origin before the offset (the
    invoices whose later cash counts as actual receipts of this origin).
    """

    origin_day: int
    horizon_days: int
    book: np.ndarray
    open: pd.DataFrame
    plans: pd.DataFrame
    kept_rate: np.ndarray
    unapplied: pd.DataFrame


def unapplied_cash(prepared: PreparedInputs, origin_day: int, window_days: int) -> pd.DataFrame:
    """Cash received in the window before the origin and not applied by it, per customer and currency."""
    led = prepared.ledger
    in_window = (led["payment_day"] > origin_day - window_days) & (led["payment_day"] <= origin_day)
    counted = led[in_window & (led["received"] | (led["movement_day"] <= origin_day))]
    signed = np.where(counted["received"], counted["amount"], -counted["amount"])
    out = counted.assign(amount=signed).groupby(["customer", "currency"], as_index=False)["amount"].sum()
    return out[out["amount"] > 0.005].reset_index(drop=True)


def _fifo_take(frame: pd.DataFrame, budget: pd.Series, amount_col: str, keys: list[str]) -> np.ndarray:
    """How much of each row's amount a per-group budget consumes, oldest due first.

    ``frame`` is sorted by due date within its ``keys`` groups; ``budget`` is aligned to its
    rows (the group's budget on every row of the group, 0 without one).
    """
    cum = frame.groupby(keys, sort=False)[amount_col].cumsum().to_numpy()
    amt = frame[amount_col].to_numpy()
    before = cum - amt
    return np.clip(budget.to_numpy() - before, 0.0, amt)


def _open_invoices(
    prepared: PreparedInputs, origin_day: int, pos: np.ndarray, balance: np.ndarray, unapplied: pd.DataFrame
) -> pd.DataFrame:
    """Invoices with a positive balance at the origin, net of the unapplied-cash offset."""
    h = prepared.history
    frame = (
        pd.DataFrame(
            {
                "pos": pos,
                "customer": h.customer[pos],
                "segment": h.segment[pos],
                "currency": h.currency[pos],
                "invoice_day": h.invoice_day[pos],
                "due_day": h.due_day[pos],
                "balance": balance[pos],
                "disputed": h.disputed_at(origin_day)[pos],
            }
        )
        .sort_values(["customer", "currency", "due_day", "pos"], kind="stable")
        .reset_index(drop=True)
    )
    budget = frame[["customer", "currency"]].merge(unapplied, how="left", on=["customer", "currency"])["amount"]
    frame["offset"] = _fifo_take(frame, budget.fillna(0.0), "balance", ["customer", "currency"])
    frame["open_amount"] = frame["balance"] - frame["offset"]
    return frame[frame["open_amount"] > 0.005].reset_index(drop=True)


def _attach_promises(prepared: PreparedInputs, origin_day: int, open_: pd.DataFrame) -> pd.DataFrame:
    """Pending promises per open invoice: promised part of the open amount and the promise's days."""
    p = prepared.promises
    pending = p[(p["created_day"] <= origin_day) & (p["evaluation_day"] >= origin_day)]
    doc = (
        pending[pending["invoice"] >= 0]
        .sort_values("created_day", kind="stable")
        .drop_duplicates("invoice", keep="last")
        .set_index("invoice")
    )
    out = open_.copy()
    hit = out["pos"].map(doc["amount"])
    out["promised_amount"] = np.minimum(hit.fillna(0.0).to_numpy(), out["open_amount"].to_numpy())
    out["promised_day"] = out["pos"].map(doc["promised_day"]).fillna(NEVER).astype(np.int64)
    out["evaluation_day"] = out["pos"].map(doc["evaluation_day"]).fillna(NEVER).astype(np.int64)

    cust = pending[pending["invoice"] < 0]
    if len(cust):
        per_customer = cust.groupby("customer").agg(
            amount=("amount", "sum"), promised_day=("promised_day", "min"), evaluation_day=("evaluation_day", "max")
        )
        free = out["promised_amount"].to_numpy() == 0
        rows = out[free].sort_values(["customer", "due_day", "pos"], kind="stable")
        budget = rows["customer"].map(per_customer["amount"]).fillna(0.0)
        take = _fifo_take(rows, budget, "open_amount", ["customer"])
        taken = take > 0.005
        idx = rows.index[taken]
        out.loc[idx, "promised_amount"] = take[taken]
        out.loc[idx, "promised_day"] = rows.loc[idx, "customer"].map(per_customer["promised_day"]).astype(np.int64)
        out.loc[idx, "evaluation_day"] = rows.loc[idx, "customer"].map(per_customer["evaluation_day"]).astype(np.int64)
    return out


def kept_rates(prepared: PreparedInputs, origin_day: int, strength: float) -> np.ndarray:
    """Per customer code: (kept + m * portfolio rate) / (judged + m) over promises judged before the origin."""
    p = prepared.promises
    judged = p[p["judged"] & (p["evaluation_day"] < origin_day)]
    n_customers = len(prepared.history.customers)
    n = np.bincount(judged["customer"], minlength=n_customers).astype(np.float64)
    kept = np.bincount(judged["customer"], weights=judged["kept"].astype(np.float64), minlength=n_customers)
    portfolio = (kept.sum() + 1.0) / (n.sum() + 2.0)
    return np.where(n + strength > 0, (kept + strength * portfolio) / np.maximum(n + strength, 1e-12), portfolio)


def _terms_days(prepared: PreparedInputs, origin_day: int, customers: np.ndarray, default: int) -> np.ndarray:
    """Days from invoice to due date of each customer's latest invoice by the origin (segment median, else default)."""
    h = prepared.history
    mine = np.zeros(len(h.customers), bool)
    mine[customers] = True
    sel = np.flatnonzero(mine[h.customer] & (h.invoice_day <= origin_day))
    terms = pd.DataFrame(
        {"customer": h.customer[sel], "day": h.invoice_day[sel], "terms": h.due_day[sel] - h.invoice_day[sel]}
    )
    latest = terms.sort_values(["customer", "day"], kind="stable").groupby("customer")["terms"].last()
    segment_median = (
        pd.Series(h.due_day - h.invoice_day)[h.invoice_day <= origin_day]
        .groupby(h.segment[h.invoice_day <= origin_day])
        .median()
    )
    own = pd.Series(customers).map(latest)
    fallback = pd.Series(h.customer_segment[customers]).map(segment_median)
    return own.fillna(fallback).fillna(default).to_numpy(np.int64)


def _pending_plans(prepared: PreparedInputs, origin_day: int, horizon_days: int, config: StateConfig) -> pd.DataFrame:
    """Plan lines still to be invoiced within the horizon, with issue day, terms and realisation rate."""
    p = prepared.plans
    pending = p[
        (p["expected_day"] > origin_day - config.plan_slip_days)
        & (p["expected_day"] <= origin_day + horizon_days)
        & (p["invoice_day"] > origin_day)
    ].copy()
    judged = p[
        (p["expected_day"] >= origin_day - config.plan_lookback_days)
        & (p["expected_day"] <= origin_day - config.plan_settle_days)
    ]
    became = (judged["invoice_day"] <= origin_day).astype(np.float64)
    s, prior = config.plan_prior_strength, config.plan_prior_rate
    overall = (became.sum() + s * prior) / (len(judged) + s) if len(judged) + s > 0 else prior
    counts = became.groupby(judged["kind"]).agg(["sum", "size"])
    by_kind = (counts["sum"] + s * overall) / (counts["size"] + s)
    pending["realisation"] = pending["kind"].map(by_kind).fillna(overall).to_numpy(np.float64)
    pending["issue_day"] = np.maximum(pending["expected_day"], origin_day + 1)
    pending["terms_days"] = _terms_days(prepared, origin_day, pending["customer"].to_numpy(), config.default_terms_days)
    return pending.reset_index(drop=True)


def state_at(
    prepared: PreparedInputs, origin_day: int, horizon_days: int, config: StateConfig = StateConfig()
) -> OriginState:
    """The open book at ``origin_day``, as the forecast and its baselines start from it."""
    unapplied = unapplied_cash(prepared, origin_day, config.unapplied_window_days)
    balance = prepared.history.open_amount_at(origin_day)
    book = np.flatnonzero(balance > 0.005)
    open_ = _attach_promises(prepared, origin_day, _open_invoices(prepared, origin_day, book, balance, unapplied))
    return OriginState(
        origin_day=origin_day,
        horizon_days=horizon_days,
        book=book,
        open=open_,
        plans=_pending_plans(prepared, origin_day, horizon_days, config),
        kept_rate=kept_rates(prepared, origin_day, config.promise_prior_strength),
        unapplied=unapplied,
    )
