"""The 13-week cash receipts forecast: open invoices, promises and planned billing, simulated.

Every amount that may arrive in the horizon becomes a *cash item* with an amount, a currency, a
customer and a timing distribution (models/timing.py's interface: ``p_collect`` and quantiles of
the days from the origin to payment):

* open invoices, net of unapplied cash: the customer's conditional timing, the disputed pool's
  when a dispute is open; ``p_collect`` carries write-off and credit risk;
* the promised part of an invoice with a pending promise: paid on the promised day with the
  customer's kept rate, otherwise (broken) timed like the invoice but only after the promise's
  grace period, so a broken promise rolls the cash forward rather than losing it;
* pending plan lines: issued on their expected day with the realisation rate of their kind,
  then the customer's invoice-to-cash timing (terms + unconditional lag).

Bands come from Monte Carlo: each simulation draws one uniform per item through a Gaussian
copula with a factor per customer (customers pay several invoices together, early or late
together) and a portfolio factor (a slow month slows everyone). Scenarios reuse the same draws
(common random numbers), so a scenario's difference to the base case is not noise. Everything
is seeded: the same inputs and config give the same numbers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from models.forecast_state import OriginState, PreparedInputs, StateConfig, state_at
from models.timing import (
    LAG_EDGES,
    LEVELS,
    QUANTILE_CHUNK,
    QUANTILE_COLUMNS,
    TimingConfig,
    TimingTables,
    complete_quantiles,
    conditional_quantiles,
    fit_timing,
    sample_days,
)

COMPONENTS = ("open_invoices", "promises", "planned_billing")
OPEN, PROMISE, PLANNED = range(3)
BASE = "base"
SCENARIO_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
SCENARIO_KINDS = ("delay", "haircut", "default")
#: Item x simulation cells processed at once (bounds memory: a few arrays of this many floats).
CELLS_PER_CHUNK = 4_000_000


@dataclass(frozen=True)
class Scenario:
    """One what-if: ``delay`` (everyone pays ``days`` later; earlier for negative days, but never
    before the first day of the horizon), ``haircut`` (``segment`` collects
    ``percent`` % less), ``default`` (``customer_id`` pays nothing more)."""

    name: str
    kind: str
    days: int = 0
    segment: str | None = None
    percent: float = 0.0
    customer_id: str | None = None


def parse_scenarios(config: Mapping[str, Mapping[str, object]] | None) -> tuple[Scenario, ...]:
    """Scenarios from configuration (``forecast.scenarios``), validated; errors name the key.

    ``{"late_15": {"kind": "delay", "days": 15}, "smb_cut": {"kind": "haircut", "segment": "smb",
    "percent": 20}, "acme_out": {"kind": "default", "customer_id": "10023"}}``. Names become
    column prefixes, so they must be lower-case identifiers.
    """
    out = []
    for name, spec in (config or {}).items():
        where = f"forecast.scenarios.{name}"
        if not isinstance(name, str) or not SCENARIO_NAME.match(name) or name == BASE:
            raise ValueError(f"{where}: a scenario name must match {SCENARIO_NAME.pattern} and not be '{BASE}'")
        if not isinstance(spec, Mapping):
            raise TypeError(f"{where}: expected a mapping with a 'kind', got {type(spec).__name__}")
        kind = spec.get("kind")
        allowed = {
            "delay": {"kind", "days"},
            "haircut": {"kind", "segment", "percent"},
            "default": {"kind", "customer_id"},
        }
        if kind not in allowed:
            raise ValueError(f"{where}.kind: must be one of {list(SCENARIO_KINDS)}, got {kind!r}")
        unknown = set(spec) - allowed[kind]
        missing = allowed[kind] - set(spec)
        if unknown or missing:
            raise ValueError(
                f"{where}: kind '{kind}' takes exactly {sorted(allowed[kind])}"
                f" (unknown {sorted(unknown)}, missing {sorted(missing)})"
            )
        if kind == "delay":
            days = spec["days"]
            if isinstance(days, bool) or not isinstance(days, int) or not -365 <= days <= 365:
                raise ValueError(f"{where}.days: an integer number of days within +-365, got {days!r}")
            out.append(Scenario(name, kind, days=days))
        elif kind == "haircut":
            pct = spec["percent"]
            if isinstance(pct, bool) or not isinstance(pct, int | float) or not 0 <= pct <= 100:
                raise ValueError(f"{where}.percent: a number from 0 to 100, got {pct!r}")
            if not isinstance(spec["segment"], str) or not spec["segment"]:
                raise ValueError(f"{where}.segment: a segment name, got {spec['segment']!r}")
            out.append(Scenario(name, kind, segment=spec["segment"], percent=float(pct)))
        else:
            if not isinstance(spec["customer_id"], str | int) or isinstance(spec["customer_id"], bool):
                raise ValueError(f"{where}.customer_id: a customer id, got {spec['customer_id']!r}")
            out.append(Scenario(name, kind, customer_id=str(spec["customer_id"])))
    return tuple(out)


@dataclass(frozen=True)
class ForecastConfig:
    """Horizon, simulation size, dependence and the timing and state settings."""

    horizon_weeks: int = 13
    n_sims: int = 1000
    seed: int = 20261127
    #: Share of an item's timing variance common to its customer / to the whole portfolio.
    rho_customer: float = 0.5
    rho_global: float = 0.10
    timing: TimingConfig = field(default_factory=TimingConfig)
    state: StateConfig = field(default_factory=StateConfig)
    scenarios: tuple[Scenario, ...] = ()

    def __post_init__(self) -> None:
        if not 1 <= self.horizon_weeks <= 104:
            raise ValueError(f"horizon_weeks must be 1..104, got {self.horizon_weeks}")
        if self.n_sims < 20:
            raise ValueError(f"n_sims must be at least 20 for p10/p90 bands, got {self.n_sims}")
        if self.rho_customer < 0 or self.rho_global < 0 or self.rho_customer + self.rho_global >= 1:
            raise ValueError("rho_customer and rho_global must be >= 0 with a sum below 1")

    @property
    def horizon_days(self) -> int:
        return 7 * self.horizon_weeks


@dataclass(frozen=True)
class CashItems:
    """Every amount that may arrive in the horizon with how and when; one row per item."""

    item_id: np.ndarray
    component: np.ndarray  # OPEN, PROMISE or PLANNED
    customer: np.ndarray  # customer code
    segment: np.ndarray  # segment code
    currency: np.ndarray
    amount: np.ndarray
    p_exists: np.ndarray  # a plan line becomes an invoice (independent of timing)
    p_fixed: np.ndarray  # paid on fixed_day (a kept promise)
    fixed_day: np.ndarray  # days from the origin
    p_collect: np.ndarray  # otherwise: paid in cash at all
    quantiles: np.ndarray  # otherwise: days from the origin at LEVELS, given paid

    def __len__(self) -> int:
        return len(self.amount)

    def timing_frame(self) -> pd.DataFrame:
        """The timing interface frame of these items (item_id, p_collect, q0000..q1000)."""
        frame = pd.DataFrame(self.quantiles, columns=QUANTILE_COLUMNS)
        frame.insert(0, "p_collect", self.p_collect)
        frame.insert(0, "item_id", self.item_id)
        return frame


def _override_timing(
    items_ids: np.ndarray, p_collect: np.ndarray, days: np.ndarray, override: pd.DataFrame | None
) -> tuple[np.ndarray, np.ndarray]:
    """Replace the timing of items found in ``override`` (item_id, p_collect, any q-columns)."""
    if override is None or override.empty:
        return p_collect, days
    levels = {c: float(c[1:]) / 1000 for c in override.columns if c in QUANTILE_COLUMNS}
    if not levels:
        raise ValueError(f"timing override needs quantile columns among {QUANTILE_COLUMNS}")
    by_id = override.drop_duplicates("item_id").set_index("item_id")
    hit = by_id.index.get_indexer(pd.Index(items_ids))
    found = hit >= 0
    if found.any():
        rows = by_id.iloc[hit[found]]
        days = days.copy()
        days[found] = complete_quantiles(rows.reset_index(drop=True), levels)
        if "p_collect" in rows:
            p_collect = p_collect.copy()
            p_collect[found] = np.clip(rows["p_collect"].to_numpy(np.float64), 0.0, 1.0)
    return p_collect, days


def build_items(
    prepared: PreparedInputs, state: OriginState, tables: TimingTables, timing_override: pd.DataFrame | None = None
) -> CashItems:
    """Cash items of an origin: open invoices (split into promised part and rest) and plan lines."""
    h = prepared.history
    o = state.open
    origin = state.origin_day
    elapsed = (origin - o["due_day"]).to_numpy(np.float64)
    has_promise = o["promised_amount"].to_numpy() > 0.005
    after_promise = (o["evaluation_day"].to_numpy() - o["due_day"].to_numpy()).astype(np.float64) + 1.0
    open_from = np.where(has_promise, np.maximum(elapsed + 1.0, after_promise), elapsed + 1.0)
    rows = tables.rows_for(o["customer"].to_numpy(), o["segment"].to_numpy(), o["disputed"].to_numpy())
    p_open, lag_q = conditional_quantiles(tables, rows, open_from)
    days_open = np.maximum(lag_q - elapsed[:, None], 1.0)
    invoice_ids = h.invoice_id[o["pos"].to_numpy()]
    p_open, days_open = _override_timing(invoice_ids, p_open, days_open, timing_override)

    promised = o["promised_amount"].to_numpy()
    rest = o["open_amount"].to_numpy() - promised
    kept = state.kept_rate[o["customer"].to_numpy()]
    promise_day = np.maximum((o["promised_day"].to_numpy() - origin).astype(np.float64), 1.0)

    pl = state.plans
    plan_rows = tables.rows_for(pl["customer"].to_numpy(), pl["segment"].to_numpy())
    p_plan, plan_lag = conditional_quantiles(tables, plan_rows, np.full(len(pl), LAG_EDGES[0]))
    issue = (pl["issue_day"].to_numpy() - origin).astype(np.float64)
    days_plan = np.maximum(
        issue[:, None] + pl["terms_days"].to_numpy()[:, None] + plan_lag, np.maximum(issue, 1.0)[:, None]
    )

    part_rest = rest > 0.005
    part_promise = has_promise
    n_plan = len(pl)

    def pick(open_values: np.ndarray, plan_values: np.ndarray) -> np.ndarray:
        return np.concatenate([open_values[part_rest], open_values[part_promise], plan_values])

    return CashItems(
        item_id=pick(invoice_ids, pl["plan_id"].to_numpy(object)),
        component=np.concatenate(
            [np.full(part_rest.sum(), OPEN), np.full(part_promise.sum(), PROMISE), np.full(n_plan, PLANNED)]
        ).astype(np.int8),
        customer=pick(o["customer"].to_numpy(), pl["customer"].to_numpy()),
        segment=pick(o["segment"].to_numpy(), pl["segment"].to_numpy()),
        currency=pick(o["currency"].to_numpy(object), pl["currency"].to_numpy(object)),
        amount=np.concatenate([rest[part_rest], promised[part_promise], pl["amount"].to_numpy(np.float64)]),
        p_exists=np.concatenate([np.ones(part_rest.sum() + part_promise.sum()), pl["realisation"].to_numpy()]),
        p_fixed=np.concatenate([np.zeros(part_rest.sum()), kept[part_promise], np.zeros(n_plan)]),
        fixed_day=np.concatenate([np.zeros(part_rest.sum()), promise_day[part_promise], np.zeros(n_plan)]),
        p_collect=pick(p_open, p_plan),
        quantiles=np.concatenate([days_open[part_rest], days_open[part_promise], days_plan]).reshape(-1, len(LEVELS)),
    )


@dataclass(frozen=True)
class Simulation:
    """Simulated weekly receipts per scenario: ``weekly[name]`` is (sims, currencies, weeks);
    ``components[name]`` is the mean per (component, currency, week)."""

    currencies: tuple[str, ...]
    weekly: dict[str, np.ndarray]
    components: dict[str, np.ndarray]


def _scenario_effects(
    items: CashItems, scenarios: tuple[Scenario, ...], prepared: PreparedInputs
) -> list[tuple[str, np.ndarray, int]]:
    """Per scenario: the items' amounts under it and the days everyone's payment moves.

    Only the base case's components are kept: a scenario is published as totals."""
    effects = [(BASE, items.amount, 0)]
    for sc in scenarios:
        amount = items.amount
        if sc.kind == "haircut":
            code = prepared.history.segments.get_indexer([sc.segment])[0]
            amount = np.where(items.segment == code, amount * (1.0 - sc.percent / 100.0), amount)
        elif sc.kind == "default":
            code = prepared.history.customers.get_indexer([sc.customer_id])[0]
            amount = np.where(items.customer == code, 0.0, amount)
        effects.append((sc.name, amount, sc.days if sc.kind == "delay" else 0))
    return effects


def _week_of(days: np.ndarray, shift: int, weeks: int) -> np.ndarray:
    """Horizon week (0-based) of payment days after the origin, moved by ``shift`` days (never
    before day 1); ``weeks`` (the overflow slot) when beyond the horizon."""
    moved = np.maximum(days + np.float32(shift), np.float32(1.0))
    week = ((moved - np.float32(1.0)) // np.float32(7.0)).astype(np.int32)
    return np.minimum(week, weeks).astype(np.uint8)


#: Equal-probability buckets of an item's uniform draw in the week lookup tables.
U_BUCKETS = 64


def _week_tables(items: CashItems, rows: np.ndarray, shifts: list[int], weeks: int) -> dict[int, np.ndarray]:
    """Per shift, the week (or overflow) each of ``rows``' items lands in for a uniform draw in each
    of ``U_BUCKETS`` equal slices (evaluated at the slice's middle; ``p_collect`` folded in: a
    slice above it is unpaid). Flattened row-major, uint8: the simulation's per-draw lookup."""
    mid = ((np.arange(U_BUCKETS) + 0.5) / U_BUCKETS).astype(np.float32)[None, :]
    tables = {shift: np.empty((len(rows), U_BUCKETS), np.uint8) for shift in shifts}
    for start in range(0, len(rows), QUANTILE_CHUNK):
        part = rows[start : start + QUANTILE_CHUNK]
        p_collect = np.maximum(items.p_collect[part], 1e-12).astype(np.float32)[:, None]
        days = sample_days(items.quantiles[part].astype(np.float32), np.minimum(mid / p_collect, np.float32(1.0)))
        for shift, table in tables.items():
            table[start : start + len(part)] = np.where(mid < p_collect, _week_of(days, shift, weeks), weeks)
    return {shift: table.ravel() for shift, table in tables.items()}


def _special_weeks(
    items: CashItems, rows: np.ndarray, u: np.ndarray, rng: np.random.Generator, shifts: list[int], weeks: int
) -> dict[int, np.ndarray]:
    """Weeks of items with a fixed-day branch (promises) or an existence draw (plan lines), exactly."""
    p_fixed = items.p_fixed[rows].astype(np.float32)[:, None]
    p_collect = np.maximum(items.p_collect[rows], 1e-12).astype(np.float32)[:, None]
    fixed = u < p_fixed
    rest = np.clip((u - p_fixed) / np.where(p_fixed < 1, 1 - p_fixed, 1), 0, 1)
    exists = rng.random(u.shape, dtype=np.float32) < items.p_exists[rows, None]
    paid = exists & (fixed | (rest < p_collect))
    days = np.where(
        fixed,
        items.fixed_day[rows, None].astype(np.float32),
        sample_days(items.quantiles[rows].astype(np.float32), np.minimum(rest / p_collect, 1)),
    )
    return {shift: np.where(paid, _week_of(days, shift, weeks), weeks).astype(np.uint8) for shift in shifts}


def simulate(items: CashItems, config: ForecastConfig, origin_day: int, prepared: PreparedInputs) -> Simulation:
    """Monte Carlo of weekly receipts by currency for the base case and every scenario.

    Each simulation draws one portfolio factor (stratified: one per equal-probability slice
    across the simulations), one factor per customer and one term per item; an item's uniform
    is the normal CDF of their weighted sum. The week of a plain item is looked up in its table
    (``_week_tables``); promises and plan lines are drawn exactly. Unpaid items and payments
    beyond the horizon land in an overflow slot that is dropped.
    """
    currencies = tuple(sorted(set(items.currency.tolist())))
    cur = pd.Index(currencies).get_indexer(items.currency).astype(np.int64)
    n_cur, weeks, sims = len(currencies), config.horizon_weeks, config.n_sims
    effects = _scenario_effects(items, config.scenarios, prepared)
    weekly = {name: np.zeros((sims, n_cur, weeks)) for name, _, _ in effects}
    comps = {name: np.zeros((len(COMPONENTS), n_cur, weeks)) for name, _, _ in effects}
    if len(items) == 0:
        return Simulation(currencies, weekly, comps)

    rng = np.random.default_rng([config.seed, int(origin_day)])
    global_factor = ndtri((rng.permutation(sims) + rng.random(sims)) / sims).astype(np.float32)
    special = (items.p_fixed > 0) | (items.p_exists < 1)
    order = np.concatenate([np.flatnonzero(~special), np.flatnonzero(special)])
    n_plain = int((~special).sum())
    shifts = sorted({shift for _, _, shift in effects})
    tables = _week_tables(items, order[:n_plain], shifts, weeks)
    row_offset = (np.arange(n_plain, dtype=np.int64) * U_BUCKETS)[:, None]
    cust_codes, cust_local = np.unique(items.customer[order], return_inverse=True)
    a, b = np.float32(np.sqrt(config.rho_global)), np.float32(np.sqrt(config.rho_customer))
    c = np.float32(np.sqrt(1.0 - config.rho_global - config.rho_customer))
    slots, n_comp = weeks + 1, len(COMPONENTS)
    base_slot = (items.component[order].astype(np.int64) * n_cur + cur[order])[:, None]
    cur_slot = cur[order][:, None]
    amounts = {name: amount[order] for name, amount, _ in effects}
    chunk = max(1, min(sims, CELLS_PER_CHUNK // len(items)))
    for start in range(0, sims, chunk):
        n = min(chunk, sims - start)
        u = ndtr(
            a * global_factor[start : start + n][None, :]
            + b * rng.standard_normal((len(cust_codes), n), dtype=np.float32)[cust_local]
            + c * rng.standard_normal((len(items), n), dtype=np.float32)
        )
        bucket = np.minimum((u[:n_plain] * U_BUCKETS).astype(np.int64), U_BUCKETS - 1) + row_offset
        special_weeks = _special_weeks(items, order[n_plain:], u[n_plain:], rng, shifts, weeks)
        week = {shift: np.concatenate([tables[shift][bucket], special_weeks[shift]]) for shift in shifts}
        local_sim = np.arange(n)[None, :]
        for name, _, shift in effects:
            weights = np.broadcast_to(amounts[name][:, None], (len(items), n)).ravel()
            if name == BASE:
                cell = ((local_sim * (n_comp * n_cur) + base_slot) * slots + week[shift]).ravel()
                counts = np.bincount(cell, weights=weights, minlength=n * n_comp * n_cur * slots)
                counts = counts.reshape(n, n_comp, n_cur, slots)[..., :weeks]
                weekly[name][start : start + n] = counts.sum(axis=1)
                comps[name] += counts.sum(axis=0)
            else:
                cell = ((local_sim * n_cur + cur_slot) * slots + week[shift]).ravel()
                counts = np.bincount(cell, weights=weights, minlength=n * n_cur * slots)
                weekly[name][start : start + n] = counts.reshape(n, n_cur, slots)[..., :weeks]
    return Simulation(currencies, weekly, {k: v / sims for k, v in comps.items()})


def origin_rates(prepared: PreparedInputs, origin_day: int, currencies: tuple[str, ...]) -> np.ndarray:
    """Each currency's rate to the reporting currency on the origin day (latest on or before it;
    NaN when none). Forecast and actuals of an origin are both converted at this rate."""
    fx = prepared.fx[prepared.fx["rate_day"] <= origin_day]
    latest = (
        fx.sort_values("rate_day", kind="stable").drop_duplicates("currency", keep="last").set_index("currency")["rate"]
    )
    rates = pd.Series(currencies, dtype=object).map(latest).to_numpy(np.float64)
    return np.where(np.array(currencies, dtype=object) == prepared.reporting_currency, 1.0, rates)


def week_bounds(origin_day: int, weeks: int) -> tuple[np.ndarray, np.ndarray]:
    """First and last day (datetime64) of each horizon week: week k is days 7k-6 .. 7k after the origin."""
    start = np.datetime64(int(origin_day), "D") + 1 + 7 * np.arange(weeks)
    return start, start + 6


def weekly_frame(
    sim: Simulation, rates: np.ndarray, origin_day: int, reporting_currency: str, model: str
) -> pd.DataFrame:
    """Long table: per scenario, series ('currency' rows and the 'total' in the reporting
    currency) and week, the p10 / p50 / p90 and mean receipts and the mean per component.

    The total sums the currencies that have a rate on the origin day (the others are left out
    of it and their reporting columns are null).
    """
    starts, ends = week_bounds(origin_day, sim.weekly[BASE].shape[2])
    frames = []
    usable = np.nan_to_num(rates, nan=0.0)
    for name, draws in sim.weekly.items():
        comps = sim.components[name]
        blocks = []
        for i, currency in enumerate(sim.currencies):
            blocks.append(_series_block(draws[:, i, :], comps[:, i, :], "currency", currency, rates[i]))
        total = np.tensordot(draws, usable, axes=([1], [0]))
        total_comps = np.tensordot(comps, usable, axes=([1], [0]))
        blocks.append(_series_block(total, total_comps, "total", reporting_currency, 1.0))
        frame = pd.concat(blocks, ignore_index=True)
        frame.insert(0, "scenario", name)
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    out.insert(0, "as_of_date", np.datetime64(int(origin_day), "D"))
    idx = out["week_index"].to_numpy() - 1
    out.insert(out.columns.get_loc("week_index") + 1, "week_start", starts[idx])
    out.insert(out.columns.get_loc("week_start") + 1, "week_end", ends[idx])
    out["reporting_currency"] = reporting_currency
    out["model"] = model
    return out


def _series_block(draws: np.ndarray, comps: np.ndarray, series: str, currency: str, rate: float) -> pd.DataFrame:
    """Rows of one series: quantiles over simulations per week, means per component, reporting amounts."""
    p10, p50, p90 = np.quantile(draws, [0.1, 0.5, 0.9], axis=0)
    frame = pd.DataFrame(
        {
            "series": series,
            "currency": currency,
            "week_index": np.arange(1, draws.shape[1] + 1),
            "p10": p10,
            "p50": p50,
            "p90": p90,
            "expected": draws.mean(axis=0),
            **{f"expected_{name}": comps[k] for k, name in enumerate(COMPONENTS)},
            "fx_rate": rate,
        }
    )
    for col in ("p10", "p50", "p90", "expected"):
        frame[f"{col}_reporting"] = frame[col] * rate
    return frame


@dataclass(frozen=True)
class ForecastRun:
    """One origin's forecast: the long weekly table plus what it was built from."""

    weekly: pd.DataFrame
    state: OriginState
    items: CashItems
    simulation: Simulation
    rates: np.ndarray


def forecast_at(
    prepared: PreparedInputs,
    origin_day: int,
    config: ForecastConfig = ForecastConfig(),
    timing_override: pd.DataFrame | None = None,
) -> ForecastRun:
    """The forecast as it would have been made on ``origin_day`` (the as-of date for the live one).

    ``timing_override`` (item_id = invoice_id, optional p_collect, any of q0000..q1000 as days from
    the origin) replaces this module's timing for the invoices it lists, e.g. with the risk
    model's days-to-pay quantiles.
    """
    state = state_at(prepared, origin_day, config.horizon_days, config.state)
    needed = np.concatenate([state.open["customer"].to_numpy(), state.plans["customer"].to_numpy()]).astype(np.int64)
    tables = fit_timing(prepared.history, origin_day, needed, config.timing)
    items = build_items(prepared, state, tables, timing_override)
    sim = simulate(items, config, origin_day, prepared)
    rates = origin_rates(prepared, origin_day, sim.currencies)
    weekly = weekly_frame(sim, rates, origin_day, prepared.reporting_currency, "forecast")
    return ForecastRun(weekly, state, items, sim, rates)


AMOUNT_COLUMNS = (
    "p10",
    "p50",
    "p90",
    "expected",
    "p10_reporting",
    "p50_reporting",
    "p90_reporting",
    "expected_reporting",
)


def wide_weekly(long: pd.DataFrame) -> pd.DataFrame:
    """The published shape: base-case rows with each scenario's amounts as ``<name>__<column>``."""
    keys = ["series", "currency", "week_index"]
    base = long[long["scenario"] == BASE].drop(columns="scenario").reset_index(drop=True)
    for name in [s for s in pd.unique(long["scenario"]) if s != BASE]:
        sc = long[long["scenario"] == name][keys + list(AMOUNT_COLUMNS)]
        sc = sc.rename(columns={c: f"{name}__{c}" for c in AMOUNT_COLUMNS})
        base = base.merge(sc, on=keys, how="left")
    return base
