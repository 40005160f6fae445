"""The risk model on the IBM "Accounts Receivable" sample (``/work/shared/data/ibm_ar``).

    python -m bench.ibm_risk [CSV] [--split 2013-07-01] [--samples 1000]

Builds issue-time feature rows from the CSV in the shape of ``intermediate.int_risk_training_rows`` and runs
``models.evaluate.evaluate_split``: train on what was settled before the split, test on the
invoices issued on or after it. ``Disputed`` is not used (it is probably only known after
issue), nor ``PaperlessBill`` / ``PaperlessDate`` (the canonical contract has no such column).

TEMPORARY DUPLICATE: the point-in-time customer history below re-implements, in pandas, what
the dbt models ``dbt_project/models/ml/`` compute (history through the day before the invoice
date: paid count, late and severely late shares, days beyond terms mean / median of the last
10 / mean of the last 5, days since the last late payment, open and overdue invoices, usual
invoice). It exists only until the IBM export can be onboarded through the configuration and
the real pipeline; then this file goes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

import numpy as np
import pandas as pd

IBM_CSV = Path("/work/shared/data/ibm_ar/WA_Fn-UseC_-Accounts-Receivable.csv")
IBM_SPLIT = dt.date(2013, 7, 1)
SEVERE_DAYS = 60


def _customer_rows(invoices: pd.DataFrame) -> list[dict]:
    """Feature rows of one customer's invoices, each from the history before its invoice date."""
    out = []
    by_settlement = invoices.sort_values(["settled", "invoice_id"])
    for inv in invoices.itertuples():
        history_end = inv.issued - pd.Timedelta(days=1)
        paid = by_settlement[by_settlement["settled"] <= history_end]
        late_by = (paid["settled"] - paid["due"]).dt.days.to_numpy(dtype=float)
        beyond = np.maximum(late_by, 0.0)
        issued_before = invoices[invoices["issued"] <= history_end]
        open_before = issued_before[issued_before["settled"] > history_end]
        overdue = open_before[open_before["due"] + pd.Timedelta(days=1) <= history_end]
        n_paid, n_late = len(paid), int((late_by > 0).sum())
        last_late = paid["settled"][late_by > 0].max() if n_late else pd.NaT
        usual = issued_before["amount"].mean() if len(issued_before) else np.nan
        mean_all = beyond.mean() if n_paid else np.nan
        out.append(
            {
                "invoice_id": inv.invoice_id,
                "customer_id": inv.customer_id,
                "scoring_date": inv.issued,
                "row_kind": "issue",
                "history_date": history_end,
                "document_type": "invoice",
                "currency": "USD",
                "invoice_date": inv.issued,
                "due_date": inv.due,
                "due_date_is_imputed": False,
                "amount": inv.amount,
                "open_amount_at_scoring": inv.amount,
                "amount_reporting_value": inv.amount,
                "terms_days": float((inv.due - inv.issued).days),
                "due_month": float(inv.due.month),
                "age_days": 0.0,
                "days_past_due": float((inv.issued - inv.due).days),
                "open_share": 1.0,
                "segment": None,
                "region": None,
                "country": inv.country,
                "payment_terms": None,
                "customer_tenure_days": float((inv.issued - issued_before["issued"].min()).days)
                if len(issued_before)
                else np.nan,
                "paid_invoice_count": float(n_paid),
                "late_invoice_count": float(n_late),
                "late_share": n_late / n_paid if n_paid else np.nan,
                "severe_late_share": float((late_by > SEVERE_DAYS).sum()) / n_paid if n_paid else np.nan,
                "partial_payment_share": 0.0 if n_paid else np.nan,
                "days_beyond_terms_mean": mean_all,
                "days_late_when_late_mean": beyond.sum() / n_late if n_late else np.nan,
                "days_late_mean": float(late_by.mean()) if n_paid else np.nan,
                "days_late_mean_last_5": float(late_by[-5:].mean()) if n_paid else np.nan,
                "days_beyond_terms_median_last_10": float(np.median(beyond[-10:])) if n_paid else np.nan,
                "days_beyond_terms_mean_last_5": float(beyond[-5:].mean()) if n_paid else np.nan,
                "days_beyond_terms_trend": float(beyond[-5:].mean()) - mean_all if n_paid else np.nan,
                "days_since_last_late_payment": float((inv.issued - last_late).days) if n_late else np.nan,
                "written_off_invoice_count": 0.0,
                "customer_dispute_count": 0.0,
                "broken_promise_count": 0.0,
                "last_broken_promised_date": pd.NaT,
                "days_since_broken_promise": np.nan,
                "days_since_last_touch": np.nan,
                "prior_invoice_count": float(len(issued_before)),
                "usual_invoice_amount_reporting": usual,
                "usual_terms_days": 30.0 if len(issued_before) else np.nan,
                "other_open_invoice_count": float(len(open_before)),
                "other_open_balance_reporting": float(open_before["amount"].sum()),
                "other_overdue_invoice_count": float(len(overdue)),
                "other_overdue_balance_reporting": float(overdue["amount"].sum()),
                "other_overdue_share": float(overdue["amount"].sum() / open_before["amount"].sum())
                if len(open_before)
                else np.nan,
                "credit_limit_use": np.nan,
                "own_dispute_count": 0.0,
                "own_dispute_open": 0.0,
                "own_last_dispute_opened_date": pd.NaT,
                "own_broken_promise_count": 0.0,
                "own_promise_pending": 0.0,
                "own_pending_promised_date": pd.NaT,
                "invoice_size_ratio": inv.amount / usual if usual else np.nan,
                "is_open_at_as_of": False,
                "settled_date": inv.settled,
                "written_off_date": pd.NaT,
            }
        )
    return out


def ibm_feature_rows(raw: pd.DataFrame) -> pd.DataFrame:
    """Issue rows (``intermediate.int_risk_training_rows`` columns) from the IBM CSV as read with dtype=str."""

    def date(column: str) -> pd.Series:
        return pd.to_datetime(raw[column], format="%m/%d/%Y")

    invoices = pd.DataFrame(
        {
            "invoice_id": raw["invoiceNumber"],
            "customer_id": raw["customerID"],
            "country": raw["countryCode"],
            "issued": date("InvoiceDate"),
            "due": date("DueDate"),
            "settled": date("SettledDate"),
            "amount": raw["InvoiceAmount"].astype(float),
        }
    )
    rows = [row for _, group in invoices.groupby("customer_id", sort=True) for row in _customer_rows(group)]
    frame = pd.DataFrame(rows).sort_values(["scoring_date", "invoice_id"]).reset_index(drop=True)
    frame["as_of_date"] = invoices["settled"].max()
    return frame


def main(argv: list[str] | None = None) -> int:
    from models.evaluate import evaluate_split

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", nargs="?", type=Path, default=IBM_CSV)
    parser.add_argument("--split", type=dt.date.fromisoformat, default=IBM_SPLIT)
    parser.add_argument("--samples", type=int, default=1000)
    args = parser.parse_args(argv)
    rows = ibm_feature_rows(pd.read_csv(args.csv, dtype=str))
    result = evaluate_split(rows, args.split, bootstrap_samples=args.samples)
    pd.set_option("display.width", 200)
    print(result.metrics.to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
