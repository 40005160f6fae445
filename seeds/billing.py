"""Recurring billing: subscriptions, renewals and usage, and the billing system's plan.

Part of every month's invoices comes from plans (a monthly or quarterly subscription fee, an
annual renewal, usage billed in arrears); the rest are transactional. The billing system exports
every plan line — past ones (with the invoice they became) and future ones over the next
18 weeks — which is the timing signal a cash forecast uses for invoices not yet issued.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seeds.calendar import Month, next_business_day
from seeds.population import Population
from seeds.records import Records

PLAN_KINDS = ("subscription", "renewal", "usage", "one_off")
SUBSCRIPTION, RENEWAL, USAGE, ONE_OFF = range(4)
#: Share of a month's invoices that the plan aims to cover (capped by the customer count).
PLANNED_SHARE = 0.35
USAGE_SHARE = 0.3
ONE_OFF_SHARE = 0.04
FUTURE_DAYS = 18 * 7


@dataclass(frozen=True)
class Subscriptions:
    """One subscription per subscribing customer (parallel arrays)."""

    customer: np.ndarray  # int64 index into the population
    every_months: np.ndarray  # 1 monthly, 3 quarterly, 12 annual (billed as a renewal)
    anchor_month: np.ndarray  # month index of a billing month (may be before the history)
    bill_day: np.ndarray  # 1..28
    fee: np.ndarray  # int64 cents per billing at the anchor
    uplift: np.ndarray  # price increase per year
    usage_mean: np.ndarray  # int64 cents of monthly usage billed in arrears; 0 without usage

    def __len__(self) -> int:
        return len(self.customer)


@dataclass(frozen=True)
class Plans(Records):
    """Planned invoices of one month (parallel arrays)."""

    customer: np.ndarray
    day: np.ndarray  # expected invoice date (day number)
    kind: np.ndarray  # int8 index into PLAN_KINDS
    amount: np.ndarray  # planned cents
    subscription: np.ndarray  # subscription number, -1 for one-offs


def build_subscriptions(
    rng: np.random.Generator, pop: Population, months: int, invoices: int, history_start_month: int
) -> Subscriptions:
    """Choose subscribers so planned invoices are about ``PLANNED_SHARE`` of the volume."""
    per_month = invoices / months
    expected_per_sub = 0.7 + 0.2 / 3 + 0.1 / 12 + USAGE_SHARE
    count = int(min(PLANNED_SHARE * per_month / expected_per_sub, 0.5 * len(pop)))
    customer = np.sort(rng.choice(len(pop), count, replace=False))
    every = rng.choice(np.array([1, 3, 12]), count, p=[0.7, 0.2, 0.1])
    start_month = np.maximum(_month_index(pop.start_day[customer], history_start_month), 0)
    before_history = pop.start_day[customer] < _first_day(history_start_month)
    anchor = np.where(before_history, -rng.integers(0, every), start_month)
    base = np.exp(pop.size_mu[customer]) * rng.uniform(0.5, 1.0, count)
    fee = np.round(base * every * np.where(every == 12, 0.9, 1.0) / 10_000) * 10_000
    usage = np.where(rng.random(count) < USAGE_SHARE, base * rng.uniform(0.2, 0.6, count), 0.0)
    return Subscriptions(
        customer=customer,
        every_months=every,
        anchor_month=anchor,
        bill_day=rng.integers(1, 29, count),
        fee=np.maximum(fee, 10_000).astype(np.int64),
        uplift=rng.uniform(0.03, 0.07, count),
        usage_mean=np.round(usage).astype(np.int64),
    )


def _first_day(month_number: int) -> int:
    return int(np.datetime64(month_number, "M").astype("datetime64[D]").astype(np.int64))


def _month_index(days: np.ndarray, history_start_month: int) -> np.ndarray:
    """Month index relative to the first month of the history (negative before it)."""
    months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return months - history_start_month


def plans_for_month(
    subs: Subscriptions, pop: Population, month: Month, month_index: int, rng: np.random.Generator
) -> Plans:
    """Subscription, renewal and usage lines the billing system expects in ``month``."""
    c = subs.customer
    live = pop.active_between(month.first_day, month.last_day)[c] & (pop.default_day[c] > month.first_day)
    since = month_index - subs.anchor_month
    due = live & (since >= 0) & (since % subs.every_months == 0)
    years = np.maximum(since, 0) // 12
    recurring_amount = np.round(subs.fee * (1 + subs.uplift) ** years).astype(np.int64)
    recurring_day = month.first_day + subs.bill_day - 1
    usage = live & (subs.usage_mean > 0) & (since > 0)
    usage_day = next_business_day(np.full(int(usage.sum()), month.first_day + 2))
    usage_amount = np.round(subs.usage_mean[usage] * rng.lognormal(0.0, 0.15, int(usage.sum())))
    return Plans(
        customer=np.concatenate([c[due], c[usage]]),
        day=np.concatenate([recurring_day[due], usage_day]).astype(np.int32),
        kind=np.concatenate(
            [np.where(subs.every_months[due] == 12, RENEWAL, SUBSCRIPTION), np.full(int(usage.sum()), USAGE)]
        ).astype(np.int8),
        amount=np.concatenate([recurring_amount[due], usage_amount.astype(np.int64)]),
        subscription=np.concatenate([np.flatnonzero(due), np.flatnonzero(usage)]).astype(np.int64) + 1,
    )


def future_one_offs(rng: np.random.Generator, pop: Population, month: Month, volume: float, after_day: int) -> Plans:
    """Project services and one-off invoices planned for a future month (enterprise/mid-market)."""
    eligible = np.flatnonzero((pop.segment < 2) & pop.active_between(month.first_day, month.last_day))
    eligible = eligible[pop.default_day[eligible] > after_day]
    first = max(month.first_day, after_day + 1)
    count = int(rng.poisson(ONE_OFF_SHARE * volume)) if len(eligible) and first <= month.last_day else 0
    customer = rng.choice(eligible, count) if count else np.zeros(0, dtype=np.int64)
    day = rng.integers(first, month.last_day + 1, count).astype(np.int32)
    amount = np.round(np.exp(pop.size_mu[customer]) * rng.lognormal(0.3, 0.4, count) / 10_000) * 10_000
    return Plans(
        customer=customer.astype(np.int64),
        day=day,
        kind=np.full(count, ONE_OFF, dtype=np.int8),
        amount=np.maximum(amount, 10_000).astype(np.int64),
        subscription=np.full(count, -1, dtype=np.int64),
    )


def one_offs_from_invoices(
    rng: np.random.Generator,
    pop: Population,
    customer: np.ndarray,
    day: np.ndarray,
    amount: np.ndarray,
    month: Month,
) -> tuple[Plans, np.ndarray]:
    """Plan lines for services the billing team scheduled ahead of invoicing them: a share of
    the month's enterprise and mid-market transactional invoices, planned a few days to two weeks
    earlier at a rounded estimate. Returns the plans and the index of the invoice each became."""
    candidates = np.flatnonzero((pop.segment[customer] < 2) & (rng.random(len(customer)) < 2.5 * ONE_OFF_SHARE))
    k = len(candidates)
    planned_day = np.maximum(day[candidates] - rng.integers(0, 15, k), month.first_day)
    estimate = np.round(amount[candidates] * rng.uniform(0.9, 1.1, k) / 10_000) * 10_000
    plans = Plans(
        customer=customer[candidates].astype(np.int64),
        day=planned_day.astype(np.int32),
        kind=np.full(k, ONE_OFF, dtype=np.int8),
        amount=np.maximum(estimate, 10_000).astype(np.int64),
        subscription=np.full(k, -1, dtype=np.int64),
    )
    return plans, candidates
