"""Calendar arithmetic on day numbers, vectorised.

The generator represents every date as an ``int32`` count of days since 1970-01-01 so that
millions of due dates, payment dates and business-day shifts are plain numpy arithmetic; only
the writers turn them into text. Timestamps are ``int64`` seconds since the epoch.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

EPOCH = dt.date(1970, 1, 1)
SECONDS_PER_DAY = 86_400
#: 1970-01-01 was a Thursday; with Monday = 0 the weekday of day ``d`` is ``(d + 3) % 7``.
_WEEKDAY_OFFSET = 3
SATURDAY, SUNDAY = 5, 6


def day_number(date: dt.date) -> int:
    return (date - EPOCH).days


def weekday(days: np.ndarray) -> np.ndarray:
    """Monday = 0 .. Sunday = 6."""
    return (days + _WEEKDAY_OFFSET) % 7


def next_business_day(days: np.ndarray) -> np.ndarray:
    """Saturdays and Sundays move to the following Monday (cash does not move at weekends)."""
    wd = weekday(days)
    return days + np.where(wd == SATURDAY, 2, np.where(wd == SUNDAY, 1, 0)).astype(days.dtype)


def previous_business_day(days: np.ndarray) -> np.ndarray:
    """Saturdays and Sundays move back to Friday (billing runs post on working days)."""
    wd = weekday(days)
    return days - np.where(wd == SATURDAY, 1, np.where(wd == SUNDAY, 2, 0)).astype(days.dtype)


def next_weekday(days: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The first day on or after ``days`` falling on weekday ``target`` (a payment-run day)."""
    return days + ((target - weekday(days)) % 7).astype(days.dtype)


def end_of_following_month(days: np.ndarray) -> np.ndarray:
    """'EOM' terms: due on the last day of the month after the document month."""
    months = days.astype("datetime64[D]").astype("datetime64[M]")
    return ((months + 2).astype("datetime64[D]") - np.timedelta64(1, "D")).astype(np.int64).astype(days.dtype)


def month_of(days: np.ndarray) -> np.ndarray:
    """Calendar month 1..12 of each day."""
    return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12 + 1


@dataclass(frozen=True)
class Month:
    """One calendar month of the history: its label and first/last day numbers."""

    index: int
    label: str  # 'YYYY-MM'
    first_day: int
    last_day: int

    @property
    def days(self) -> int:
        return self.last_day - self.first_day + 1


def months_between(first: dt.date, last: dt.date) -> list[Month]:
    """Every calendar month from the month of ``first`` to the month of ``last`` inclusive."""
    start = np.datetime64(first, "M")
    stop = np.datetime64(last, "M")
    out = []
    for i, m in enumerate(np.arange(start, stop + 1)):
        first_day = int(m.astype("datetime64[D]").astype(np.int64))
        last_day = int((m + 1).astype("datetime64[D]").astype(np.int64)) - 1
        out.append(Month(i, str(m), first_day, last_day))
    return out
