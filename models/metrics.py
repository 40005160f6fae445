"""How good a score or a pay-date forecast was, measured on outcomes.

Probabilities: AUC, average precision, Brier score and a reliability table (10 equal-width bins
of predicted probability: rows, mean predicted, observed rate). Pay dates: mean absolute error
of the median in days and the share of outcomes inside the p10-p90 interval, both on remaining
days capped at a horizon (an invoice not settled within it, or written off, counts as the
horizon: the error of a forecast of "not within 91 days" is bounded, not infinite). Weekly
receipts: WAPE of the amounts received per week. Bootstrap intervals resample invoices.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

RELIABILITY_BINS = 10


def reliability_table(y: np.ndarray, p: np.ndarray, bins: int = RELIABILITY_BINS) -> list[dict]:
    """Per non-empty bin of predicted probability: its bounds, rows, mean predicted, observed rate."""
    index = np.minimum((np.asarray(p) * bins).astype(int), bins - 1)
    table = []
    for b in range(bins):
        inside = index == b
        if inside.any():
            table.append(
                {
                    "bin_low": b / bins,
                    "bin_high": (b + 1) / bins,
                    "n": int(inside.sum()),
                    "mean_predicted": round(float(np.mean(p[inside])), 4),
                    "observed_rate": round(float(np.mean(y[inside])), 4),
                }
            )
    return table


def probability_metrics(y: np.ndarray, p: np.ndarray) -> dict:
    """n, auc, average_precision, brier and calibration_bins (JSON); AUC and AP are NaN when
    only one outcome occurs (they are undefined, not 0.5)."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    both = len(np.unique(y)) == 2
    return {
        "n": len(y),
        "auc": float(roc_auc_score(y, p)) if both else np.nan,
        "average_precision": float(average_precision_score(y, p)) if both else np.nan,
        "brier": float(brier_score_loss(y, p)) if len(y) else np.nan,
        "calibration_bins": json.dumps(reliability_table(y, p)),
    }


def timing_metrics(actual: np.ndarray, p10: np.ndarray, p50: np.ndarray, p90: np.ndarray, cap: float) -> dict:
    """n, mae_days (median vs actual), coverage_p10_p90 and mean interval width, in remaining
    days capped at ``cap``."""
    a, lo, mid, hi = (np.minimum(np.asarray(x, dtype=float), cap) for x in (actual, p10, p50, p90))
    return {
        "n": len(a),
        "mae_days": float(np.mean(np.abs(mid - a))) if len(a) else np.nan,
        "coverage_p10_p90": float(np.mean((a >= lo) & (a <= hi))) if len(a) else np.nan,
        "interval_days": float(np.mean(hi - lo)) if len(a) else np.nan,
    }


def weekly_receipts(pay_dates: pd.Series, amounts: pd.Series, weeks: pd.DatetimeIndex) -> np.ndarray:
    """Amount received per week (weeks starting on Monday, given by their start day); pay dates
    outside the weeks count nowhere."""
    frame = pd.DataFrame(
        {
            "week": pd.to_datetime(pay_dates).dt.to_period("W-SUN").dt.start_time,
            "amount": np.asarray(amounts, dtype=float),
        }
    )
    return frame.groupby("week")["amount"].sum().reindex(weeks, fill_value=0.0).to_numpy()


def wape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Sum of absolute errors over the sum of actuals."""
    total = float(np.sum(np.abs(actual)))
    return float(np.sum(np.abs(np.asarray(actual) - np.asarray(predicted))) / total) if total else np.nan


def bootstrap_interval(
    frame: pd.DataFrame,
    metric: Callable[[pd.DataFrame], float],
    *,
    samples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile interval of ``metric`` over ``samples`` resamples of the rows (with replacement)."""
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(samples):
        value = metric(frame.iloc[rng.integers(0, len(frame), len(frame))])
        if not np.isnan(value):
            values.append(value)
    tail = (1 - level) / 2
    return float(np.quantile(values, tail)), float(np.quantile(values, 1 - tail))
