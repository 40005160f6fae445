"""A chronological evaluation at one split date, for any ledger mapped onto the feature rows.

Train on what was known before the split (rows scored before it, each label decided before it,
``labels``), predict every invoice issued on or after it from its issue-time features, and
measure the model next to the baselines on the outcomes known at the end of the data: AUC,
average precision and Brier score of P(late); mean absolute error of the median pay date in
days; and the WAPE of weekly receipts when every test invoice is assumed to be paid in full on
its predicted median pay date (weeks from the split's week to the last week with a receipt).
Each figure has a bootstrap 95 % interval over test invoices (the IBM sample's test set is only
about 500 invoices). This is the function behind the issue's ``inflow evaluate``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.baselines import CUSTOMER_MEAN, DUE_DATE, LATE_RATE, fit_baselines
from models.labels import late_labels, remaining_days
from models.metrics import (
    bootstrap_interval,
    probability_metrics,
    wape,
    weekly_receipts,
)
from models.risk import RiskParams, fit_risk_model
from models.scoring import pay_dates


@dataclass
class SplitEvaluation:
    metrics: pd.DataFrame  # model, metric, value, ci_low, ci_high, n
    predictions: pd.DataFrame  # invoice_id, p_late, pay_date_p50 (model), with the baselines' beside


def _auc(frame: pd.DataFrame, column: str) -> float:
    y = frame["late"].to_numpy()
    return probability_metrics(y, frame[column].to_numpy())["auc"] if len(np.unique(y)) == 2 else np.nan


def _mae(frame: pd.DataFrame, column: str, cap: float) -> float:
    return float(np.mean(np.abs(np.minimum(frame[column], cap) - np.minimum(frame["actual_days"], cap))))


def _weekly(frame: pd.DataFrame, column: str, split: dt.date) -> pd.DataFrame:
    """Actual and predicted receipts per week, from the split's week to the last actual receipt."""
    actual_dates = pd.to_datetime(frame["settled_date"])
    start = pd.Timestamp(split).to_period("W-SUN").start_time
    end = actual_dates.max().to_period("W-SUN").start_time if actual_dates.notna().any() else start
    weeks = pd.date_range(start, end, freq="7D")
    return pd.DataFrame(
        {
            "actual": weekly_receipts(actual_dates, frame["amount"], weeks),
            "predicted": weekly_receipts(pd.to_datetime(frame[column]), frame["amount"], weeks),
        },
        index=weeks,
    )


def _wape_of(weeks: pd.DataFrame) -> float:
    return wape(weeks["actual"].to_numpy(), weeks["predicted"].to_numpy())


def evaluate_split(
    rows: pd.DataFrame,
    split: dt.date,
    params: RiskParams | None = None,
    *,
    bootstrap_samples: int = 1000,
    seed: int = 0,
) -> SplitEvaluation:
    """Train before ``split``, test the issue rows issued on or after it (see module doc)."""
    params = params or RiskParams()
    model = fit_risk_model(rows, split, params)
    baselines = fit_baselines(rows, split, params)
    scored = rows["scoring_date"].to_numpy("datetime64[D]")
    test = rows[(rows["row_kind"].to_numpy() == "issue") & (scored >= np.datetime64(split, "D"))]
    end_of_data = max(pd.to_datetime(rows["settled_date"]).max(), pd.to_datetime(rows["as_of_date"]).max()).date()
    scores, base = model.score(test), baselines.score(test)
    frame = pd.DataFrame(
        {
            "invoice_id": test["invoice_id"].to_numpy(),
            "amount": pd.to_numeric(test["amount"]).to_numpy(dtype=float),
            "settled_date": test["settled_date"].to_numpy(),
            "late": late_labels(test, params.targets, end_of_data)["late"].to_numpy(),
            "actual_days": remaining_days(test),
            "p_late": scores["p_late"].to_numpy(),
            f"{LATE_RATE}:p_late": base["p_late"].to_numpy(),
        }
    )
    medians = {
        "model": model.quantiles(test, (0.5,))[:, 0],
        DUE_DATE: baselines.quantiles(test, (0.5,), DUE_DATE)[:, 0],
        CUSTOMER_MEAN: baselines.quantiles(test, (0.5,), CUSTOMER_MEAN)[:, 0],
    }
    for name, median in medians.items():
        frame[f"{name}:days_p50"] = median
        frame[f"{name}:pay_date_p50"] = pay_dates(test["scoring_date"], median).to_numpy()
    frame = frame[~np.isnan(frame["late"])].reset_index(drop=True)
    cap = float(max(params.horizons))
    measures = [
        (model.name, "auc", lambda f: _auc(f, "p_late")),
        (LATE_RATE, "auc", lambda f: _auc(f, f"{LATE_RATE}:p_late")),
        *[
            (name if name != "model" else model.name, "mae_days", lambda f, n=name: _mae(f, f"{n}:days_p50", cap))
            for name in medians
        ],
    ]
    metrics = []
    for scorer, metric, measure in measures:
        low, high = bootstrap_interval(frame, measure, samples=bootstrap_samples, seed=seed)
        metrics.append(
            {
                "model": scorer,
                "metric": metric,
                "value": measure(frame),
                "ci_low": low,
                "ci_high": high,
                "n": len(frame),
            }
        )
    for name in medians:
        weeks = _weekly(frame, f"{name}:pay_date_p50", split)
        low, high = bootstrap_interval(weeks, _wape_of, samples=bootstrap_samples, seed=seed)
        metrics.append(
            {
                "model": name if name != "model" else model.name,
                "metric": "weekly_receipts_wape",
                "value": _wape_of(weeks),
                "ci_low": low,
                "ci_high": high,
                "n": len(weeks),
            }
        )
    predictions = frame.rename(columns={"model:pay_date_p50": "pay_date_p50"})
    return SplitEvaluation(pd.DataFrame(metrics), predictions)
