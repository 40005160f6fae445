"""The model's view of a risk feature row: which columns it reads and how they are typed.

The features themselves are computed point-in-time in dbt (``dbt_project/models/ml/``); this
module only selects and types them, so training, backtest, scoring and explanations read
exactly the same matrix. Numbers are floats with NaN for "nothing to measure" (a customer with
no paid invoice has no late share); gradient boosting routes missing values on its own.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CATEGORICAL = ("segment", "region", "country", "payment_terms", "document_type", "currency")

NUMERIC = (
    # the invoice
    "amount_reporting_value",
    "terms_days",
    "due_month",
    "due_date_is_imputed",
    "age_days",
    "days_past_due",
    "open_share",
    "invoice_size_ratio",
    # the customer's payment history known then
    "customer_tenure_days",
    "paid_invoice_count",
    "late_invoice_count",
    "late_share",
    "severe_late_share",
    "partial_payment_share",
    "days_beyond_terms_mean",
    "days_late_when_late_mean",
    "days_late_mean",
    "days_late_mean_last_5",
    "days_beyond_terms_median_last_10",
    "days_beyond_terms_mean_last_5",
    "days_beyond_terms_trend",
    "days_since_last_late_payment",
    "written_off_invoice_count",
    # exposure
    "prior_invoice_count",
    "usual_invoice_amount_reporting",
    "usual_terms_days",
    "other_open_invoice_count",
    "other_open_balance_reporting",
    "other_overdue_invoice_count",
    "other_overdue_balance_reporting",
    "other_overdue_share",
    "credit_limit_use",
    # workflow
    "customer_dispute_count",
    "broken_promise_count",
    "days_since_broken_promise",
    "days_since_last_touch",
    "own_dispute_count",
    "own_dispute_open",
    "own_broken_promise_count",
    "own_promise_pending",
)

FEATURES = NUMERIC + CATEGORICAL

#: Features whose larger values can only make lateness more likely, all else equal: the
#: customer's own record of lateness. The late and severe classifiers are constrained to be
#: monotone increasing in them, which keeps a small ledger's model from learning noise
#: (a customer that paid later never looks safer for it).
RISK_INCREASING = (
    "late_share",
    "severe_late_share",
    "days_beyond_terms_mean",
    "days_late_when_late_mean",
    "days_late_mean",
    "days_late_mean_last_5",
    "days_beyond_terms_median_last_10",
    "days_beyond_terms_mean_last_5",
)


def categories_of(rows: pd.DataFrame) -> dict[str, list[str]]:
    """The categories each categorical feature takes in the training rows, sorted, so a model's
    category codes do not depend on row order. Values unseen in training read as missing."""
    return {name: sorted(rows[name].dropna().astype(str).unique()) if name in rows else [] for name in CATEGORICAL}


def feature_matrix(rows: pd.DataFrame, categories: dict[str, list[str]]) -> pd.DataFrame:
    """The model matrix: NUMERIC as float64, CATEGORICAL as pandas categoricals with the training
    categories; a column the rows do not have (an export without regions) is all missing."""
    out = pd.DataFrame(index=rows.index)
    for name in NUMERIC:
        out[name] = pd.to_numeric(rows[name], errors="coerce").astype(float) if name in rows else np.nan
    for name in CATEGORICAL:
        values = rows[name].astype("string") if name in rows else pd.Series(pd.NA, index=rows.index, dtype="string")
        out[name] = pd.Categorical(values.astype(object).where(values.notna(), None), categories=categories[name])
    return out


def next_invoice_rows(customers: pd.DataFrame) -> pd.DataFrame:
    """Invoice feature rows for a hypothetical next invoice of each customer (``intermediate.int_risk_customer_rows``):
    its usual amount and terms, issued on the row's scoring day, nothing paid, disputed or promised.

    A customer score is then the invoice model's answer for that invoice, so customers and
    invoices are scored, banded and explained by one model. The month due is left unknown: a
    December due date made every customer's score "worsen" between September and November in
    the generated ledgers, which is the calendar, not the customer.
    """
    rows = customers.copy()
    terms = pd.to_numeric(rows["usual_terms_days"], errors="coerce")
    issued = pd.to_datetime(rows["scoring_date"])
    due = issued + pd.to_timedelta(terms.fillna(30), unit="D")
    rows["invoice_date"] = issued
    rows["due_date"] = due
    rows["amount_reporting_value"] = rows["usual_invoice_amount_reporting"]
    rows["terms_days"] = terms
    rows["due_month"] = np.nan  # a customer's score describes the customer, not the season it is asked in
    rows["due_date_is_imputed"] = 0.0
    rows["age_days"] = 0.0
    rows["days_past_due"] = -terms
    rows["open_share"] = 1.0
    rows["invoice_size_ratio"] = 1.0
    rows["document_type"] = "invoice"
    for name in ("own_dispute_count", "own_dispute_open", "own_broken_promise_count", "own_promise_pending"):
        rows[name] = 0.0
    return rows


def trainable(matrix: pd.DataFrame) -> pd.DataFrame:
    """A training matrix with every all-missing numeric column set to 0: scikit-learn's binning
    fails on a column without a value (a young ledger has no broken promise yet). A constant
    column is never split on, so the model ignores it at prediction time as well."""
    empty = [name for name in NUMERIC if name in matrix and matrix[name].isna().all()]
    return matrix.assign(**dict.fromkeys(empty, 0.0)) if empty else matrix


def reference_row(matrix: pd.DataFrame) -> dict:
    """Typical values of a training matrix (median of each number, most frequent category): what
    a feature group is set to when explanations measure its contribution (``explain``)."""
    out: dict = {}
    for name in NUMERIC:
        values = matrix[name].dropna()
        out[name] = float(values.median()) if len(values) else np.nan
    for name in CATEGORICAL:
        counts = matrix[name].value_counts()
        out[name] = counts.index[0] if len(counts) and counts.iloc[0] > 0 else None
    return out
