"""The naive baselines every model is measured against, always computed (issue 12).

- ``customer_late_rate``: P(late) = the customer's share of paid invoices paid late so far;
  P(severe) = its share paid severely late or written off. Customers with no paid invoice
  take their segment's prior (``SegmentPriors``), as the model's insufficient-history rows do.
- ``due_date``: the invoice is paid on its due date (on the scoring day if already past due).
- ``customer_mean_days``: the invoice is paid the customer's mean days beyond terms after its
  due date (the segment's mean when it has no paid invoice), not before the scoring day.

The two timing baselines are point forecasts; their intervals and distribution are the point
plus the residuals (actual - point, capped at the last horizon) of the training rows in the same
days-past-due band on their scoring day (``RESIDUAL_BANDS``): the simplest honest interval, so
the model's interval coverage has something to be compared with. The band matters because the
point cannot see it: both points are 0 for any invoice past its expected day, so pooled
residuals gave an invoice a year overdue the pay time of one a month overdue (p50 = today,
90 % settled within the horizon), while the training rows that far overdue mostly never paid.
A band with fewer than ``MIN_BAND_RESIDUALS`` training rows takes the pooled residuals.
Rows past a label's deadline on their scoring day get 1, exactly as for the model.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.labels import days_past_due_on, past_due_bucket, past_due_labels, remaining_days
from models.risk import (
    RiskParams,
    SegmentPriors,
    fit_priors,
    insufficient_history,
    training_window,
)

LATE_RATE = "baseline_customer_late_rate"
DUE_DATE = "baseline_due_date"
CUSTOMER_MEAN = "baseline_customer_mean_days"
TIMING_BASELINES = (DUE_DATE, CUSTOMER_MEAN)
#: Days-past-due bands of the timing residuals (upper bounds; the last is open-ended): not yet
#: due (the point still carries the days until due), 1-30 (just missed, mostly paid within
#: weeks), 31-90 (credit risk up: IFRS 9's 30-day presumption), over 90 (IFRS 9's presumption of
#: default: many never pay). Coarser than the priors' 30-day buckets so that each band keeps
#: enough rows on a small ledger.
RESIDUAL_BANDS = (0, 30, 90)
#: Fewest training rows a band needs for its own residuals (below, the pooled ones): with 30,
#: p10 and p90 each rest on at least three rows, as a prior cell does (``MIN_PRIOR_ROWS``).
MIN_BAND_RESIDUALS = 30


def _numeric(rows: pd.DataFrame, name: str) -> np.ndarray:
    return pd.to_numeric(rows[name], errors="coerce").to_numpy(dtype=float, copy=True)


def customer_late_share(rows: pd.DataFrame) -> np.ndarray:
    return _numeric(rows, "late_share").copy()


def customer_severe_share(rows: pd.DataFrame) -> np.ndarray:
    """(severely late paid + written off) / (paid + written off); NaN with neither."""
    paid = np.nan_to_num(_numeric(rows, "paid_invoice_count"))
    written_off = np.nan_to_num(_numeric(rows, "written_off_invoice_count"))
    severe = np.nan_to_num(_numeric(rows, "severe_late_share")) * paid
    total = paid + written_off
    return np.where(total > 0, (severe + written_off) / np.where(total > 0, total, 1.0), np.nan)


def point_remaining_days(rows: pd.DataFrame, kind: str, priors: SegmentPriors) -> np.ndarray:
    """The timing baselines' remaining days from the scoring day (never negative)."""
    until_due = -days_past_due_on(rows)
    if kind == DUE_DATE:
        return np.maximum(until_due, 0.0)
    if kind == CUSTOMER_MEAN:
        mean = _numeric(rows, "days_beyond_terms_mean")
        mean = np.where(np.isnan(mean), priors.mean_days_beyond_terms(rows), mean)
        return np.maximum(until_due + mean, 0.0)
    raise ValueError(f"unknown timing baseline {kind!r}")


@dataclass(frozen=True)
class ShiftedResiduals:
    """A point forecast of remaining days plus one pool of training residuals: P(settled within d)
    = share of residuals <= d - point, flat from the last horizon on; quantiles = point +
    residual quantile, never below 0, inf from the last horizon on (``timing`` interface).

    A residual was capped at the last horizon (settled then or later, or never), so point +
    residual >= last horizon counts as not settled within it, in both answers: 1 - at(last) is
    the mass the quantiles call inf, as the interface says."""

    point: np.ndarray  # (n,)
    residuals: np.ndarray  # sorted
    last_horizon: float

    def at(self, days: Sequence[float]) -> np.ndarray:
        out = np.empty((len(self.point), len(days)))
        before_last = np.searchsorted(self.residuals, self.last_horizon - self.point, side="left")
        for j, d in enumerate(days):
            within = np.searchsorted(self.residuals, d - self.point, side="right")
            out[:, j] = np.minimum(within, before_last) / max(len(self.residuals), 1)
        return out

    def quantiles(self, levels: Sequence[float]) -> np.ndarray:
        shift = (
            np.quantile(self.residuals, levels, method="inverted_cdf") if len(self.residuals) else np.zeros(len(levels))
        )
        out = np.maximum(self.point[:, None] + shift[None, :], 0.0)
        return np.where(out >= self.last_horizon, np.inf, out)


@dataclass(frozen=True)
class BandedResiduals:
    """The pay-time distribution of rows from several days-past-due bands, each band's rows a
    ``ShiftedResiduals`` with that band's residuals, answered in the rows' order (``timing``
    interface)."""

    parts: tuple[tuple[np.ndarray, ShiftedResiduals], ...]  # (row positions, their distribution)

    def _gather(self, answer: Callable[[ShiftedResiduals], np.ndarray], width: int) -> np.ndarray:
        out = np.empty((sum(len(positions) for positions, _ in self.parts), width))
        for positions, part in self.parts:
            out[positions] = answer(part)
        return out

    def at(self, days: Sequence[float]) -> np.ndarray:
        return self._gather(lambda part: part.at(days), len(days))

    def quantiles(self, levels: Sequence[float]) -> np.ndarray:
        return self._gather(lambda part: part.quantiles(levels), len(levels))


def residual_band(rows: pd.DataFrame) -> np.ndarray:
    """Each row's band of ``RESIDUAL_BANDS`` on its scoring day ('not_due', '1-30', '31-90', 'over_90')."""
    return past_due_bucket(rows, RESIDUAL_BANDS)


def residuals_by_band(residuals: np.ndarray, bands: np.ndarray) -> dict[str, np.ndarray]:
    """Sorted residuals per band, every band present; a band with fewer than
    ``MIN_BAND_RESIDUALS`` rows gets all of them pooled (its own few would be noise)."""
    pooled = np.sort(residuals)
    return {
        band: np.sort(residuals[bands == band]) if (bands == band).sum() >= MIN_BAND_RESIDUALS else pooled
        for band in past_due_labels(RESIDUAL_BANDS)
    }


@dataclass
class BaselineScorer:
    """The baselines fitted on what was known on ``trained_on`` (priors and residuals only)."""

    params: RiskParams
    trained_on: dt.date
    priors: SegmentPriors
    residuals: dict[str, dict[str, np.ndarray]]  # per timing baseline, per band (``residuals_by_band``)
    name: str = LATE_RATE
    timing_kind: str = CUSTOMER_MEAN

    def score(self, rows: pd.DataFrame) -> pd.DataFrame:
        """p_late and p_severe from the customer's own rates however short its history (that is
        the naive baseline); the segment prior only where it has none; 1 past the deadline."""
        past_due = days_past_due_on(rows)
        out = pd.DataFrame(index=rows.index)
        out["insufficient_history"] = insufficient_history(rows, self.params)
        for name, share, days in (
            ("late", customer_late_share, self.params.targets.grace_days),
            ("severe", customer_severe_share, self.params.targets.severe_days),
        ):
            value = share(rows)
            missing = np.isnan(value)
            if missing.any():
                value[missing] = self.priors.rate(rows[missing], name)
            out[f"p_{name}"] = np.where(past_due > days, 1.0, value)
        return out

    def distribution(self, rows: pd.DataFrame, kind: str | None = None) -> BandedResiduals:
        """The pay-time distribution of a timing baseline (``timing_kind`` by default): its point
        plus the residuals of the row's days-past-due band."""
        kind = kind or self.timing_kind
        point, bands = point_remaining_days(rows, kind, self.priors), residual_band(rows)
        last = float(max(self.params.horizons))
        pools = self.residuals[kind]
        if isinstance(pools, np.ndarray):  # pickled by a release before the bands: one pool for all
            pools = dict.fromkeys(past_due_labels(RESIDUAL_BANDS), pools)
        parts = []
        for band, residuals in pools.items():
            positions = np.flatnonzero(bands == band)
            parts.append((positions, ShiftedResiduals(point[positions], residuals, last)))
        return BandedResiduals(tuple(parts))

    def cdf(self, rows: pd.DataFrame, days: Sequence[float], kind: str | None = None) -> np.ndarray:
        return self.distribution(rows, kind).at(days)

    def quantiles(self, rows: pd.DataFrame, levels: Sequence[float], kind: str | None = None) -> np.ndarray:
        return self.distribution(rows, kind).quantiles(levels)


def fit_baselines(rows: pd.DataFrame, known_on: dt.date, params: RiskParams | None = None) -> BaselineScorer:
    """Priors, and residuals by days-past-due band, from the training window with labels known
    on ``known_on``: the rows whose last horizon had passed by then, scored open at any age."""
    params = params or RiskParams()
    window = training_window(rows, known_on, params.training_days).reset_index(drop=True)
    priors = fit_priors(window, known_on, params.targets, params.horizons)
    last = max(params.horizons)
    decided = window["scoring_date"].to_numpy("datetime64[D]") + np.timedelta64(last, "D") <= np.datetime64(
        known_on, "D"
    )
    actual = np.minimum(remaining_days(window[decided]), last)
    bands = residual_band(window[decided])
    residuals = {
        kind: residuals_by_band(actual - np.minimum(point_remaining_days(window[decided], kind, priors), last), bands)
        for kind in TIMING_BASELINES
    }
    return BaselineScorer(params, known_on, priors, residuals)
