"""Rolling-origin backtest of the cash forecast against its two naive baselines, and the gate.

Origins fall every ``every_weeks`` weeks over the last ``span_weeks`` weeks whose whole horizon
(plus one settling week) is in the past. At each origin the forecast and both baselines are
rebuilt from what was known that day (models/forecast_state.py) and compared, week by week,
with the **actual receipts of the same book**: cash received (by payment date) in each horizon
week on the invoices open at the origin and on the invoices that the origin's pending plan lines
became. Cash from invoices nobody knew of at the origin (unplanned new sales) is outside every
method's scope and outside the actuals. Reporting-currency figures of an origin use that
origin's rates for forecast and actuals alike, so currency moves are not counted as error.

Metrics over a set of (origin, week) cells of one series, e = p50 - actual:
WAPE = sum|e| / sum(actual); gross accuracy = 1 - WAPE; net accuracy = 1 - |sum e| / sum(actual)
(over- and under-forecasts offset); bias = sum e / sum(actual); coverage = share of cells with
p10 <= actual <= p90 (forecast only; the baselines have no bands).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.forecast import BASE, ForecastConfig, forecast_at, origin_rates, wide_weekly
from models.forecast_baselines import BASELINES, baseline_weekly
from models.forecast_state import OriginState, PreparedInputs
from models.timing import CASH

METHODS = ("forecast", *BASELINES)
GRAINS = ("origin_week", "origin", "horizon_week", "overall")
_GRAIN_KEYS = {
    "origin_week": ["origin_date", "week_index"],
    "origin": ["origin_date"],
    "horizon_week": ["week_index"],
    "overall": [],
}


@dataclass(frozen=True)
class BacktestConfig:
    """Where the origins fall and how many simulations each gets."""

    every_weeks: int = 4
    span_weeks: int = 52
    #: Days of history an origin needs before it is used.
    min_history_days: int = 182
    #: Days after the horizon before an origin is scored (cash received then may be applied late).
    settle_days: int = 7


def rolling_origins(as_of_day: int, first_day: int, horizon_weeks: int, config: BacktestConfig) -> np.ndarray:
    """Origin days, oldest first: the latest whose horizon and settling week end by the as-of day,
    then every ``every_weeks`` weeks back over ``span_weeks``, each with enough history."""
    last = as_of_day - 7 * horizon_weeks - config.settle_days
    steps = np.arange(0, config.span_weeks // config.every_weeks + 1)
    origins = last - 7 * config.every_weeks * steps
    return np.sort(origins[origins >= first_day + config.min_history_days])


def actual_receipts(prepared: PreparedInputs, state: OriginState, weeks: int) -> pd.DataFrame:
    """Cash received per currency and horizon week on the origin's book (open invoices and the
    invoices its pending plan lines became), with the total at the origin's rates."""
    h = prepared.history
    origin = state.origin_day
    scope = np.zeros(len(h.amount), bool)
    scope[state.book] = True
    planned = state.plans["invoice"].to_numpy()
    scope[planned[planned >= 0]] = True
    day = h.ev_effective_day
    sel = (h.ev_kind == CASH) & scope[h.ev_invoice] & (day > origin) & (day <= origin + 7 * weeks)
    frame = (
        pd.DataFrame(
            {
                "currency": h.currency[h.ev_invoice[sel]],
                "week_index": (day[sel] - origin - 1) // 7 + 1,
                "actual": h.ev_amount[sel],
            }
        )
        .groupby(["currency", "week_index"], as_index=False)["actual"]
        .sum()
    )
    currencies = tuple(sorted(set(frame["currency"])))
    rates = pd.Series(origin_rates(prepared, origin, currencies), index=list(currencies))
    grid = pd.MultiIndex.from_product([currencies, range(1, weeks + 1)], names=["currency", "week_index"])
    frame = frame.set_index(["currency", "week_index"]).reindex(grid, fill_value=0.0).reset_index()
    frame["series"] = "currency"
    total = (
        frame.assign(actual=frame["actual"] * frame["currency"].map(rates).fillna(0.0))
        .groupby("week_index", as_index=False)["actual"]
        .sum()
    )
    total["series"] = "total"
    total["currency"] = prepared.reporting_currency
    if total.empty:
        total = pd.DataFrame(
            {
                "week_index": range(1, weeks + 1),
                "actual": 0.0,
                "series": "total",
                "currency": prepared.reporting_currency,
            }
        )
    return pd.concat([frame, total], ignore_index=True)


def origin_cells(prepared: PreparedInputs, origin_day: int, config: ForecastConfig) -> pd.DataFrame:
    """One origin's comparison cells: per method, series, currency and week, p10/p50/p90 and actual."""
    run = forecast_at(prepared, origin_day, config)
    weeks = config.horizon_weeks
    frames = [run.weekly[run.weekly["scenario"] == BASE].assign(method="forecast")]
    for method in BASELINES:
        frames.append(
            baseline_weekly(
                prepared, run.state, weeks, method, int(config.timing.window_half_lives * config.timing.half_life_days)
            ).assign(method=method, p10=np.nan, p90=np.nan)
        )
    keys = ["series", "currency", "week_index"]
    predicted = pd.concat(frames, ignore_index=True)[["method", *keys, "p10", "p50", "p90"]]
    actual = actual_receipts(prepared, run.state, weeks)
    grid = pd.MultiIndex.from_product(
        [
            METHODS,
            pd.unique(
                pd.concat([predicted[["series", "currency"]], actual[["series", "currency"]]]).apply(tuple, axis=1)
            ),
        ],
        names=["method", "sc"],
    ).to_frame(index=False)
    grid[["series", "currency"]] = pd.DataFrame(grid.pop("sc").tolist(), index=grid.index)
    grid = grid.merge(pd.DataFrame({"week_index": range(1, weeks + 1)}), how="cross")
    cells = grid.merge(predicted, on=["method", *keys], how="left").merge(
        actual[[*keys, "actual"]], on=keys, how="left"
    )
    cells[["p50", "actual"]] = cells[["p50", "actual"]].fillna(0.0)
    forecast_rows = cells["method"] == "forecast"
    cells.loc[forecast_rows, ["p10", "p90"]] = cells.loc[forecast_rows, ["p10", "p90"]].fillna(0.0)
    cells.insert(0, "origin_date", np.datetime64(int(origin_day), "D"))
    return cells


def backtest(
    prepared: PreparedInputs, as_of_day: int, config: ForecastConfig, backtest_config: BacktestConfig = BacktestConfig()
) -> pd.DataFrame:
    """Comparison cells of every rolling origin (empty when the history is too short for one)."""
    first_day = int(prepared.history.invoice_day.min()) if len(prepared.history.invoice_day) else as_of_day
    origins = rolling_origins(as_of_day, first_day, config.horizon_weeks, backtest_config)
    cells = [origin_cells(prepared, int(o), config) for o in origins]
    if not cells:
        return pd.DataFrame(
            columns=["origin_date", "method", "series", "currency", "week_index", "p10", "p50", "p90", "actual"]
        )
    return pd.concat(cells, ignore_index=True)


def accuracy_table(cells: pd.DataFrame) -> pd.DataFrame:
    """Metrics per grain (origin x week, origin, horizon week, overall), method, series and currency."""
    c = cells.assign(
        error=cells["p50"] - cells["actual"],
        abs_error=(cells["p50"] - cells["actual"]).abs(),
        covered=np.where(
            cells["p10"].isna(),
            np.nan,
            ((cells["actual"] >= cells["p10"]) & (cells["actual"] <= cells["p90"])).astype(float),
        ),
    )
    frames = []
    for grain in GRAINS:
        keys = ["method", "series", "currency", *_GRAIN_KEYS[grain]]
        g = c.groupby(keys, as_index=False, dropna=False).agg(
            n_cells=("actual", "size"),
            n_origins=("origin_date", "nunique"),
            actual=("actual", "sum"),
            forecast=("p50", "sum"),
            error=("error", "sum"),
            abs_error=("abs_error", "sum"),
            coverage_p10_p90=("covered", "mean"),
        )
        g.insert(0, "grain", grain)
        frames.append(g)
    out = pd.concat(frames, ignore_index=True)
    denominator = out["actual"].where(out["actual"] > 0)
    out["wape"] = out["abs_error"] / denominator
    out["gross_accuracy"] = 1.0 - out["wape"]
    out["net_accuracy"] = 1.0 - out["error"].abs() / denominator
    out["bias"] = out["error"] / denominator
    out["week_index"] = out["week_index"].astype("Int64")
    columns = [
        "grain",
        "method",
        "series",
        "currency",
        "origin_date",
        "week_index",
        "n_origins",
        "n_cells",
        "actual",
        "forecast",
        "error",
        "abs_error",
        "wape",
        "gross_accuracy",
        "net_accuracy",
        "bias",
        "coverage_p10_p90",
    ]
    return out.reindex(columns=columns)


@dataclass(frozen=True)
class GateDecision:
    """Whether the forecast may be published as the forecast, and the figures that decided it."""

    passed: bool
    forecast_wape: float | None
    baseline_wape: float | None
    n_cells: int
    reason: str


def beats_due_date_baseline(accuracy: pd.DataFrame, margin: float = 1.0) -> GateDecision:
    """The publication gate: the forecast's overall weekly WAPE (total, reporting currency) must be
    below ``margin`` x the due-date baseline's on the same backtest cells.

    No backtest cells, or a baseline without receipts to measure against, fails: a forecast that
    has not been shown to beat the baseline is not published as the forecast.
    """
    overall = accuracy[(accuracy["grain"] == "overall") & (accuracy["series"] == "total")].set_index("method")
    if "forecast" not in overall.index or "due_date" not in overall.index:
        return GateDecision(
            False, None, None, 0, "no backtest: too little history to compare with the due-date baseline"
        )
    f, b = overall.loc["forecast"], overall.loc["due_date"]
    n = int(f["n_cells"])
    if pd.isna(f["wape"]) or pd.isna(b["wape"]):
        return GateDecision(False, None, None, n, "no receipts in the backtest to measure against")
    f_wape, b_wape = float(f["wape"]), float(b["wape"])
    passed = f_wape < margin * b_wape
    verdict = "beats" if passed else "does not beat"
    return GateDecision(
        passed,
        f_wape,
        b_wape,
        n,
        f"forecast WAPE {f_wape:.3f} {verdict} {margin:g} x due-date baseline WAPE {b_wape:.3f} over {n} weekly cells",
    )


def past_receipts(prepared: PreparedInputs, as_of_day: int, weeks: int) -> pd.DataFrame:
    """All cash applied to invoices in each of the ``weeks`` weeks ending on the as-of day, by
    payment date, in the reporting currency at the as-of day's rates (the fan chart's actuals)."""
    h = prepared.history
    day = h.ev_effective_day
    first = as_of_day - 7 * weeks
    sel = (h.ev_kind == CASH) & (day > first) & (day <= as_of_day)
    currency = h.currency[h.ev_invoice[sel]]
    currencies = tuple(sorted(set(currency.tolist())))
    rates = pd.Series(origin_rates(prepared, as_of_day, currencies), index=list(currencies))
    amount = h.ev_amount[sel] * pd.Series(currency).map(rates).fillna(0.0).to_numpy()
    week = (day[sel] - first - 1) // 7
    totals = np.bincount(week, weights=amount, minlength=weeks)[:weeks]
    start = np.datetime64(int(first), "D") + 1 + 7 * np.arange(weeks)
    return pd.DataFrame({"week_start": start, "week_end": start + 6, "actual": totals})


def publishable_weekly(
    forecast_long: pd.DataFrame, baseline_long: pd.DataFrame, decision: GateDecision
) -> pd.DataFrame:
    """The table published as ``forecast.cash_forecast_weekly``: the forecast when it passed the
    gate, else the due-date baseline in its place (its scenario columns null), flagged either way."""
    wide = wide_weekly(forecast_long)
    if not decision.passed:
        wide = wide_weekly(baseline_long).reindex(columns=wide.columns)
    wide["is_baseline_fallback"] = not decision.passed
    wide["gate_forecast_wape"] = decision.forecast_wape
    wide["gate_baseline_wape"] = decision.baseline_wape
    return wide
