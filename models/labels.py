"""What a risk row's outcome was, as it could be known on a given day.

A training row (``intermediate.int_risk_training_rows``) carries raw outcome dates as of the warehouse's
as-of date: ``settled_date`` (null while open or when written off) and ``written_off_date``.
A backtest trained at origin T may only use what was known at T, and must not select rows by
their outcome (keeping only the invoices already paid by T keeps the fast payers and biases
every model toward paying early). So each label is *decided* by a deadline that does not
depend on the outcome:

- late (paid more than ``grace_days`` after due, or never): decided on due + grace + 1 for
  every invoice, whatever happened — by then it was either settled in time or it was not;
- severe (more than ``severe_days`` late, or written off): decided on due + severe + 1;
- paid within h days of the scoring day: decided on scoring day + h.

A row whose deadline is after the day is left out of that label's training or evaluation. An
aged snapshot row already past a deadline on its scoring day has its label *fixed*: an invoice
still open 10 days past due is late with certainty, so models score only the undecided rows
and publish 1 for the fixed ones.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pandas as pd

DAY = np.timedelta64(1, "D")


@dataclass(frozen=True)
class RiskTargets:
    """The label definitions (issue 12: ``risk.grace_days`` and ``risk.severe_days``).

    The dbt features count a customer's late and severely late payments with the same numbers
    (vars ``risk_grace_days`` and ``risk_severe_days``); both must come from one setting.
    """

    grace_days: int = 0
    severe_days: int = 60

    def __post_init__(self) -> None:
        if self.grace_days < 0 or self.severe_days <= self.grace_days:
            raise ValueError(f"need 0 <= grace_days < severe_days, got {self.grace_days}, {self.severe_days}")


def _days(later: pd.Series, earlier: pd.Series) -> np.ndarray:
    """later - earlier in whole days as floats; NaN where either is missing."""
    return ((later.to_numpy("datetime64[D]") - earlier.to_numpy("datetime64[D]")) / DAY).astype(float)


def days_past_due_on(rows: pd.DataFrame) -> np.ndarray:
    """Days past due on each row's scoring day (negative = not yet due)."""
    return _days(rows["scoring_date"], rows["due_date"])


def past_due_labels(bounds: Sequence[int]) -> list[str]:
    """The names of the days-past-due buckets cut at ``bounds`` (upper bounds, the first 0, the
    last bucket open-ended): 'not_due', '1-30', ..., 'over_90'."""
    return ["not_due", *(f"{lo + 1}-{hi}" for lo, hi in pairwise(bounds)), f"over_{bounds[-1]}"]


def past_due_bucket(rows: pd.DataFrame, bounds: Sequence[int]) -> np.ndarray:
    """Each row's days-past-due bucket on its scoring day (``past_due_labels``). An invoice due
    on its scoring day is 'not_due': it is not late until the day after, as for the labels."""
    index = np.searchsorted(np.asarray(bounds), days_past_due_on(rows), side="left")
    return np.asarray(past_due_labels(bounds), dtype=object)[index]


def remaining_days(rows: pd.DataFrame) -> np.ndarray:
    """Days from the scoring day to settlement, never negative; inf when never settled (written
    off) or not settled by the data's as-of date.

    A short-paid invoice can be open on its scoring day although the customer's last payment
    came before it (the residue waits for a write-off); its remaining days are 0.
    """
    days = _days(rows["settled_date"], rows["scoring_date"])
    return np.where(np.isnan(days), np.inf, np.maximum(days, 0.0))


def _deadline_passed(rows: pd.DataFrame, days_after_due: int, known_on: dt.date) -> np.ndarray:
    deadline = rows["due_date"].to_numpy("datetime64[D]") + np.timedelta64(days_after_due + 1, "D")
    return deadline <= np.datetime64(known_on, "D")


def _settled_within(rows: pd.DataFrame, days_after_due: int) -> np.ndarray:
    lateness = _days(rows["settled_date"], rows["due_date"])
    return ~np.isnan(lateness) & (lateness <= days_after_due)


def late_labels(rows: pd.DataFrame, targets: RiskTargets, known_on: dt.date) -> pd.DataFrame:
    """Per row: ``late`` (1.0 / 0.0; NaN when undecided on ``known_on``), ``late_fixed`` (already
    decided on the row's own scoring day, hence 1), and the same for ``severe``."""
    past_due = days_past_due_on(rows)
    out = pd.DataFrame(index=rows.index)
    for name, days in (("late", targets.grace_days), ("severe", targets.severe_days)):
        value = np.where(_settled_within(rows, days), 0.0, 1.0)
        out[name] = np.where(_deadline_passed(rows, days, known_on), value, np.nan)
        out[f"{name}_fixed"] = past_due > days
    return out


def paid_within(rows: pd.DataFrame, horizon_days: float, known_on: dt.date) -> np.ndarray:
    """1.0 when settled within ``horizon_days`` of the scoring day, 0.0 when not, NaN when the
    horizon had not passed on ``known_on``."""
    decided = rows["scoring_date"].to_numpy("datetime64[D]") + np.timedelta64(int(horizon_days), "D") <= np.datetime64(
        known_on, "D"
    )
    value = (remaining_days(rows) <= horizon_days).astype(float)
    return np.where(decided, value, np.nan)
