"""The timing baselines' pay-time distribution by days-past-due band (models/baselines.py), on
hand-made training rows whose outcomes are known: a long-overdue invoice must not get the pay
time of a just-due one, each band boundary picks its own residuals, a thin band takes the
pooled ones, and quantiles stay ordered and never before the scoring day."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest

from models.baselines import (
    CUSTOMER_MEAN,
    DUE_DATE,
    MIN_BAND_RESIDUALS,
    TIMING_BASELINES,
    BaselineScorer,
    fit_baselines,
)
from models.risk import RiskParams
from tests.risk_synthetic import synthetic_rows

TRAINED_ON = dt.date(2026, 6, 30)
#: The training rows' scoring day: more than the last horizon (182 days) before TRAINED_ON.
SCORED = pd.Timestamp("2025-09-01")
LAST = max(RiskParams().horizons)
LEVELS = (0.1, 0.5, 0.9)


def open_rows(past_due: Sequence[int], remaining: Sequence[float]) -> pd.DataFrame:
    """Invoices open on SCORED, each ``past_due`` days past due then (negative: due later) and
    settled ``remaining`` days later (inf: never); the customer's mean days beyond terms is 0,
    so both timing baselines have the same point."""
    return pd.DataFrame(
        {
            "scoring_date": SCORED,
            "due_date": [SCORED - pd.Timedelta(days=d) for d in past_due],
            "settled_date": [SCORED + pd.Timedelta(days=r) if np.isfinite(r) else pd.NaT for r in remaining],
            "written_off_date": pd.NaT,
            "row_kind": "snapshot",
            "segment": "smb",
            "days_beyond_terms_mean": 0.0,
        }
    )


def training(*groups: tuple[int, Sequence[float]]) -> pd.DataFrame:
    """Training rows from (days past due, remaining days of each invoice) groups."""
    return pd.concat([open_rows([d] * len(r), r) for d, r in groups], ignore_index=True)


def fitted(*groups: tuple[int, Sequence[float]]) -> BaselineScorer:
    return fit_baselines(training(*groups), TRAINED_ON, RiskParams())


def scored(past_due: Sequence[int]) -> pd.DataFrame:
    """Rows to score on SCORED (their outcomes are not read)."""
    return open_rows(past_due, [np.inf] * len(past_due))


def test_a_long_overdue_invoice_pays_later_and_less_surely_than_a_just_due_one():
    """The defect: both got point 0 and the same pooled residuals (p10 = p50 = today, 90 %
    settled within the horizon). Here the training rows that far overdue mostly never paid."""
    baselines = fitted(
        (-10, np.linspace(5, 15, 40)),  # not yet due: paid around the due date
        (2, np.linspace(0, 10, 40)),  # just past due: paid within days
        (200, [*np.linspace(30, 120, 10), *[np.inf] * 30]),  # long overdue: a quarter paid, late
    )
    rows = scored([2, 361])
    for kind in TIMING_BASELINES:
        just_due, overdue = baselines.quantiles(rows, LEVELS, kind)
        assert overdue[0] >= 30 > just_due[0]  # p10 no longer the scoring day
        assert np.isinf(overdue[1]) and just_due[1] < 15  # p50: not within the last horizon
        # P(settled within the worklist's 30 days, within the last horizon)
        assert baselines.cdf(rows, [30, LAST], kind).tolist() == [[1.0, 1.0], [0.025, 0.25]]


@pytest.fixture(scope="module")
def one_pool_per_band() -> BaselineScorer:
    """Every band has MIN_BAND_RESIDUALS rows, all with the same residual, a different one per
    band: not due 1 day after due, 1-30 past due 2 days, 31-90 3 days, over 90 4 days."""
    return fitted(
        (-10, [11.0] * MIN_BAND_RESIDUALS),
        (15, [2.0] * MIN_BAND_RESIDUALS),
        (60, [3.0] * MIN_BAND_RESIDUALS),
        (120, [4.0] * MIN_BAND_RESIDUALS),
    )


@pytest.mark.parametrize(
    ("past_due", "residual"),
    [(0, 1.0), (1, 2.0), (30, 2.0), (31, 3.0), (90, 3.0), (91, 4.0)],
    ids=["due today: not due", "1 day: 1-30", "30 days: 1-30", "31 days: 31-90", "90 days: 31-90", "91: over 90"],
)
@pytest.mark.parametrize("kind", TIMING_BASELINES)
def test_each_side_of_a_band_boundary_takes_its_bands_residuals(one_pool_per_band, kind, past_due, residual):
    # the point is 0 for any invoice due by its scoring day: the whole pay time is the residual
    assert one_pool_per_band.quantiles(scored([past_due]), LEVELS, kind).tolist() == [[residual] * 3]


def test_rows_of_several_bands_are_answered_in_their_own_order(one_pool_per_band):
    rows = scored([91, -5, 31, 0, 120, 1]).set_index(pd.Index([7, 3, 9, 0, 5, 2]))
    assert one_pool_per_band.quantiles(rows, (0.5,), DUE_DATE)[:, 0].tolist() == [4.0, 6.0, 3.0, 1.0, 4.0, 2.0]
    assert one_pool_per_band.cdf(rows, [2.0, 3.0], CUSTOMER_MEAN).tolist() == [
        [0.0, 0.0],
        [0.0, 0.0],
        [0.0, 1.0],
        [1.0, 1.0],
        [0.0, 0.0],
        [1.0, 1.0],
    ]


@pytest.mark.parametrize(("rows_over_90", "own_pool"), [(MIN_BAND_RESIDUALS - 1, False), (MIN_BAND_RESIDUALS, True)])
def test_a_band_with_too_few_rows_takes_the_pooled_residuals(rows_over_90, own_pool):
    baselines = fitted(
        (-10, [11.0] * MIN_BAND_RESIDUALS),
        (15, [2.0] * MIN_BAND_RESIDUALS),
        (60, [3.0] * MIN_BAND_RESIDUALS),
        (120, [4.0] * rows_over_90),
    )
    pooled = np.repeat([1.0, 2.0, 3.0, 4.0], [MIN_BAND_RESIDUALS] * 3 + [rows_over_90])  # sorted
    for kind in TIMING_BASELINES:
        pools = baselines.residuals[kind]
        np.testing.assert_array_equal(pools["over_90"], [4.0] * rows_over_90 if own_pool else pooled)
        np.testing.assert_array_equal(pools["1-30"], [2.0] * MIN_BAND_RESIDUALS)  # the others keep theirs
    expected = [4.0, 4.0, 4.0] if own_pool else [1.0, 2.0, 4.0]
    assert baselines.quantiles(scored([120]), LEVELS, DUE_DATE).tolist() == [expected]


def test_a_band_without_training_rows_takes_the_pooled_residuals():
    baselines = fitted((-10, [11.0] * MIN_BAND_RESIDUALS), (15, [2.0] * MIN_BAND_RESIDUALS))
    pooled = np.repeat([1.0, 2.0], MIN_BAND_RESIDUALS)  # sorted
    for band in ("31-90", "over_90"):
        np.testing.assert_array_equal(baselines.residuals[DUE_DATE][band], pooled)


def test_quantiles_are_ordered_and_never_before_the_scoring_day():
    early_payers = fitted(
        (-10, np.linspace(0, 20, 40)),  # paid up to 10 days before due: negative residuals
        (5, np.linspace(0, 60, 40)),
        (45, [*np.linspace(0, 100, 20), *[np.inf] * 20]),
        (150, [*np.linspace(10, 170, 5), *[np.inf] * 35]),
    )
    ledger = synthetic_rows(customers=12)
    for baselines, rows in (
        (early_payers, scored([-30, -3, 0, 1, 30, 31, 90, 91, 400])),
        (fit_baselines(ledger, TRAINED_ON, RiskParams()), ledger),
    ):
        for kind in TIMING_BASELINES:
            q = baselines.quantiles(rows, np.arange(0.05, 1.0, 0.05), kind)
            assert (q >= 0).all()
            assert (q[:, 1:] >= q[:, :-1]).all()  # inf included
            cdf = baselines.cdf(rows, [0, 7, 30, 91, LAST], kind)
            assert (np.diff(cdf, axis=1) >= 0).all() and ((cdf >= 0) & (cdf <= 1)).all()


def test_a_scorer_pickled_before_the_bands_still_scores_with_its_one_pool() -> None:
    """A home upgraded between a weekly training and the next daily refresh scores with the
    baselines the last training saved: their residuals are one pool per baseline, not per band."""
    banded = fitted((0, [5.0] * 40), (120, [60.0] * 40))
    pooled = {kind: np.sort(np.concatenate(list(bands.values()))) for kind, bands in banded.residuals.items()}
    old = BaselineScorer(banded.params, banded.trained_on, banded.priors, pooled)
    rows = scored([0, 120])  # both points are 0 (the customer's mean is 0 days beyond terms)
    for kind in TIMING_BASELINES:
        shift = np.maximum(np.quantile(pooled[kind], LEVELS, method="inverted_cdf"), 0.0)
        expected = np.where(shift >= LAST, np.inf, shift)
        got = old.quantiles(rows, LEVELS, kind)
        assert np.array_equal(got[0], expected) and np.array_equal(got[1], expected), "one pool for every band"
