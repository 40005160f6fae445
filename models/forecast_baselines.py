"""The two naive forecasts the cash forecast must beat, on the same book and in the same shape.

Both start from the same open book as the forecast (open invoices net of unapplied cash, plus
pending plan lines) and differ only in timing and amounts:

* ``due_date``: every open amount arrives on its due date (overdue: the first day of the
  horizon); every plan line in full on its expected day plus the customer's terms.
* ``customer_mean``: every open amount arrives the customer's mean days-to-pay after its invoice
  date (already later than that: the first day); plan lines likewise from the expected day.
  The mean is over cash recorded by the origin, per invoice from its invoice date, amount-
  weighted; a customer without paid history takes its segment's mean, then the portfolio's.

They carry no bands: p10 = p50 = p90 = the point forecast.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.forecast import (
    COMPONENTS,
    OPEN,
    PLANNED,
    PROMISE,
    Simulation,
    origin_rates,
    weekly_frame,
)
from models.forecast_state import OriginState, PreparedInputs
from models.timing import CASH

BASELINES = ("due_date", "customer_mean")


def _point_simulation(
    weeks: int, currency: np.ndarray, component: np.ndarray, amount: np.ndarray, day: np.ndarray
) -> Simulation:
    """One deterministic 'simulation' from amounts arriving on given days after the origin."""
    currencies = tuple(sorted(set(currency.tolist())))
    cur = pd.Index(currencies).get_indexer(currency)
    week = (np.floor(np.maximum(day, 1.0)).astype(np.int64) - 1) // 7
    ok = week < weeks
    n_cur = len(currencies)
    draws = np.bincount(cur[ok] * weeks + week[ok], weights=amount[ok], minlength=n_cur * weeks).reshape(
        1, n_cur, weeks
    )
    comps = np.bincount(
        (component[ok] * n_cur + cur[ok]) * weeks + week[ok],
        weights=amount[ok],
        minlength=len(COMPONENTS) * n_cur * weeks,
    ).reshape(len(COMPONENTS), n_cur, weeks)
    return Simulation(currencies, {"base": draws}, {"base": comps})


def _book_arrays(state: OriginState) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Currency, component and amount of the open book and the plan lines, in that order."""
    o, pl = state.open, state.plans
    currency = np.concatenate([o["currency"].to_numpy(object), pl["currency"].to_numpy(object)])
    component = np.concatenate(
        [np.where(o["promised_amount"].to_numpy() > 0.005, PROMISE, OPEN), np.full(len(pl), PLANNED)]
    ).astype(np.int64)
    amount = np.concatenate([o["open_amount"].to_numpy(np.float64), pl["amount"].to_numpy(np.float64)])
    return currency, component, amount


def due_date_days(state: OriginState) -> np.ndarray:
    """Days after the origin each book item arrives under the due-date baseline."""
    o, pl = state.open, state.plans
    open_days = (o["due_day"].to_numpy() - state.origin_day).astype(np.float64)
    plan_days = (pl["issue_day"].to_numpy() + pl["terms_days"].to_numpy() - state.origin_day).astype(np.float64)
    return np.maximum(np.concatenate([open_days, plan_days]), 1.0)


def customer_mean_days_to_pay(prepared: PreparedInputs, origin_day: int, window_days: int) -> np.ndarray:
    """Per customer code: amount-weighted mean days from invoice date to cash, as known at the origin.

    Customers without cash in the window take their segment's mean, then the portfolio's.
    """
    h = prepared.history
    sel = (
        (h.ev_kind == CASH) & (h.ev_known_day <= origin_day) & (h.invoice_day[h.ev_invoice] >= origin_day - window_days)
    )
    inv = h.ev_invoice[sel]
    days = (h.ev_effective_day[sel] - h.invoice_day[inv]).astype(np.float64)
    weight = np.maximum(h.ev_amount[sel], 0.0)
    cust = h.customer[inv]
    n_cust = len(h.customers)
    w_sum = np.bincount(cust, weights=weight, minlength=n_cust)
    d_sum = np.bincount(cust, weights=weight * days, minlength=n_cust)
    seg = h.customer_segment
    seg_w = np.bincount(seg, weights=w_sum, minlength=len(h.segments))
    seg_d = np.bincount(seg, weights=d_sum, minlength=len(h.segments))
    portfolio = d_sum.sum() / w_sum.sum() if w_sum.sum() > 0 else 30.0
    seg_mean = np.where(seg_w > 0, seg_d / np.maximum(seg_w, 1e-12), portfolio)
    return np.where(w_sum > 0, d_sum / np.maximum(w_sum, 1e-12), seg_mean[seg])


def customer_mean_days(prepared: PreparedInputs, state: OriginState, window_days: int) -> np.ndarray:
    """Days after the origin each book item arrives under the customer-mean baseline."""
    mean = customer_mean_days_to_pay(prepared, state.origin_day, window_days)
    o, pl = state.open, state.plans
    open_days = o["invoice_day"].to_numpy() + mean[o["customer"].to_numpy()] - state.origin_day
    plan_days = pl["issue_day"].to_numpy() + mean[pl["customer"].to_numpy()] - state.origin_day
    return np.maximum(np.concatenate([open_days, plan_days]).astype(np.float64), 1.0)


def baseline_weekly(
    prepared: PreparedInputs, state: OriginState, weeks: int, method: str, window_days: int = 720
) -> pd.DataFrame:
    """A baseline's weekly table, shaped like the forecast's (scenario 'base', no bands)."""
    currency, component, amount = _book_arrays(state)
    if method == "due_date":
        days = due_date_days(state)
    elif method == "customer_mean":
        days = customer_mean_days(prepared, state, window_days)
    else:
        raise ValueError(f"unknown baseline {method!r}; expected one of {BASELINES}")
    sim = _point_simulation(weeks, currency, component, amount, days)
    rates = origin_rates(prepared, state.origin_day, sim.currencies)
    return weekly_frame(sim, rates, state.origin_day, prepared.reporting_currency, method)
