"""The risk models (models/): labels, pay-time distribution, classifiers, baselines, backtest,
gate, explanations, scoring and model card, on hand-made rows and a small synthetic ledger
with a planted signal (tests/risk_synthetic.py)."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from models.backtest import BacktestPlan, plan_origins, run_backtest
from models.baselines import (
    CUSTOMER_MEAN,
    DUE_DATE,
    LATE_RATE,
    ShiftedResiduals,
    fit_baselines,
    point_remaining_days,
)
from models.card import card_markdown, model_card
from models.evaluate import evaluate_split
from models.explain import explain, sentence
from models.gate import beats_baseline
from models.labels import RiskTargets, late_labels, paid_within, remaining_days
from models.metrics import (
    bootstrap_interval,
    probability_metrics,
    reliability_table,
    timing_metrics,
    wape,
)
from models.pay_time import KnotCdf
from models.risk import (
    ConstantProbability,
    LedgerTooYoung,
    RiskParams,
    fit_calibrated,
    fit_risk_model,
    insufficient_history,
)
from models.scoring import (
    band,
    customer_scores,
    data_fingerprint,
    model_version,
    pay_dates,
)
from tests.risk_synthetic import synthetic_rows

AS_OF = dt.date(2026, 6, 30)
FAST = RiskParams(max_iter=40)


@pytest.fixture(autouse=True)
def one_thread():
    """One OpenMP thread: on a shared two-core machine two threads were several times slower."""
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def rows():
    return synthetic_rows()


@pytest.fixture(scope="module")
def model(rows):
    with threadpool_limits(1):
        return fit_risk_model(rows, AS_OF, FAST)


@pytest.fixture(scope="module")
def backtest(rows):
    with threadpool_limits(1):
        return run_backtest(rows, AS_OF, FAST, plan_origins(AS_OF, count=2))


def frame(**columns) -> pd.DataFrame:
    out = pd.DataFrame(columns)
    for name in ("scoring_date", "due_date", "settled_date", "written_off_date"):
        if name in out:
            out[name] = pd.to_datetime(out[name])
    return out


# --- labels --------------------------------------------------------------------------------------


def test_late_and_severe_on_each_side_of_their_deadlines():
    due = "2026-01-31"
    rows = frame(
        scoring_date=["2026-01-01"] * 6,
        due_date=[due] * 6,
        settled_date=["2026-01-31", "2026-02-01", "2026-04-01", "2026-04-02", None, None],
        written_off_date=[None, None, None, None, "2026-01-15", None],
    )
    decided = late_labels(rows, RiskTargets(grace_days=0, severe_days=60), dt.date(2026, 6, 1))
    assert decided["late"].tolist() == [0.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    assert decided["severe"].tolist() == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    graced = late_labels(rows, RiskTargets(grace_days=1, severe_days=60), dt.date(2026, 6, 1))
    assert graced["late"].tolist()[:2] == [0.0, 0.0]
    # late is decided on due + grace + 1 for every row, paid or not, never earlier
    assert late_labels(rows, RiskTargets(), dt.date(2026, 1, 31))["late"].isna().all()
    on_deadline = late_labels(rows, RiskTargets(), dt.date(2026, 2, 1))
    assert on_deadline["late"].notna().all() and on_deadline["severe"].isna().all()
    assert late_labels(rows, RiskTargets(), dt.date(2026, 4, 1))["severe"].isna().all()  # due + 60
    assert late_labels(rows, RiskTargets(), dt.date(2026, 4, 2))["severe"].notna().all()  # due + 61


def test_labels_fixed_on_the_scoring_day_of_an_aged_row():
    rows = frame(
        scoring_date=["2026-01-31", "2026-02-01", "2026-04-01", "2026-04-02"],
        due_date=["2026-01-31"] * 4,
        settled_date=[None] * 4,
        written_off_date=[None] * 4,
    )
    labels = late_labels(rows, RiskTargets(), dt.date(2026, 6, 1))
    assert labels["late_fixed"].tolist() == [False, True, True, True]
    assert labels["severe_fixed"].tolist() == [False, False, False, True]


def test_paid_within_a_horizon_and_remaining_days():
    rows = frame(
        scoring_date=["2026-01-01", "2026-01-10", "2026-01-10"],
        settled_date=["2026-01-08", "2026-01-05", None],
        written_off_date=[None, None, None],
        due_date=["2026-01-31"] * 3,
    )
    assert remaining_days(rows).tolist() == [7.0, 0.0, math.inf]  # a short-paid residue: 0, never: inf
    assert np.isnan(paid_within(rows, 7, dt.date(2026, 1, 7))[0])
    assert paid_within(rows, 7, dt.date(2026, 1, 8))[0] == 1.0
    assert paid_within(rows, 6, dt.date(2026, 1, 8))[0] == 0.0
    assert paid_within(rows, 7, dt.date(2026, 2, 1))[2] == 0.0


def test_targets_refuse_a_severe_threshold_below_grace():
    with pytest.raises(ValueError):
        RiskTargets(grace_days=10, severe_days=10)


# --- the pay-time distribution -------------------------------------------------------------------


def test_knot_cdf_is_linear_between_knots_and_infinite_beyond_the_last():
    cdf = KnotCdf(np.array([10.0, 20.0]), np.array([[0.5, 1.0], [0.2, 0.4]]))
    assert cdf.at([5, 10, 15, 30]).tolist() == [[0.25, 0.5, 0.75, 1.0], [0.1, 0.2, 0.30000000000000004, 0.4]]
    q = cdf.quantiles([0.25, 0.5, 0.75])
    assert q[0].tolist() == [5.0, 10.0, 15.0]
    assert q[1, 0] == pytest.approx(12.5) and math.isinf(q[1, 1]) and math.isinf(q[1, 2])
    with pytest.raises(ValueError):
        cdf.quantiles([1.0])


def test_aged_open_invoices_are_never_predicted_to_pay_before_their_scoring_day(model, rows):
    aged = rows[(rows["row_kind"] == "snapshot") & (rows["days_past_due"] > 20)]
    assert len(aged) > 20
    levels = np.arange(0.05, 1.0, 0.05)
    q = model.quantiles(aged, levels)
    assert (q >= 0).all()
    assert (q[:, 1:] >= q[:, :-1]).all()  # quantiles never decrease with the level (inf included)
    dates = pay_dates(aged["scoring_date"], q[:, 5])
    assert all(d is pd.NaT or pd.isna(d) or d >= s.date() for d, s in zip(dates, aged["scoring_date"], strict=True))
    cdf = model.cdf(aged, [7, 30, 91])
    assert (np.diff(cdf, axis=1) >= 0).all() and ((cdf >= 0) & (cdf <= 1)).all()


# --- classifiers, priors, baselines --------------------------------------------------------------


def test_training_is_deterministic(rows, model):
    again = fit_risk_model(rows, AS_OF, FAST)
    sample = rows.iloc[::7]
    pd.testing.assert_frame_equal(model.score(sample), again.score(sample))
    np.testing.assert_array_equal(model.knot_cdf(sample).values, again.knot_cdf(sample).values)


def test_rows_past_a_deadline_score_one_and_others_do_not(model, rows):
    scored = model.score(rows)
    late_yet = rows["days_past_due"] > 0
    assert (scored.loc[late_yet, "p_late"] == 1.0).all()
    assert (scored.loc[~late_yet, "p_late"] < 1.0).any() and (scored["p_late"] >= 0).all()
    assert (scored.loc[rows["days_past_due"] > 60, "p_severe"] == 1.0).all()


@pytest.mark.parametrize(
    ("paid", "tenure", "thin"), [(4, 300, True), (5, 300, False), (5, 83, True), (5, 84, False), (None, None, True)]
)
def test_insufficient_history_threshold(paid, tenure, thin):
    rows = pd.DataFrame({"paid_invoice_count": [paid], "customer_tenure_days": [tenure]})
    assert insufficient_history(rows, RiskParams()).tolist() == [thin]


def test_insufficient_history_rows_are_scored_from_their_segment_prior(model, rows):
    thin = rows[(rows["paid_invoice_count"] < 5) & (rows["days_past_due"] <= 0)].head(30)
    assert len(thin) > 5
    scored = model.score(thin)
    assert scored["insufficient_history"].all()
    np.testing.assert_allclose(scored["p_late"], model.priors.rate(thin, "late"))
    assert scored["p_late"].nunique() <= 3 * 2  # one prior per (segment, bucket) cell at most


def test_a_single_outcome_gives_the_observed_rate(rows):
    ones = np.ones(len(rows), dtype=int)
    constant = fit_calibrated(
        rows,
        ones,
        {"segment": [], "region": [], "country": [], "payment_terms": [], "document_type": [], "currency": []},
        FAST,
    )
    assert isinstance(constant, ConstantProbability) and constant.probability(rows.head(3)).tolist() == [1.0] * 3


def test_baselines_by_hand():
    rows = frame(
        scoring_date=["2026-01-01", "2026-02-10", "2026-01-01"],
        due_date=["2026-01-31"] * 3,
        days_beyond_terms_mean=[5.0, 5.0, np.nan],
        segment=["smb"] * 3,
    )
    priors = fit_baselines(synthetic_rows(customers=12), AS_OF, FAST).priors
    assert point_remaining_days(rows, DUE_DATE, priors).tolist() == [30.0, 0.0, 30.0]
    customer_mean = point_remaining_days(rows, CUSTOMER_MEAN, priors)
    assert customer_mean[:2].tolist() == [35.0, 0.0]  # 9 days past due + 5 days: still not before today
    assert customer_mean[2] == pytest.approx(30.0 + priors.mean_days_beyond_terms(rows.iloc[[2]])[0])


def test_late_rate_baseline_is_the_customers_own_share(rows):
    baselines = fit_baselines(rows, AS_OF, FAST)
    fresh = rows[(rows["days_past_due"] <= 0)].head(50)
    scored = baselines.score(fresh)
    known = fresh["late_share"].notna().to_numpy()
    np.testing.assert_allclose(scored["p_late"].to_numpy()[known], fresh["late_share"].to_numpy()[known])
    np.testing.assert_allclose(scored["p_late"].to_numpy()[~known], baselines.priors.rate(fresh[~known], "late"))


# --- backtest and gate ---------------------------------------------------------------------------


def test_backtest_rows_per_origin_and_pooled(backtest):
    ev = backtest.evaluations
    origins = plan_origins(AS_OF, count=2).origins
    assert set(ev["origin_date"].dropna()) == set(origins)
    assert len(ev) == (len(origins) + 1) * 7  # 2 x (model, late-rate) probabilities + 3 timing scorers
    pooled = ev[ev["origin_date"].isna()].set_index(["model", "target"])
    assert (
        pooled.loc[("gbm_logit_stack", "late"), "n"]
        == ev[ev["origin_date"].notna() & (ev["model"] == "gbm_logit_stack") & (ev["target"] == "late")]["n"].sum()
    )
    bins = json.loads(pooled.loc[("gbm_logit_stack", "late"), "calibration_bins"])
    assert sum(b["n"] for b in bins) == pooled.loc[("gbm_logit_stack", "late"), "n"]
    assert 0.5 < pooled.loc[("gbm_logit_stack", "pay_date"), "coverage_p10_p90"] <= 1.0


def test_origins_before_any_decided_label_are_skipped_and_none_left_is_an_error(rows, backtest):
    first_day = rows["scoring_date"].min().date()  # nothing can have been decided before the first row
    usable = plan_origins(AS_OF, count=2).origins[-1]
    result = run_backtest(rows, AS_OF, FAST, BacktestPlan(origins=(first_day, usable)))
    assert result.skipped_origins == (first_day,)
    assert set(result.evaluations["origin_date"].dropna()) == {usable}
    assert backtest.skipped_origins == ()  # a ledger old enough skips nothing
    with pytest.raises(LedgerTooYoung, match=str(first_day)):
        run_backtest(rows, AS_OF, FAST, BacktestPlan(origins=(first_day,)))


def test_the_model_beats_its_baselines_on_a_ledger_with_signal(backtest):
    verdict = beats_baseline(backtest.evaluations, "gbm_logit_stack")
    assert verdict.passed, verdict.reasons
    assert len(verdict.comparisons) == 4 and verdict.comparisons["passed"].all()


def fit_on_shuffled_outcomes(rows: pd.DataFrame, known_on: dt.date, params: RiskParams):
    """A deliberately broken trainer: the outcomes are shuffled across rows before training."""
    broken = rows.copy()
    order = np.random.default_rng(1).permutation(len(rows))
    for name in ("settled_date", "written_off_date"):
        broken[name] = rows[name].to_numpy()[order]
    return fit_risk_model(broken, known_on, params)


def test_a_broken_model_loses_to_the_baseline_and_the_gate_says_so(rows):
    result = run_backtest(rows, AS_OF, FAST, plan_origins(AS_OF, count=2), fit=fit_on_shuffled_outcomes)
    verdict = beats_baseline(result.evaluations, "gbm_logit_stack")
    assert not verdict.passed
    failed = verdict.comparisons[~verdict.comparisons["passed"]]
    assert {"late", "pay_date"} <= set(failed["target"])
    assert any(r.startswith("FAIL late brier") for r in verdict.reasons)


def evaluations(model_brier=0.10, base_brier=0.12, model_auc=0.8, base_auc=0.75, model_mae=5.0, n=500):
    rows = [
        ("m", "late", model_brier, model_auc, None),
        (LATE_RATE, "late", base_brier, base_auc, None),
        ("m", "severe", 0.01, 0.9, None),
        (LATE_RATE, "severe", 0.02, 0.8, None),
        ("m", "pay_date", None, None, model_mae),
        (DUE_DATE, "pay_date", None, None, 9.0),
        (CUSTOMER_MEAN, "pay_date", None, None, 7.0),
    ]
    return pd.DataFrame(
        [
            {"origin_date": None, "model": m, "target": t, "n": n, "brier": b, "auc": a, "mae_days": mae}
            for m, t, b, a, mae in rows
        ]
    )


@pytest.mark.parametrize(
    ("change", "passed"),
    [
        ({}, True),
        ({"model_brier": 0.12}, False),  # equal is not better
        ({"model_brier": 0.1199}, True),
        ({"model_auc": 0.7499}, False),
        ({"model_auc": 0.75}, True),  # AUC only must not be lower
        ({"model_mae": 7.0}, False),  # against the better timing baseline (7.0), not the due date (9.0)
        ({"model_mae": 6.99}, True),
        ({"n": 199}, False),
        ({"n": 200}, True),
        ({"model_brier": float("nan")}, False),
    ],
)
def test_gate_edges(change, passed):
    assert beats_baseline(evaluations(**change), "m").passed is passed


def test_gate_minimum_improvement():
    assert beats_baseline(evaluations(model_brier=0.1139), "m", min_relative_improvement=0.05).passed
    assert not beats_baseline(evaluations(model_brier=0.114), "m", min_relative_improvement=0.05).passed


def test_gate_fails_without_the_models_rows():
    assert not beats_baseline(evaluations(), "another_model").passed


# --- metrics -------------------------------------------------------------------------------------


def test_metrics_by_hand():
    y, p = np.array([0, 0, 1, 1]), np.array([0.05, 0.15, 0.12, 0.95])
    table = reliability_table(y, p)
    assert table == [
        {"bin_low": 0.0, "bin_high": 0.1, "n": 1, "mean_predicted": 0.05, "observed_rate": 0.0},
        {"bin_low": 0.1, "bin_high": 0.2, "n": 2, "mean_predicted": 0.135, "observed_rate": 0.5},
        {"bin_low": 0.9, "bin_high": 1.0, "n": 1, "mean_predicted": 0.95, "observed_rate": 1.0},
    ]
    metrics = probability_metrics(y, p)
    assert metrics["auc"] == 0.75 and metrics["brier"] == pytest.approx((0.05**2 + 0.15**2 + 0.88**2 + 0.05**2) / 4)
    assert math.isnan(probability_metrics(np.array([1, 1]), np.array([0.2, 0.9]))["auc"])
    t = timing_metrics(
        np.array([10.0, 200.0, 5.0]),
        np.array([5.0, 50.0, 6.0]),
        np.array([8.0, 100.0, 10.0]),
        np.array([12.0, math.inf, 20.0]),
        cap=91,
    )
    assert t["mae_days"] == pytest.approx(
        (2 + 0 + 5) / 3
    )  # capped at 91: 200 vs inf is no error and t["coverage_p10_p90"] == pytest.approx(2 / 3)
    assert wape(np.array([10.0, 0.0, 30.0]), np.array([12.0, 5.0, 20.0])) == pytest.approx(17 / 40)


def test_bootstrap_is_seeded_and_brackets_the_estimate():
    data = pd.DataFrame({"x": np.random.default_rng(3).normal(5, 1, 300)})
    first = bootstrap_interval(data, lambda f: f["x"].mean(), samples=300, seed=7)
    assert first == bootstrap_interval(data, lambda f: f["x"].mean(), samples=300, seed=7)
    assert first[0] < data["x"].mean() < first[1]


# --- explanations, scoring, card -----------------------------------------------------------------


def test_sentences_a_collector_reads():
    row = {
        "paid_invoice_count": 20,
        "late_invoice_count": 14,
        "days_late_when_late_mean": 18.2,
        "invoice_size_ratio": 3.04,
        "broken_promise_count": 1,
        "last_broken_promised_date": pd.Timestamp("2026-11-02"),
        "days_past_due": 12,
        "other_overdue_invoice_count": 2,
        "other_overdue_balance_reporting": 12400.0,
    }
    assert sentence("payment_history", row, True, "USD") == "paid 14 of its 20 invoices late, 18 days on average"
    assert sentence("payment_history", row, False, "USD") == "paid 6 of its 20 invoices on time"
    assert sentence("invoice_size", row, True, "USD") == "3.0 times the customer's usual invoice"
    assert sentence("promises", row, True, "USD") == "promise broken on 2026-11-02"
    assert sentence("age", row, True, "USD") == "already 12 days past due"
    assert sentence("overdue_elsewhere", row, True, "USD") == "2 other invoices overdue (USD 12,400)"
    assert sentence("payment_history", {"paid_invoice_count": 0}, True, "USD") == "no paid invoice yet to judge by"


def test_explanations_name_the_planted_causes(model, rows):
    fresh = rows[(rows["row_kind"] == "issue") & (rows["paid_invoice_count"] >= 10)].copy()
    big = fresh[fresh["invoice_size_ratio"] > 2.5].head(5)
    late_payers = fresh[fresh["late_share"] > 0.9].head(5)
    assert len(big) and len(late_payers)
    reasons_big = explain(model, big, "USD")
    assert sum("times the customer's usual invoice" in r for r in reasons_big) >= len(big) - 1, reasons_big.tolist()
    reasons_late = explain(model, late_payers, "USD")
    assert all("invoices late" in r for r in reasons_late), reasons_late.tolist()
    thin = rows[(rows["paid_invoice_count"] < 5) & (rows["days_past_due"] <= 0)].head(3)
    assert all(r.startswith("little payment history") for r in explain(model, thin, "USD"))


@pytest.mark.parametrize(
    ("p_late", "p_severe", "expected"),
    [
        (0.49, 0.0, "low"),
        (0.5, 0.0, "medium"),
        (0.79, 0.19, "medium"),
        (0.8, 0.0, "high"),
        (0.1, 0.2, "high"),
        (0.1, 0.49, "high"),
        (0.1, 0.5, "critical"),
    ],
)
def test_band_edges(p_late, p_severe, expected):
    assert band([p_late], [p_severe]).tolist() == [expected]


def test_pay_dates_round_up_and_stay_empty_beyond_the_horizon():
    days = pay_dates(
        pd.Series(pd.to_datetime(["2026-01-01", "2026-01-01", "2026-01-01"])), np.array([0.0, 2.1, np.inf])
    )
    assert days.tolist()[:2] == [dt.date(2026, 1, 1), dt.date(2026, 1, 4)] and pd.isna(days.iloc[2])


def test_customer_scores_and_trend(model, rows):
    state = rows[rows["row_kind"] == "issue"].groupby("customer_id").tail(1).head(6).copy()
    earlier = state.assign(scoring_date=pd.Timestamp(AS_OF) - pd.Timedelta(days=91))
    today = state.assign(scoring_date=pd.Timestamp(AS_OF))
    worse = today.index[:2]
    today.loc[worse, ["late_share", "days_beyond_terms_mean", "days_late_mean", "days_late_mean_last_5"]] = [
        1.0,
        45,
        45,
        45,
    ]
    customers = pd.concat([earlier.iloc[:-1], today])  # the last customer has no earlier score
    scores = customer_scores(
        model,
        customers,
        AS_OF,
        model_label="m",
        model_version="v",
        reasons=lambda part: pd.Series("r", index=part.index),
    )
    assert len(scores) == 6 and set(scores["trend"]) <= {"worsening", "improving", "stable", "new"}
    assert scores["trend"].iloc[-1] == "new"
    assert (scores.set_index("customer_id").loc[today.loc[worse, "customer_id"], "score_change"] > 0).all()


def test_fingerprint_and_version(rows):
    shuffled = rows.sample(frac=1.0, random_state=3)
    assert data_fingerprint(rows) == data_fingerprint(shuffled)
    changed = rows.copy()
    changed.loc[changed.index[0], "settled_date"] = pd.Timestamp("2030-01-01")
    assert data_fingerprint(changed) != data_fingerprint(rows)
    assert model_version(AS_OF, "abc", FAST) == model_version(AS_OF, "abc", FAST)
    assert model_version(AS_OF, "abc", FAST) != model_version(AS_OF, "abc", RiskParams())


def test_model_card(model, rows, backtest):
    verdict = beats_baseline(backtest.evaluations, model.name)
    card = model_card(
        model,
        version="v1",
        fingerprint="f",
        training_rows=rows,
        evaluations=backtest.evaluations,
        verdict=verdict,
        published_model=model.name,
    )
    json.dumps(card)  # JSON-ready
    assert card["training_window"]["rows_in_window"] == model.training_rows
    assert len(card["backtest"]["origins"]) == 2 and card["verdict"]["passed"] is True
    text = card_markdown(card)
    assert "# Risk model v1" in text and "| gbm_logit_stack | late |" in text


def test_split_evaluation(rows):
    result = evaluate_split(rows, dt.date(2026, 1, 1), FAST, bootstrap_samples=50)
    metrics = result.metrics.set_index(["model", "metric"])
    assert {
        ("gbm_logit_stack", "auc"),
        (LATE_RATE, "auc"),
        ("gbm_logit_stack", "mae_days"),
        (DUE_DATE, "mae_days"),
        ("gbm_logit_stack", "weekly_receipts_wape"),
    } <= set(metrics.index)
    auc = metrics.loc[("gbm_logit_stack", "auc")]
    assert auc["ci_low"] <= auc["value"] <= auc["ci_high"]
    assert {"invoice_id", "p_late", "pay_date_p50"} <= set(result.predictions.columns)
    assert metrics.loc[("gbm_logit_stack", "mae_days"), "value"] < metrics.loc[(DUE_DATE, "mae_days"), "value"]


def test_baseline_distribution_is_the_point_plus_the_training_residuals():
    dist = ShiftedResiduals(np.array([10.0, 0.0]), np.array([-2.0, 0.0, 5.0]), last_horizon=12.0)
    # 10 + 5 reaches the last horizon: not settled within it, at 15 days as in the quantiles
    assert dist.at([8, 10, 12, 15]).tolist() == [[1 / 3, 2 / 3, 2 / 3, 2 / 3], [1.0, 1.0, 1.0, 1.0]]
    q = dist.quantiles([0.3, 0.5, 0.9])
    assert q[0, :2].tolist() == [8.0, 10.0] and math.isinf(q[0, 2])  # 15 is past the last horizon
    assert q[1].tolist() == [0.0, 0.0, 5.0]  # never before the scoring day
