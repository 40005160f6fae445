"""The cash forecast against figures computed by hand.

Every customer in these companies pays at a fixed lag after the due date (or at one of two
lags), so each invoice's timing distribution is degenerate (or two-point) and the forecast can
be worked out on paper: the week an invoice lands in is (due + lag - origin - 1) // 7 + 1.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from models.forecast import (
    BASE,
    ForecastConfig,
    forecast_at,
    parse_scenarios,
    wide_weekly,
)
from models.forecast_baselines import baseline_weekly
from models.forecast_state import StateConfig, prepare, state_at, unapplied_cash
from models.timing import TimingConfig, conditional_quantiles, fit_timing
from orchestration.defs.forecast.warehouse_io import day_number
from tests.forecast_fixtures import inputs, paid_history

ORIGIN = dt.date(2026, 6, 30)
D0 = day_number(ORIGIN)


def d(days: int) -> dt.date:
    return ORIGIN + dt.timedelta(days=days)


def company(open_invoices: list[dict], *, lags=(5,), extra_events=(), **kw):
    """Customers A and C (USD) and B (EUR) with paid invoices at the given lags (cycling; 16 due
    every 10 days from 190 to 40 days before the origin, all paid by then), plus open ones."""
    inv, ev = [], []
    for cust, cur in (("A", "USD"), ("B", "EUR"), ("C", "USD")):
        i, e = paid_history(cust, cur, ORIGIN, lags, first_due_days_back=190, last_due_days_back=40)
        inv += i
        ev += e
    return inputs(inv + open_invoices, ev + list(extra_events), rates={"USD": 1.0, "EUR": 1.1}, **kw)


def weekly_total(run_weekly: pd.DataFrame, column: str = "p50", scenario: str = BASE) -> np.ndarray:
    t = run_weekly[(run_weekly["scenario"] == scenario) & (run_weekly["series"] == "total")].sort_values("week_index")
    return t[column].to_numpy()


THREE = [
    {
        "invoice_id": "INV-1",
        "customer_id": "A",
        "currency": "USD",
        "invoice_date": d(-27),
        "due_date": d(3),
        "amount": 1000.0,
    },
    {
        "invoice_id": "INV-2",
        "customer_id": "B",
        "currency": "EUR",
        "invoice_date": d(-32),
        "due_date": d(-2),
        "amount": 500.0,
    },
    {
        "invoice_id": "INV-3",
        "customer_id": "A",
        "currency": "USD",
        "invoice_date": d(-10),
        "due_date": d(20),
        "amount": 2000.0,
    },
]
CONFIG = ForecastConfig(
    n_sims=200, state=StateConfig(promise_prior_strength=0.0, plan_prior_strength=0.0, plan_prior_rate=1.0)
)


def test_three_invoice_company_on_paper() -> None:
    """Everyone pays 5 days after due: INV-2 (EUR 500, due D0-2) lands on D0+3 (week 1), INV-1 on
    D0+8 (week 2), INV-3 on D0+25 (week 4); EUR at 1.1 makes the week-1 total 550."""
    run = forecast_at(prepare(company(THREE)), D0, CONFIG)
    expected = np.zeros(13)
    expected[[0, 1, 3]] = [550.0, 1000.0, 2000.0]
    for column in ("p10", "p50", "p90", "expected"):
        assert weekly_total(run.weekly, column) == pytest.approx(expected, abs=1e-6), column
    eur = run.weekly[
        (run.weekly["series"] == "currency") & (run.weekly["currency"] == "EUR") & (run.weekly["scenario"] == BASE)
    ].sort_values("week_index")
    assert eur["p50"].iloc[0] == pytest.approx(500.0)
    assert eur["p50_reporting"].iloc[0] == pytest.approx(550.0)
    assert eur["p50"].iloc[1:].sum() == 0.0
    week = run.weekly[run.weekly["week_index"] == 1].iloc[0]
    assert (week["week_start"], week["week_end"]) == (np.datetime64(d(1)), np.datetime64(d(7)))


def test_second_run_is_identical_and_the_seed_matters() -> None:
    """Deterministic: the same inputs and config give the same numbers; another seed other draws."""
    lags = (2, 9, 16, 30)
    prepared = prepare(company(THREE, lags=lags))
    first = forecast_at(prepared, D0, CONFIG).weekly
    second = forecast_at(prepare(company(THREE, lags=lags)), D0, CONFIG).weekly
    pd.testing.assert_frame_equal(first, second)
    other = forecast_at(prepared, D0, ForecastConfig(n_sims=200, seed=7, state=CONFIG.state)).weekly
    assert not np.allclose(weekly_total(first, "expected"), weekly_total(other, "expected"))


def test_baselines_on_paper() -> None:
    """Due date: INV-1 on D0+3 and the overdue INV-2 on day 1 (week 1), INV-3 on D0+20 (week 3).
    Customer mean: A and B took 35 days from invoice to cash, so INV-1 (issued D0-27) lands on D0+8,
    INV-2 (D0-32) on D0+3, INV-3 (D0-10) on D0+25."""
    prepared = prepare(company(THREE))
    state = state_at(prepared, D0, 91)
    due = baseline_weekly(prepared, state, 13, "due_date")
    mean = baseline_weekly(prepared, state, 13, "customer_mean")
    expected_due, expected_mean = np.zeros(13), np.zeros(13)
    expected_due[[0, 2]] = [1550.0, 2000.0]
    expected_mean[[0, 1, 3]] = [550.0, 1000.0, 2000.0]
    assert weekly_total(due) == pytest.approx(expected_due)
    assert weekly_total(mean) == pytest.approx(expected_mean)


def test_a_kept_promise_moves_cash_to_its_date() -> None:
    """Customer A always keeps promises (2 of 2, no prior): INV-1, due D0+3 and otherwise paid D0+8
    (week 2), is promised for D0+4: all 1000 move to week 1."""
    judged = [
        {
            "promise_id": f"P-old-{k}",
            "customer_id": "A",
            "document_id": f"H-A-00{k}",
            "created_date": d(-150),
            "promised_date": d(-140),
            "evaluation_date": d(-137),
            "promised_amount": 100.0,
            "outcome": "kept",
            "is_judged": True,
            "is_kept": True,
        }
        for k in range(2)
    ]
    pending = {
        "promise_id": "P-1",
        "customer_id": "A",
        "document_id": "INV-1",
        "created_date": d(-1),
        "promised_date": d(4),
        "evaluation_date": d(7),
        "promised_amount": 1000.0,
        "outcome": "pending",
        "is_judged": False,
        "is_kept": False,
    }
    without = forecast_at(prepare(company(THREE[:1], promises=judged)), D0, CONFIG)
    with_promise = forecast_at(prepare(company(THREE[:1], promises=[*judged, pending])), D0, CONFIG)
    assert weekly_total(without.weekly)[:2] == pytest.approx([0.0, 1000.0])
    assert weekly_total(with_promise.weekly)[:2] == pytest.approx([1000.0, 0.0])
    comps = with_promise.weekly[(with_promise.weekly["series"] == "total") & (with_promise.weekly["scenario"] == BASE)]
    assert comps["expected_promises"].sum() == pytest.approx(1000.0)
    assert comps["expected_open_invoices"].sum() == pytest.approx(0.0)


def test_a_broken_promise_rolls_the_cash_forward() -> None:
    """A pays half its invoices 5 and half 30 days after due (no recency weighting, so exactly
    half); it kept 1 of 2 promises (rate 0.5).
    INV-1 (due D0+3) is promised for D0+5, grace to D0+8. Kept: week 1. Broken: the cash is not lost
    but comes after the promise window, at the 30-day lag: D0+33, week 5. Without the promise
    it would be half in week 2 (D0+8) and half in week 5."""
    judged = [
        {
            "promise_id": f"P-old-{k}",
            "customer_id": "A",
            "document_id": f"H-A-00{k}",
            "created_date": d(-150),
            "promised_date": d(-140),
            "evaluation_date": d(-137),
            "promised_amount": 100.0,
            "outcome": outcome,
            "is_judged": True,
            "is_kept": outcome == "kept",
        }
        for k, outcome in enumerate(("kept", "broken"))
    ]
    pending = {
        "promise_id": "P-1",
        "customer_id": "A",
        "document_id": "INV-1",
        "created_date": d(-1),
        "promised_date": d(5),
        "evaluation_date": d(8),
        "promised_amount": 1000.0,
        "outcome": "pending",
        "is_judged": False,
        "is_kept": False,
    }
    config = ForecastConfig(n_sims=4000, state=CONFIG.state, timing=TimingConfig(half_life_days=1e9))
    plain = weekly_total(
        forecast_at(prepare(company(THREE[:1], lags=(5, 30), promises=judged)), D0, config).weekly, "expected"
    )
    promised = weekly_total(
        forecast_at(prepare(company(THREE[:1], lags=(5, 30), promises=[*judged, pending])), D0, config).weekly,
        "expected",
    )
    # Tolerance: Monte Carlo (+-8 at one sd) plus the quantile grid, which spreads one 2.5 % step
    # of a two-point distribution linearly between its two points (weeks 2 to 5).
    assert plain[[0, 1, 4]] == pytest.approx([0.0, 500.0, 500.0], abs=40.0)
    assert promised[[0, 1, 4]] == pytest.approx([500.0, 0.0, 500.0], abs=40.0)
    assert promised.sum() == pytest.approx(1000.0)


def test_a_promise_judged_broken_before_the_origin_leaves_the_invoice_to_its_timing() -> None:
    """A promise whose evaluation day passed before the origin is not pending: no fixed-day cash."""
    old = {
        "promise_id": "P-1",
        "customer_id": "A",
        "document_id": "INV-1",
        "created_date": d(-20),
        "promised_date": d(-5),
        "evaluation_date": d(-2),
        "promised_amount": 1000.0,
        "outcome": "broken",
        "is_judged": True,
        "is_kept": False,
    }
    run = forecast_at(prepare(company(THREE[:1], promises=[old])), D0, CONFIG)
    assert weekly_total(run.weekly)[:2] == pytest.approx([0.0, 1000.0])
    assert run.items.p_fixed.sum() == 0.0


PLAN = {
    "plan_id": "PLN-1",
    "customer_id": "A",
    "currency": "USD",
    "expected_invoice_date": d(7),
    "amount": 700.0,
    "kind": "subscription",
    "invoice_id": "INV-9",
    "invoice_date": d(8),
}
INV_9 = {
    "invoice_id": "INV-9",
    "customer_id": "A",
    "currency": "USD",
    "invoice_date": d(8),
    "due_date": d(38),
    "amount": 700.0,
}


def test_a_planned_invoice_is_forecast_until_issued_then_only_as_the_invoice() -> None:
    """Before INV-9 is issued (origin D0) the plan line is forecast: issued D0+7, terms 30 (A's latest
    invoice), paid 5 days after due: D0+42, week 6. At origin D0+10 INV-9 exists (issued D0+8): the
    plan line is de-duplicated and the 700 are forecast once, as the open invoice (due D0+38,
    paid D0+43, week 5 of that origin)."""
    before = forecast_at(prepare(company(THREE[:1], plans=[PLAN])), D0, CONFIG)
    total = weekly_total(before.weekly)
    assert total[5] == pytest.approx(700.0)
    assert total.sum() == pytest.approx(1700.0)
    after_inputs = company([THREE[0], INV_9], plans=[PLAN])
    after = forecast_at(prepare(after_inputs), D0 + 10, CONFIG)
    comps = after.weekly[(after.weekly["series"] == "total") & (after.weekly["scenario"] == BASE)]
    assert comps["expected_planned_billing"].sum() == 0.0
    assert weekly_total(after.weekly)[4] == pytest.approx(700.0)
    # INV-1, 7 days past due at D0+10 where A always paid at 5, is not expected to be paid at all.
    assert weekly_total(after.weekly).sum() == pytest.approx(700.0)


def test_plan_realisation_rate_scales_the_planned_amount() -> None:
    """Past lines of the kind became invoices 3 times out of 4 (no prior): 700 x 0.75 expected."""
    past = [
        {
            "plan_id": f"PLN-old-{k}",
            "customer_id": "A",
            "currency": "USD",
            "expected_invoice_date": d(-100 - k),
            "amount": 100.0,
            "kind": "subscription",
            "invoice_id": f"H-A-00{k}" if k < 3 else None,
            "invoice_date": d(-100 - k) if k < 3 else None,
        }
        for k in range(4)
    ]
    run = forecast_at(
        prepare(company(THREE[:1], plans=[PLAN, *past])), D0, ForecastConfig(n_sims=4000, state=CONFIG.state)
    )
    comps = run.weekly[(run.weekly["series"] == "total") & (run.weekly["scenario"] == BASE)]
    assert comps["expected_planned_billing"].sum() == pytest.approx(525.0, rel=0.03)
    assert run.state.plans["realisation"].iloc[0] == pytest.approx(0.75)


def ledger(payment_id: str, customer: str, paid: dt.date, amount: float, applied: dt.date | None = None) -> list[dict]:
    rows = [
        {
            "payment_id": payment_id,
            "customer_id": customer,
            "currency": "USD",
            "movement": "received",
            "movement_date": paid,
            "payment_date": paid,
            "amount": amount,
        }
    ]
    if applied is not None:
        rows.append({**rows[0], "movement": "applied", "movement_date": applied})
    return rows


@pytest.mark.parametrize(
    ("received_days_before", "unapplied", "forecast_week_2"),
    [
        (2, 1000.0, 0.0),  # all of INV-1 was paid already: nothing left to forecast
        (2, 400.0, 600.0),  # a partial payment not yet applied: the rest is forecast
        (13, 1000.0, 0.0),  # last day inside the 14-day window
        (14, 1000.0, 1000.0),  # first day outside: old unapplied cash is the customer's credit, not this invoice
    ],
)
def test_unapplied_cash_is_excluded_and_offsets_the_open_invoice(
    received_days_before: int, unapplied: float, forecast_week_2: float
) -> None:
    cash = ledger("PAY-X", "A", d(-received_days_before), unapplied)
    run = forecast_at(prepare(company(THREE[:1], ledger=cash)), D0, CONFIG)
    assert weekly_total(run.weekly)[1] == pytest.approx(forecast_week_2)
    assert weekly_total(run.weekly).sum() == pytest.approx(forecast_week_2)


def test_applied_cash_is_not_unapplied_and_application_after_the_origin_is() -> None:
    """Cash applied by the origin is no credit; cash applied only after it was unapplied then."""
    prepared = prepare(
        company(
            THREE[:1],
            ledger=[*ledger("P1", "A", d(-3), 300.0, applied=d(-1)), *ledger("P2", "A", d(-3), 200.0, applied=d(2))],
        )
    )
    un = unapplied_cash(prepared, D0, 14)
    assert un["amount"].tolist() == pytest.approx([200.0])


def test_offset_takes_the_oldest_due_invoice_first() -> None:
    """1500 unapplied against INV-1 (due D0+3, 1000) and INV-3 (due D0+20, 2000): INV-1 fully, 500 of INV-3."""
    run = forecast_at(prepare(company([THREE[0], THREE[2]], ledger=ledger("P", "A", d(-1), 1500.0))), D0, CONFIG)
    assert run.state.open["open_amount"].tolist() == pytest.approx([1500.0])
    assert weekly_total(run.weekly)[3] == pytest.approx(1500.0)


def test_disputed_invoice_uses_the_disputed_pool() -> None:
    """Disputed history invoices were all credited, never paid: an invoice disputed at the origin
    is expected to bring no cash; the same invoice without its dispute brings 1000 in week 2."""
    inv, ev = paid_history("D", "USD", ORIGIN, (5,), prefix="DH")
    disputed_hist = [
        {
            "invoice_id": f"X{k}",
            "customer_id": "Z",
            "currency": "USD",
            "invoice_date": d(-200 + 10 * k),
            "due_date": d(-170 + 10 * k),
            "amount": 100.0,
            "dispute_opened_date": d(-180 + 10 * k),
            "dispute_resolved_date": d(-160 + 10 * k),
        }
        for k in range(10)
    ]
    credits = [
        {
            "invoice_id": f"X{k}",
            "event_type": "credit_memo",
            "known_date": d(-160 + 10 * k),
            "effective_date": d(-160 + 10 * k),
            "amount": 100.0,
        }
        for k in range(10)
    ]
    open_disputed = {**THREE[0], "customer_id": "D", "dispute_opened_date": d(-3)}
    config = ForecastConfig(n_sims=200, timing=TimingConfig(prior_strength=0.0), state=CONFIG.state)
    with_dispute = forecast_at(prepare(inputs(inv + disputed_hist + [open_disputed], ev + credits)), D0, config)
    assert weekly_total(with_dispute.weekly, "expected").sum() == pytest.approx(0.0)
    resolved = {**open_disputed, "dispute_resolved_date": d(-1)}
    without = forecast_at(prepare(inputs(inv + disputed_hist + [resolved], ev + credits)), D0, config)
    assert weekly_total(without.weekly)[1] == pytest.approx(1000.0)


def test_scenarios_are_named_column_sets_next_to_the_base_case() -> None:
    """Delay 7: every payment a week later. Haircut 20 % on B's segment. Default of A: A pays nothing."""
    inv = company(
        THREE,
        customers=[
            {"customer_id": "A", "segment": "smb"},
            {"customer_id": "B", "segment": "enterprise"},
            {"customer_id": "C", "segment": "smb"},
        ],
    )
    scenarios = parse_scenarios(
        {
            "late_7": {"kind": "delay", "days": 7},
            "ent_cut": {"kind": "haircut", "segment": "enterprise", "percent": 20},
            "a_out": {"kind": "default", "customer_id": "A"},
        }
    )
    run = forecast_at(prepare(inv), D0, ForecastConfig(n_sims=200, scenarios=scenarios, state=CONFIG.state))
    wide = wide_weekly(run.weekly)
    total = wide[wide["series"] == "total"].sort_values("week_index")
    assert total["p50"].to_numpy()[[0, 1, 3]] == pytest.approx([550.0, 1000.0, 2000.0])
    assert total["late_7__p50"].to_numpy()[[1, 2, 4]] == pytest.approx([550.0, 1000.0, 2000.0])
    assert total["ent_cut__p50"].to_numpy()[[0, 1, 3]] == pytest.approx([440.0, 1000.0, 2000.0])
    assert total["a_out__p50"].to_numpy()[[0, 1, 3]] == pytest.approx([550.0, 0.0, 0.0])
    assert {"late_7__p10", "late_7__p90", "late_7__expected", "late_7__p50_reporting"} <= set(wide.columns)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"Bad Name": {"kind": "delay", "days": 3}}, "scenario name"),
        ({"base": {"kind": "delay", "days": 3}}, "scenario name"),
        ({"x": {"kind": "explode"}}, "forecast.scenarios.x.kind"),
        ({"x": {"kind": "delay"}}, "missing ['days']"),
        ({"x": {"kind": "delay", "days": 3, "segment": "smb"}}, "unknown ['segment']"),
        ({"x": {"kind": "delay", "days": 1.5}}, "forecast.scenarios.x.days"),
        ({"x": {"kind": "haircut", "segment": "smb", "percent": 101}}, "forecast.scenarios.x.percent"),
        ({"x": {"kind": "haircut", "segment": "smb", "percent": -1}}, "forecast.scenarios.x.percent"),
        ({"x": {"kind": "default", "customer_id": True}}, "forecast.scenarios.x.customer_id"),
    ],
)
def test_invalid_scenarios_are_refused_with_their_key(config: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_scenarios(config)


def test_edge_scenario_values_are_accepted() -> None:
    s = parse_scenarios(
        {
            "none": {"kind": "haircut", "segment": "smb", "percent": 0},
            "all": {"kind": "haircut", "segment": "smb", "percent": 100},
            "early": {"kind": "delay", "days": -365},
        }
    )
    assert [x.percent for x in s[:2]] == [0.0, 100.0] and s[2].days == -365


def test_empty_book_forecasts_zero_not_an_error() -> None:
    run = forecast_at(prepare(company([])), D0, CONFIG)
    assert weekly_total(run.weekly).sum() == 0.0
    assert len(run.weekly[run.weekly["series"] == "total"]) == 13


def test_open_invoices_are_censored_in_the_history_not_dropped() -> None:
    """Customer E: 10 invoices paid 5 days after due, 10 due 5 days before the origin and still
    open (censored in the same daily lag bin). Life table: hazard there = 10 / (20 - 10/2) = 2/3,
    so a new invoice is paid by lag 6 with probability 2/3 and otherwise unknown (no prior).
    Dropping the open ones would say 1; counting them fully at risk would say 1/2."""
    paid = [
        {
            "invoice_id": f"E-P{k}",
            "customer_id": "E",
            "currency": "USD",
            "invoice_date": d(-100 - k),
            "due_date": d(-70 - k),
            "amount": 100.0,
        }
        for k in range(10)
    ]
    cash = [
        {"invoice_id": f"E-P{k}", "known_date": d(-65 - k), "effective_date": d(-65 - k), "amount": 100.0}
        for k in range(10)
    ]
    still_open = [
        {
            "invoice_id": f"E-D0{k}",
            "customer_id": "E",
            "currency": "USD",
            "invoice_date": d(-35),
            "due_date": d(-5),
            "amount": 100.0,
        }
        for k in range(10)
    ]
    prepared = prepare(inputs(paid + still_open, cash))
    code = np.array([prepared.history.customers.get_loc("E")])
    tables = fit_timing(prepared.history, D0, code, TimingConfig(prior_strength=0.0, half_life_days=1e9))
    rows = tables.rows_for(code, prepared.history.customer_segment[code])
    p_collect, lags = conditional_quantiles(tables, rows, np.array([-10.0]))
    assert p_collect[0] == pytest.approx(2 / 3)
    assert lags[0, 0] >= 5.0 and lags[0, -1] <= 6.0
