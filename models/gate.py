"""Does the model beat its baselines on the backtest? The rule behind the blocking check.

The pooled backtest rows (``origin_date`` null, every origin's test rows together) decide:
- late: Brier score below the customer-late-rate baseline's, and AUC not below it;
- severe: Brier score below the customer-late-rate baseline's;
- pay date: mean absolute error of the median below the better of the two timing baselines.
"Below" means by at least ``min_relative_improvement`` (0: any improvement). A comparison on
fewer than ``min_rows`` rows, or with a missing metric, fails: a model that could not be
shown to be better is not published (the baseline is).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.baselines import CUSTOMER_MEAN, DUE_DATE, LATE_RATE

MIN_ROWS = 200


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reasons: tuple[str, ...]  # one line per comparison, failed or passed
    comparisons: pd.DataFrame  # target, metric, model, baseline, baseline_value, model_value, passed


def _pooled(evaluations: pd.DataFrame, model: str, target: str) -> pd.Series | None:
    rows = evaluations[
        evaluations["origin_date"].isna() & (evaluations["model"] == model) & (evaluations["target"] == target)
    ]
    return rows.iloc[0] if len(rows) else None


def beats_baseline(
    evaluations: pd.DataFrame, model: str, *, min_relative_improvement: float = 0.0, min_rows: int = MIN_ROWS
) -> Verdict:
    """Judge ``model``'s pooled backtest rows in ``evaluations`` (``ml.model_evaluations`` shape)."""
    checks = [
        ("late", "brier", (LATE_RATE,), "lower"),
        ("late", "auc", (LATE_RATE,), "not_lower"),
        ("severe", "brier", (LATE_RATE,), "lower"),
        ("pay_date", "mae_days", (DUE_DATE, CUSTOMER_MEAN), "lower"),
    ]
    records = []
    for target, metric, baselines, direction in checks:
        mine = _pooled(evaluations, model, target)
        theirs = [b for b in (_pooled(evaluations, name, target) for name in baselines) if b is not None]
        best = min(theirs, key=lambda row: row[metric] if direction == "lower" else -row[metric]) if theirs else None
        model_value = float(mine[metric]) if mine is not None else np.nan
        base_value = float(best[metric]) if best is not None else np.nan
        n = int(mine["n"]) if mine is not None else 0
        if np.isnan(model_value) or np.isnan(base_value) or n < min_rows:
            passed, why = (
                False,
                f"{target} {metric}: not measurable (n={n}, model={model_value}, baseline={base_value})",
            )
        elif direction == "lower":
            passed = model_value < base_value * (1 - min_relative_improvement)
            why = f"{target} {metric}: model {model_value:.4f} vs {best['model']} {base_value:.4f} (n={n})"
        else:
            passed = model_value >= base_value
            why = f"{target} {metric}: model {model_value:.4f} vs {best['model']} {base_value:.4f} (n={n})"
        records.append(
            {
                "target": target,
                "metric": metric,
                "model": model,
                "baseline": best["model"] if best is not None else None,
                "baseline_value": base_value,
                "model_value": model_value,
                "n": n,
                "passed": passed,
            }
        )
        reasons_line = ("PASS " if passed else "FAIL ") + why
        records[-1]["reason"] = reasons_line
    table = pd.DataFrame(records)
    return Verdict(bool(table["passed"].all()), tuple(table["reason"]), table.drop(columns=["reason"]))
