"""Rolling-origin backtest: the model against its baselines, as if run on past days.

At each origin T the model and the baselines are trained on what was known at T (rows scored
before T, labels decided by T: ``labels``), then score what was open at T (its snapshot rows,
already aged) and what was issued in the ``test_days`` after T (issue rows, as of their own
dates). They are judged on the outcomes known at the as-of date, each label only on rows whose
deadline had passed by then, so recent origins are not judged on their fast payers alone.
Origins are multiples of the snapshot step before the as-of date (snapshot days, so open
invoices at T have feature rows), the latest leaving ``test_days + eval_horizon_days`` for
outcomes to arrive.

``evaluations`` has one row per (origin, scorer, target) and a pooled row per (scorer, target)
over all origins (``origin_date`` null): the rows of ``ml.model_evaluations``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.baselines import (
    CUSTOMER_MEAN,
    DUE_DATE,
    LATE_RATE,
    BaselineScorer,
    fit_baselines,
)
from models.labels import late_labels, remaining_days
from models.metrics import probability_metrics, timing_metrics
from models.risk import LedgerTooYoung, RiskModel, RiskParams, fit_risk_model

INTERVAL_LEVELS = (0.1, 0.5, 0.9)
#: Remaining days at which pay-date errors are capped in the backtest (13 weeks, the forecast's horizon).
EVAL_HORIZON_DAYS = 91
#: The worklist's horizon: P(not settled within it) is the risk the queue ranks by.
WORKLIST_HORIZON_DAYS = 30


@dataclass(frozen=True)
class BacktestPlan:
    origins: tuple[dt.date, ...]
    test_days: int = 28
    eval_horizon_days: int = EVAL_HORIZON_DAYS


def plan_origins(
    as_of: dt.date,
    *,
    step_days: int = 28,
    count: int = 4,
    test_days: int = 28,
    eval_horizon_days: int = EVAL_HORIZON_DAYS,
) -> BacktestPlan:
    """``count`` origins ``step_days`` apart, the latest the first snapshot day leaving
    ``test_days + eval_horizon_days`` before ``as_of``; earliest first."""
    gap = math.ceil((test_days + eval_horizon_days) / step_days) * step_days
    origins = tuple(as_of - dt.timedelta(days=gap + step_days * k) for k in reversed(range(count)))
    return BacktestPlan(origins, test_days, eval_horizon_days)


def test_rows(rows: pd.DataFrame, origin: dt.date, test_days: int) -> pd.DataFrame:
    """Snapshot rows of the origin (open then) and issue rows of the ``test_days`` after it."""
    scored = rows["scoring_date"].to_numpy("datetime64[D]")
    at = np.datetime64(origin, "D")
    snapshot = (rows["row_kind"].to_numpy() == "snapshot") & (scored == at)
    issued = (rows["row_kind"].to_numpy() == "issue") & (scored > at) & (scored <= at + np.timedelta64(test_days, "D"))
    return rows[snapshot | issued]


def predict(model: RiskModel, baselines: BaselineScorer, rows: pd.DataFrame) -> pd.DataFrame:
    """Every scorer's answer per row: p_late / p_severe of the model and of the late-rate
    baseline, remaining-day quantiles (p10, p50, p90) of the model and of both timing baselines,
    and P(settled within WORKLIST_HORIZON_DAYS) of the model."""
    out = pd.DataFrame(index=rows.index)
    scored = model.score(rows)
    base = baselines.score(rows)
    out["insufficient_history"] = scored["insufficient_history"]
    for target in ("late", "severe"):
        out[f"model:p_{target}"] = scored[f"p_{target}"]
        out[f"{LATE_RATE}:p_{target}"] = base[f"p_{target}"]
    cdf = model.knot_cdf(rows)
    for name, quantiles in (
        ("model", cdf.quantiles(INTERVAL_LEVELS)),
        (DUE_DATE, baselines.quantiles(rows, INTERVAL_LEVELS, DUE_DATE)),
        (CUSTOMER_MEAN, baselines.quantiles(rows, INTERVAL_LEVELS, CUSTOMER_MEAN)),
    ):
        for level, column in zip(INTERVAL_LEVELS, quantiles.T, strict=True):
            out[f"{name}:r{int(level * 100)}"] = column
    out["model:paid_within_worklist_horizon"] = cdf.at([WORKLIST_HORIZON_DAYS])[:, 0]
    return out


def evaluate(
    rows: pd.DataFrame, predictions: pd.DataFrame, as_of: dt.date, model_name: str, targets, eval_horizon_days: int
) -> list[dict]:
    """Metric rows (scorer, target, metrics) for one set of test rows."""
    labels = late_labels(rows, targets, as_of)
    out = []
    for target in ("late", "severe"):
        usable = (~labels[f"{target}_fixed"] & labels[target].notna()).to_numpy()
        y = labels.loc[usable, target].to_numpy()
        for scorer, column in ((model_name, f"model:p_{target}"), (LATE_RATE, f"{LATE_RATE}:p_{target}")):
            out.append(
                {
                    "model": scorer,
                    "target": target,
                    **probability_metrics(y, predictions.loc[usable, column].to_numpy()),
                }
            )
    decided = rows["scoring_date"].to_numpy("datetime64[D]") + np.timedelta64(eval_horizon_days, "D") <= np.datetime64(
        as_of, "D"
    )
    actual = remaining_days(rows[decided])
    for scorer, key in ((model_name, "model"), (DUE_DATE, DUE_DATE), (CUSTOMER_MEAN, CUSTOMER_MEAN)):
        q = [predictions.loc[decided, f"{key}:r{int(level * 100)}"].to_numpy() for level in INTERVAL_LEVELS]
        out.append({"model": scorer, "target": "pay_date", **timing_metrics(actual, *q, cap=eval_horizon_days)})
    return out


@dataclass
class BacktestResult:
    evaluations: pd.DataFrame
    predictions: pd.DataFrame  # test rows with origin_date and every scorer's answer
    #: Origins of the plan where the model could not be trained (no decided label before them).
    skipped_origins: tuple[dt.date, ...] = ()


def run_backtest(
    rows: pd.DataFrame,
    as_of: dt.date,
    params: RiskParams | None = None,
    plan: BacktestPlan | None = None,
    fit: Callable[[pd.DataFrame, dt.date, RiskParams], RiskModel] = fit_risk_model,
) -> BacktestResult:
    """Train (``fit``, the model's own trainer unless a test swaps it) and test at every origin
    of ``plan`` (default ``plan_origins(as_of)``). An origin earlier than any decided label (a
    young ledger: the first origins fall in its first weeks) is skipped and reported; with no
    origin left the model cannot be judged, which is an error."""
    params = params or RiskParams()
    plan = plan or plan_origins(as_of)
    evaluations, predictions, skipped = [], [], []
    model_name = None
    for origin in plan.origins:
        try:
            model = fit(rows, origin, params)
        except LedgerTooYoung:
            skipped.append(origin)
            continue
        baselines = fit_baselines(rows, origin, params)
        model_name = model.name
        tested = test_rows(rows, origin, plan.test_days)
        answer = predict(model, baselines, tested)
        for metric in evaluate(tested, answer, as_of, model.name, params.targets, plan.eval_horizon_days):
            evaluations.append({"origin_date": origin, **metric})
        predictions.append(pd.concat([tested, answer], axis=1).assign(origin_date=origin))
    if not predictions:
        raise LedgerTooYoung(f"no backtest origin has a decided label before it: {', '.join(map(str, skipped))}")
    pooled_rows = pd.concat(predictions)
    for metric in evaluate(pooled_rows, pooled_rows, as_of, model_name, params.targets, plan.eval_horizon_days):
        evaluations.append({"origin_date": None, **metric})
    return BacktestResult(pd.DataFrame(evaluations), pooled_rows.reset_index(drop=True), tuple(skipped))
