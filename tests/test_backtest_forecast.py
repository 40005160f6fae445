"""The backtest: metrics by hand, the scope of actual receipts, rolling origins, the gate, coverage."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

import models.forecast as forecast_module
from models.backtest_forecast import (
    BacktestConfig,
    GateDecision,
    accuracy_table,
    actual_receipts,
    backtest,
    beats_due_date_baseline,
    publishable_weekly,
    rolling_origins,
)
from models.forecast import ForecastConfig, forecast_at
from models.forecast_baselines import baseline_weekly
from models.forecast_state import prepare, state_at
from orchestration.defs.forecast.warehouse_io import day_number
from tests.forecast_fixtures import inputs, paid_history, synthetic_company

AS_OF = dt.date(2026, 6, 30)


def cells_frame(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(
        rows, columns=["origin_date", "method", "series", "currency", "week_index", "p10", "p50", "p90", "actual"]
    )


O1, O2 = pd.Timestamp("2026-01-06"), pd.Timestamp("2026-02-03")
CELLS = cells_frame(
    [
        (O1, "forecast", "total", "USD", 1, 80.0, 100.0, 120.0, 90.0),  # e=+10, covered
        (O1, "forecast", "total", "USD", 2, 70.0, 80.0, 95.0, 100.0),  # e=-20, not covered (above p90)
        (O2, "forecast", "total", "USD", 1, 40.0, 50.0, 60.0, 60.0),  # e=-10, covered (edge p90)
        (O2, "forecast", "total", "USD", 2, 100.0, 120.0, 130.0, 100.0),  # e=+20, covered (edge p10)
        (O1, "due_date", "total", "USD", 1, np.nan, 150.0, np.nan, 90.0),  # e=+60
        (O1, "due_date", "total", "USD", 2, np.nan, 40.0, np.nan, 100.0),  # e=-60
        (O2, "due_date", "total", "USD", 1, np.nan, 60.0, np.nan, 60.0),  # e=0
        (O2, "due_date", "total", "USD", 2, np.nan, 100.0, np.nan, 100.0),  # e=0
    ]
)


def row(acc: pd.DataFrame, grain: str, method: str, **keys) -> pd.Series:
    sel = (acc["grain"] == grain) & (acc["method"] == method)
    for k, v in keys.items():
        sel &= acc[k] == v
    assert sel.sum() == 1
    return acc[sel].iloc[0]


def test_accuracy_metrics_by_hand() -> None:
    """Forecast: |e| = 10, 20, 10, 20 over actuals 350: WAPE 60/350; the errors net to 0, so net
    accuracy 1 and bias 0; 3 of 4 cells inside p10..p90 (both edges count as inside).
    Due date: WAPE 120/350, net accuracy 1 as well: net accuracy alone would not tell them apart."""
    acc = accuracy_table(CELLS)
    f = row(acc, "overall", "forecast")
    assert (f["n_cells"], f["n_origins"]) == (4, 2)
    assert f["wape"] == pytest.approx(60 / 350)
    assert f["gross_accuracy"] == pytest.approx(1 - 60 / 350)
    assert f["net_accuracy"] == pytest.approx(1.0)
    assert f["bias"] == pytest.approx(0.0)
    assert f["coverage_p10_p90"] == pytest.approx(0.75)
    b = row(acc, "overall", "due_date")
    assert b["wape"] == pytest.approx(120 / 350)
    assert b["net_accuracy"] == pytest.approx(1.0)
    assert pd.isna(b["coverage_p10_p90"])
    first = row(acc, "origin", "forecast", origin_date=O1)
    assert first["wape"] == pytest.approx(30 / 190)
    assert first["net_accuracy"] == pytest.approx(1 - 10 / 190)
    assert first["bias"] == pytest.approx(-10 / 190)
    week2 = row(acc, "horizon_week", "forecast", week_index=2)
    assert week2["wape"] == pytest.approx(40 / 200)
    assert week2["coverage_p10_p90"] == pytest.approx(0.5)
    cell = row(acc, "origin_week", "forecast", origin_date=O2, week_index=2)
    assert (cell["error"], cell["wape"], cell["coverage_p10_p90"]) == (20.0, pytest.approx(0.2), 1.0)


def test_zero_actuals_give_no_ratio_rather_than_infinity() -> None:
    acc = accuracy_table(cells_frame([(O1, "forecast", "total", "USD", 1, 0.0, 5.0, 9.0, 0.0)]))
    assert pd.isna(row(acc, "overall", "forecast")["wape"])


def gate(forecast_wape: float, baseline_wape: float, n: int = 100) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "grain": "overall",
            "series": "total",
            "method": ["forecast", "due_date"],
            "wape": [forecast_wape, baseline_wape],
            "n_cells": n,
        }
    )


@pytest.mark.parametrize(
    ("f", "b", "margin", "passed"),
    [
        (0.20, 0.30, 1.0, True),
        (0.30, 0.30, 1.0, False),  # a tie is not a win
        (0.31, 0.30, 1.0, False),
        (0.209, 0.30, 0.7, True),  # just under 0.7 x baseline
        (0.211, 0.30, 0.7, False),  # just over
        (0.0, 0.30, 1.0, True),
    ],
)
def test_gate_threshold(f: float, b: float, margin: float, passed: bool) -> None:
    assert beats_due_date_baseline(gate(f, b), margin).passed is passed


def test_gate_fails_without_a_backtest_or_receipts() -> None:
    assert not beats_due_date_baseline(accuracy_table(cells_frame([]))).passed
    assert not beats_due_date_baseline(gate(np.nan, np.nan)).passed
    assert not beats_due_date_baseline(gate(0.1, 0.3).iloc[:1]).passed  # no baseline row


def test_rolling_origins_every_four_weeks_over_a_year_with_a_full_horizon() -> None:
    as_of = day_number(AS_OF)
    origins = rolling_origins(as_of, as_of - 1000, 13, BacktestConfig())
    assert len(origins) == 14
    assert origins[-1] == as_of - 91 - 7
    assert set(np.diff(origins)) == {28}
    short = rolling_origins(as_of, as_of - 400, 13, BacktestConfig())  # history from 400 days back
    assert short.min() >= as_of - 400 + 182 and len(short) < 14
    assert len(rolling_origins(as_of, as_of - 200, 13, BacktestConfig())) == 0


def d(days: int) -> dt.date:
    return AS_OF + dt.timedelta(days=days)


def test_actual_receipts_count_the_origin_book_only() -> None:
    """Origin O = AS_OF. Counted: INV-OPEN's cash on O+10 (week 2) and the planned INV-PLAN
    (issued O+5) paid O+20 (week 3). Not counted: INV-NEW, issued after O without a plan line,
    paid O+9; INV-PAID-EARLY's cash received O-2 (applied O+1): it arrived before the origin."""
    hist_inv, hist_ev = paid_history("A", "USD", AS_OF, (5,))
    book = [
        {
            "invoice_id": "INV-OPEN",
            "customer_id": "A",
            "currency": "USD",
            "invoice_date": d(-20),
            "due_date": d(10),
            "amount": 300.0,
        },
        {
            "invoice_id": "INV-PAID-EARLY",
            "customer_id": "A",
            "currency": "USD",
            "invoice_date": d(-20),
            "due_date": d(5),
            "amount": 70.0,
        },
        {
            "invoice_id": "INV-NEW",
            "customer_id": "A",
            "currency": "USD",
            "invoice_date": d(2),
            "due_date": d(8),
            "amount": 50.0,
        },
        {
            "invoice_id": "INV-PLAN",
            "customer_id": "A",
            "currency": "USD",
            "invoice_date": d(5),
            "due_date": d(15),
            "amount": 400.0,
        },
    ]
    cash = [
        {"invoice_id": "INV-OPEN", "known_date": d(10), "effective_date": d(10), "amount": 300.0},
        {"invoice_id": "INV-PAID-EARLY", "known_date": d(1), "effective_date": d(-2), "amount": 70.0},
        {"invoice_id": "INV-NEW", "known_date": d(9), "effective_date": d(9), "amount": 50.0},
        {"invoice_id": "INV-PLAN", "known_date": d(20), "effective_date": d(20), "amount": 400.0},
    ]
    plan = {
        "plan_id": "PLN",
        "customer_id": "A",
        "currency": "USD",
        "expected_invoice_date": d(4),
        "amount": 400.0,
        "kind": "one_off",
        "invoice_id": "INV-PLAN",
        "invoice_date": d(5),
    }
    prepared = prepare(inputs(hist_inv + book, hist_ev + cash, plans=[plan]))
    state = state_at(prepared, day_number(AS_OF), 91)
    actual = actual_receipts(prepared, state, 13)
    total = actual[actual["series"] == "total"].sort_values("week_index")["actual"].to_numpy()
    expected = np.zeros(13)
    expected[[1, 2]] = [300.0, 400.0]
    assert total == pytest.approx(expected)


@pytest.fixture(scope="module")
def synthetic() -> tuple:
    prepared = prepare(synthetic_company(1))
    return prepared, day_number(AS_OF)


def test_backtest_beats_the_baseline_and_its_bands_cover(synthetic: tuple) -> None:
    """On a generated company (customers with their own lag distributions, drifting together
    month by month): the p10-p90 bands of the weekly total hold about 80 % of the actuals,
    and the forecast's WAPE is well under the due-date baseline's."""
    prepared, as_of = synthetic
    acc = accuracy_table(backtest(prepared, as_of, ForecastConfig(n_sims=200)))
    f = row(acc, "overall", "forecast", series="total")
    b = row(acc, "overall", "due_date", series="total")
    assert f["n_cells"] == 14 * 13
    assert 0.72 <= f["coverage_p10_p90"] <= 0.92
    assert f["wape"] < 0.7 * b["wape"]
    decision = beats_due_date_baseline(acc)
    assert decision.passed and decision.forecast_wape == pytest.approx(f["wape"])


def test_a_deliberately_broken_forecast_loses_and_the_baseline_is_published(
    synthetic: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Break the timing model (every payment 45 days later than it should be): the backtest
    shows it, the gate fails, and the table to publish is the due-date baseline, flagged."""
    prepared, as_of = synthetic
    real = forecast_module.conditional_quantiles

    def late(tables, rows, open_from_lag):
        p, lags = real(tables, rows, open_from_lag)
        return p, lags + 45.0

    monkeypatch.setattr(forecast_module, "conditional_quantiles", late)
    config = ForecastConfig(n_sims=100)
    decision = beats_due_date_baseline(accuracy_table(backtest(prepared, as_of, config)))
    assert not decision.passed
    assert decision.forecast_wape > decision.baseline_wape
    run = forecast_at(prepared, as_of, config)
    baseline = baseline_weekly(prepared, run.state, 13, "due_date")
    published = publishable_weekly(run.weekly, baseline, decision)
    assert set(published["model"]) == {"due_date"}
    assert published["is_baseline_fallback"].all()
    total = published[published["series"] == "total"].sort_values("week_index")
    base_total = baseline[baseline["series"] == "total"].sort_values("week_index")
    assert total["p50"].to_numpy() == pytest.approx(base_total["p50"].to_numpy())


def test_a_passing_gate_publishes_the_forecast(synthetic: tuple) -> None:
    prepared, as_of = synthetic
    run = forecast_at(prepared, as_of, ForecastConfig(n_sims=100))
    baseline = baseline_weekly(prepared, run.state, 13, "due_date")
    published = publishable_weekly(run.weekly, baseline, GateDecision(True, 0.2, 0.4, 182, "ok"))
    assert set(published["model"]) == {"forecast"} and not published["is_baseline_fallback"].any()
    assert published["gate_forecast_wape"].iloc[0] == 0.2
