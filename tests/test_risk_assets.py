"""The risk assets (orchestration/defs/ml/assets.py) in Dagster, on a warehouse holding a small
synthetic ledger's feature rows and marts: what they publish, that the gate really blocks a
model that loses to its baselines, and that the baselines' scores are then published instead."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

import orchestration.defs.ml.assets as ml_assets
from models.baselines import LATE_RATE
from models.risk import RiskParams, fit_risk_model
from orchestration.config import SAMPLE_CONFIG, load_config
from orchestration.defs.ml.assets import MlSettings, build_ml_assets
from orchestration.resources import RunOptions, WarehouseResource
from orchestration.settings import Settings
from tests.risk_synthetic import synthetic_rows

AS_OF = dt.date(2026, 6, 30)
ML = MlSettings(risk=RiskParams(max_iter=40), backtest_origins=2)


@pytest.fixture(autouse=True)
def one_thread():
    with threadpool_limits(1):
        yield


def customer_rows(training: pd.DataFrame) -> pd.DataFrame:
    """Customer rows on AS_OF and a quarter before, from each customer's latest issue row then."""
    out = []
    for day in (pd.Timestamp(AS_OF), pd.Timestamp(AS_OF) - pd.Timedelta(days=91)):
        issued = training[(training["row_kind"] == "issue") & (training["scoring_date"] <= day)]
        latest = issued.sort_values("scoring_date").groupby("customer_id").tail(1)
        out.append(latest.assign(scoring_date=day, usual_terms_days=latest["terms_days"]))
    return pd.concat(out, ignore_index=True)


def make_warehouse(path: Path) -> None:
    training = synthetic_rows()
    scoring = training[(training["row_kind"] == "snapshot") & (training["scoring_date"] == pd.Timestamp(AS_OF))].copy()
    scoring.loc[scoring.index[:2], "own_promise_pending"] = 1.0
    scoring.loc[scoring.index[2], "own_dispute_open"] = 1.0
    invoices = scoring[["invoice_id", "due_date", "amount"]].assign(currency="USD")
    invoices["open_amount"] = invoices["amount"]
    invoices["open_amount_reporting"] = invoices["amount"]
    customers = pd.DataFrame({"customer_id": training["customer_id"].unique()})
    customers["collector"] = np.where(np.arange(len(customers)) % 2, "Carl", "Dana")
    customers["owner"] = "Olivia"
    con = duckdb.connect(str(path))
    try:
        for schema in ("ml", "marts", "intermediate"):
            con.execute(f"create schema {schema}")
        for table, frame in (
            ("intermediate.int_risk_training_rows", training),
            ("intermediate.int_risk_scoring_rows", scoring),
            ("intermediate.int_risk_customer_rows", customer_rows(training)),
            ("marts.fct_ar_invoices", invoices),
            ("marts.dim_customers", customers),
        ):
            con.register("frame", frame)
            con.execute(f"create table {table} as select * from frame")
    finally:
        con.close()


def run(tmp_path: Path):
    """Materialize the risk assets once, as of AS_OF."""
    settings = Settings(config=load_config(SAMPLE_CONFIG), config_path=SAMPLE_CONFIG, home=tmp_path)
    defs = dg.Definitions(
        assets=build_ml_assets(settings, ML),
        resources={
            "warehouse": WarehouseResource(path=str(settings.warehouse_path)),
            "run": RunOptions(as_of_date=AS_OF.isoformat()),
        },
    )
    return defs.resolve_implicit_global_asset_job_def().execute_in_process(raise_on_error=False)


def query(path: Path, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def materialized(result) -> set[str]:
    return {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}


def check_passed(result) -> bool:
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation.passed


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    home = tmp_path_factory.mktemp("risk-home")
    make_warehouse(home / "warehouse.duckdb")
    with threadpool_limits(1):
        first = run(home)
        between = dt.datetime.now()
        second = run(home)
    return home, first, second, between


def test_a_model_that_beats_its_baselines_is_published(good):
    home, result, *_ = good
    warehouse = home / "warehouse.duckdb"
    assert result.success and check_passed(result)
    assert {
        "ml/risk_model",
        "ml/model_evaluations",
        "ml/invoice_risk_scores",
        "ml/customer_risk_scores",
        "marts/collector_queue",
    } <= materialized(result)
    scores = query(warehouse, "select * from ml.invoice_risk_scores")
    assert len(scores) == len(query(warehouse, "select * from intermediate.int_risk_scoring_rows"))
    assert set(scores["model"]) == {"gbm_logit_stack"} and scores["reasons"].str.len().min() > 0
    assert scores["p_late"].between(0, 1).all() and scores["band"].isin(["low", "medium", "high", "critical"]).all()
    assert (scores["pay_date_p10"].dropna() >= pd.Timestamp(AS_OF)).all()
    version = scores["model_version"].iloc[0]
    folder = home / "models" / version
    card = json.loads((folder / "card.json").read_text())
    assert card["version"] == version and card["verdict"]["passed"] and (folder / "model.pkl").exists()
    assert "# Risk model" in (folder / "card.md").read_text()
    quantiles = query(warehouse, "select * from ml.invoice_pay_time_quantiles")
    assert len(quantiles) == 19 * len(scores) and min(quantiles["level"].unique()) == pytest.approx(0.05)
    customers = query(warehouse, "select * from ml.customer_risk_scores")
    assert (
        customers["customer_id"].is_unique
        and customers["trend"].isin(["worsening", "improving", "stable", "new"]).all()
    )


def test_the_queue_table_keeps_money_as_decimal_and_respects_the_worklist(good):
    home, *_ = good
    warehouse = home / "warehouse.duckdb"
    types = dict(
        query(
            warehouse,
            "select column_name, data_type from information_schema.columns where table_name = 'collector_queue'",
        ).values
    )
    assert types["open_amount"] == types["open_amount_reporting"] == types["value_at_risk_reporting"] == "DECIMAL(18,2)"
    queue = query(warehouse, "select * from marts.collector_queue")
    assert queue[queue["status"] == "queued"].groupby("queue_owner").size().max() <= ML.worklist.capacity_per_collector
    assert (queue[queue["status"] == "held"]["action"] == "wait for promise").all() and (
        queue["status"] == "held"
    ).sum() == 2
    assert queue[queue["queue"] == "disputes"]["queue_owner"].tolist() == ["Olivia"]
    assert set(queue["reporting_currency"]) == {"USD"}


def test_a_second_run_on_the_same_data_gives_the_same_version_and_scores(good):
    home, _, second, _ = good
    warehouse = home / "warehouse.duckdb"
    assert second.success
    versions = query(warehouse, "select distinct model_version from ml.model_evaluations")
    assert len(versions) == 1  # the same data and parameters: one version, its rows replaced not duplicated
    counts = query(warehouse, "select count(*) as n from ml.model_evaluations")["n"].iloc[0]
    assert counts == (ML.backtest_origins + 1) * 7


def kept_training(result) -> bool:
    """Whether the run's training step kept an earlier training instead of training."""
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key == ml_assets.EVALUATIONS_KEY]
    return event.materialization.metadata["kept_from_an_earlier_run"].value


def test_a_second_run_on_the_same_inputs_keeps_the_first_runs_training(good):
    home, first, second, between = good
    assert not kept_training(first) and kept_training(second)
    versions = query(home / "warehouse.duckdb", "select model_version, created_at from ml.risk_model_versions")
    assert len(versions) == 1 and versions["created_at"].iloc[0] > pd.Timestamp(between), "the latest version again"


def test_a_changed_feature_or_an_unfinished_training_trains_again(tmp_path: Path, monkeypatch) -> None:
    """The model version covers the rows' keys and outcomes only; a feature that changed (a
    re-delivered export) keeps the version but must train again, as must a training whose folder
    lacks its inputs digest (killed before it finished)."""
    warehouse = tmp_path / "warehouse.duckdb"
    make_warehouse(warehouse)
    assert not kept_training(run(tmp_path))
    (version,) = query(warehouse, "select model_version from ml.risk_model_versions")["model_version"]
    con = duckdb.connect(str(warehouse))
    con.execute(
        "update intermediate.int_risk_training_rows set amount = amount + 1 "
        "where invoice_id = (select min(invoice_id) from intermediate.int_risk_training_rows)"
    )
    con.close()
    changed = run(tmp_path)
    assert changed.success and not kept_training(changed)
    assert query(warehouse, "select model_version from ml.risk_model_versions")["model_version"].tolist() == [version]
    (tmp_path / "models" / version / ml_assets.INPUTS_FILE).unlink()
    monkeypatch.setattr(ml_assets, "fit_risk_model", fit_on_shuffled_outcomes)  # proves a training ran
    unfinished = run(tmp_path)
    assert unfinished.success and not kept_training(unfinished) and not check_passed(unfinished)


def fit_on_shuffled_outcomes(rows: pd.DataFrame, known_on: dt.date, params: RiskParams):
    broken = rows.copy()
    order = np.random.default_rng(1).permutation(len(rows))
    for name in ("settled_date", "written_off_date"):
        broken[name] = rows[name].to_numpy()[order]
    return fit_risk_model(broken, known_on, params)


def test_a_model_that_loses_is_blocked_and_the_baselines_are_published(tmp_path, monkeypatch):
    make_warehouse(tmp_path / "warehouse.duckdb")
    monkeypatch.setattr(ml_assets, "fit_risk_model", fit_on_shuffled_outcomes)
    result = run(tmp_path)
    assert not check_passed(result)
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.severity == dg.AssetCheckSeverity.WARN  # the model is held back; the run goes on
    assert result.success
    published = materialized(result)
    assert {"ml/invoice_risk_scores", "ml/customer_risk_scores", "marts/collector_queue"} <= published
    warehouse = tmp_path / "warehouse.duckdb"
    scores = query(warehouse, "select * from ml.invoice_risk_scores")
    assert set(scores["model"]) == {LATE_RATE}
    assert set(query(warehouse, "select model from marts.collector_queue")["model"]) == {LATE_RATE}
    versions = query(warehouse, "select * from ml.risk_model_versions")
    assert versions["passed"].tolist() == [False] and versions["published_model"].tolist() == [LATE_RATE]
    assert "FAIL" in versions["verdict"].iloc[0]
