"""A small synthetic ledger in the shape of ``intermediate.int_risk_training_rows``, for fast model tests.

Customers have a latent lateness (prompt, normal, late, very late); an invoice more than twice
the customer's usual size is paid 10 days later still. Feature rows carry a subset of the
real features (payment history, size, terms, age) computed from the invoices settled before
each row's day; the rest are missing, as they would be for a ledger without workflow data.
This is test scaffolding with a planted signal, not a second feature pipeline: the real
features come from dbt (tests/test_risk_features.py checks those).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from models.features import NUMERIC

LATENESS = {"prompt": -3.0, "normal": 3.0, "late": 14.0, "very_late": 40.0}
SEGMENTS = ("enterprise", "mid_market", "smb")


def _history(days_late: np.ndarray, settled: np.ndarray, due: np.ndarray, upto: np.datetime64) -> dict:
    paid = settled <= upto
    late_by = days_late[paid][np.argsort(settled[paid], kind="stable")]
    beyond = np.maximum(late_by, 0.0)
    n, n_late = len(late_by), int((late_by > 0).sum())
    return {
        "paid_invoice_count": float(n),
        "late_invoice_count": float(n_late),
        "late_share": n_late / n if n else np.nan,
        "severe_late_share": float((late_by > 60).sum()) / n if n else np.nan,
        "days_beyond_terms_mean": beyond.mean() if n else np.nan,
        "days_late_when_late_mean": beyond.sum() / n_late if n_late else np.nan,
        "days_late_mean": late_by.mean() if n else np.nan,
        "days_late_mean_last_5": late_by[-5:].mean() if n else np.nan,
        "days_beyond_terms_mean_last_5": beyond[-5:].mean() if n else np.nan,
        "days_beyond_terms_median_last_10": float(np.median(beyond[-10:])) if n else np.nan,
        "days_beyond_terms_trend": beyond[-5:].mean() - beyond.mean() if n else np.nan,
        "other_overdue_invoice_count": float(((due < upto) & (settled > upto)).sum()),
    }


def synthetic_rows(
    customers: int = 80, as_of: dt.date = dt.date(2026, 6, 30), days: int = 500, seed: int = 0, snapshot_step: int = 28
) -> pd.DataFrame:
    """Issue and snapshot rows with outcomes known on ``as_of`` (see module doc)."""
    rng = np.random.default_rng(seed)
    start = np.datetime64(as_of, "D") - np.timedelta64(days, "D")
    end = np.datetime64(as_of, "D")
    snapshots = [end - np.timedelta64(snapshot_step * k, "D") for k in range(days // snapshot_step)]
    rows = []
    for c in range(customers):
        kind = rng.choice(list(LATENESS), p=[0.3, 0.35, 0.25, 0.1])
        segment = SEGMENTS[c % 3]
        n = int(rng.integers(15, 45))
        issued = np.sort(start + rng.integers(0, days, n).astype("timedelta64[D]"))
        amount = np.round(rng.lognormal(7.5, 0.8, n), 2)
        usual = np.median(amount)
        terms = 30 if segment != "enterprise" else 45
        due = issued + np.timedelta64(terms, "D")
        days_late = np.round(LATENESS[kind] + rng.normal(0, 4, n) + 10.0 * (amount > 2 * usual))
        settled = due + days_late.astype("timedelta64[D]")
        written_off = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
        lost = (kind == "very_late") & (rng.random(n) < 0.25)
        written_off[lost] = due[lost] + np.timedelta64(120, "D")
        settled[lost] = np.datetime64("NaT")
        never = np.datetime64("2100-01-01")
        settled_cmp = np.where(np.isnat(settled), never, settled)
        for i in range(n):
            views = [("issue", issued[i], issued[i] - np.timedelta64(1, "D"))]
            views += [("snapshot", s, s) for s in snapshots if issued[i] <= s < settled_cmp[i]]
            for row_kind, scoring, history in views:
                others = np.arange(n) != i
                record = _history(days_late[others], settled_cmp[others], due[others], history)
                prior = others & (issued <= history)
                record.update(
                    {
                        "invoice_id": f"C{c:03d}-{i:03d}",
                        "customer_id": f"C{c:03d}",
                        "row_kind": row_kind,
                        "scoring_date": pd.Timestamp(scoring),
                        "invoice_date": pd.Timestamp(issued[i]),
                        "due_date": pd.Timestamp(due[i]),
                        "amount": amount[i],
                        "amount_reporting_value": amount[i],
                        "terms_days": float(terms),
                        "due_month": float(pd.Timestamp(due[i]).month),
                        "age_days": float((scoring - issued[i]) / np.timedelta64(1, "D")),
                        "days_past_due": float((scoring - due[i]) / np.timedelta64(1, "D")),
                        "open_share": 1.0,
                        "prior_invoice_count": float(prior.sum()),
                        "usual_invoice_amount_reporting": amount[prior].mean() if prior.any() else np.nan,
                        "invoice_size_ratio": amount[i] / amount[prior].mean() if prior.any() else np.nan,
                        "customer_tenure_days": float((scoring - issued[0]) / np.timedelta64(1, "D")) if i else np.nan,
                        "segment": segment,
                        "region": "emea" if c % 2 else "na",
                        "country": "DE" if c % 2 else "US",
                        "payment_terms": f"NET{terms}",
                        "document_type": "invoice",
                        "currency": "USD",
                        "settled_date": pd.Timestamp(settled[i]) if settled_cmp[i] <= end else pd.NaT,
                        "written_off_date": pd.Timestamp(written_off[i]) if written_off[i] <= end else pd.NaT,
                        "as_of_date": pd.Timestamp(as_of),
                    }
                )
                rows.append(record)
    frame = pd.DataFrame(rows)
    for name in NUMERIC:
        if name not in frame:
            frame[name] = np.nan
    for name in (
        "customer_dispute_count",
        "broken_promise_count",
        "written_off_invoice_count",
        "own_dispute_count",
        "own_dispute_open",
        "own_broken_promise_count",
        "own_promise_pending",
        "due_date_is_imputed",
    ):
        frame[name] = 0.0
    frame["is_open_at_as_of"] = frame["settled_date"].isna() & frame["written_off_date"].isna()
    return frame.sort_values(["scoring_date", "invoice_id", "row_kind"]).reset_index(drop=True)
