"""The forecast on the real IBM receivables sample (shared folder; skipped when absent)."""

from __future__ import annotations

import pytest

from bench.forecast_ibm import (
    CONFIG,
    DEFAULT_CSV,
    PUBLISHED,
    evaluate,
    horizon_weeks,
    load,
    split,
)
from models.forecast import ForecastConfig

pytestmark = pytest.mark.skipif(not DEFAULT_CSV.exists(), reason=f"{DEFAULT_CSV} not available")


def test_chronological_weekly_wape_beats_the_published_figures() -> None:
    """Reproduces SOURCE.md's baselines (same protocol, same weeks), then the forecast beats
    due date (0.329), customer mean (0.228) and SOURCE.md's gradient boosting (0.204)."""
    history, test = split(load(DEFAULT_CSV))
    assert (len(history), len(test)) == (1846, 536)
    result = evaluate(
        history, test, ForecastConfig(n_sims=CONFIG.n_sims, horizon_weeks=horizon_weeks(test), state=CONFIG.state)
    )
    assert result.due_date == pytest.approx(PUBLISHED["due date"], abs=0.0005)
    assert result.customer_mean == pytest.approx(PUBLISHED["customer mean"], abs=0.002)
    assert result.forecast_p50 < PUBLISHED["gradient boosting"]
    assert 0.65 <= result.coverage <= 0.95
    assert result.weekly["actual"].sum() == pytest.approx(test["InvoiceAmount"].sum())
