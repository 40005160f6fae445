"""Risk scores, the model behind them and the collector queue, as Dagster assets.

Thin by design: read the feature rows dbt built (``ml.risk_*``), call ``models/``, write tables
and model artifacts. The graph:

- ``ml/model_evaluations`` (training): rolling-origin backtest of the model against its
  baselines, the model and baselines trained on everything known today, saved with a model
  card under ``INFLOW_HOME/models/<version>/``, the backtest rows appended to
  ``ml.model_evaluations`` and the version with its verdict in ``ml.risk_model_versions``.
- ``ml/risk_model`` with the check ``beats_baseline`` (``models.gate``): the gate that keeps a
  model that does not beat its baselines out of publication. It holds the model back itself (the
  score assets publish the baselines' scores instead, and the ``model`` column says which), so
  the check warns rather than blocks: a blocking check would fail the step and skip everything
  downstream in Dagster 1.13, and the daily publication must go on with the baselines.
- ``ml/invoice_risk_scores`` (+ ``ml.invoice_pay_time_quantiles``), ``ml/customer_risk_scores``
  and ``marts/collector_queue``: scoring with the newest trained version, every day. Training
  (``ml/model_evaluations``, ``ml/risk_model``) runs in ``inflow_main`` (``inflow run``
  and the weekly schedule); the daily refresh scores with what the last training left.
"""

import datetime as dt
import hashlib
import json
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import sklearn
from threadpoolctl import threadpool_limits

import models
from models.backtest import BacktestPlan, plan_origins, run_backtest
from models.baselines import BaselineScorer, fit_baselines
from models.card import card_markdown, model_card
from models.explain import explain
from models.gate import Verdict, beats_baseline
from models.labels import RiskTargets
from models.risk import RiskModel, RiskParams, fit_risk_model
from models.scoring import (
    customer_scores,
    data_fingerprint,
    history_reasons,
    invoice_scores,
    model_version,
    pay_time_quantiles,
)
from models.worklist import WorklistConfig, build_worklist
from orchestration.config import InflowConfig
from orchestration.resources import RunOptions, WarehouseResource
from orchestration.settings import Settings

RISK_MODEL_KEY = dg.AssetKey(["ml", "risk_model"])
EVALUATIONS_KEY = dg.AssetKey(["ml", "model_evaluations"])
INVOICE_SCORES_KEY = dg.AssetKey(["ml", "invoice_risk_scores"])
CUSTOMER_SCORES_KEY = dg.AssetKey(["ml", "customer_risk_scores"])
QUEUE_KEY = dg.AssetKey(["marts", "collector_queue"])
TRAINING_ROWS_KEY = dg.AssetKey(["intermediate", "int_risk_training_rows"])
SCORING_ROWS_KEY = dg.AssetKey(["intermediate", "int_risk_scoring_rows"])
CUSTOMER_ROWS_KEY = dg.AssetKey(["intermediate", "int_risk_customer_rows"])
INVOICES_KEY = dg.AssetKey(["marts", "fct_ar_invoices"])
CUSTOMERS_KEY = dg.AssetKey(["marts", "dim_customers"])

EVALUATIONS_DDL = """
create table if not exists ml.model_evaluations (
    model_version varchar not null, trained_on date not null, origin_date date, model varchar not null,
    target varchar not null, n bigint not null, auc double, average_precision double, brier double,
    calibration_bins varchar, mae_days double, coverage_p10_p90 double, interval_days double,
    evaluated_at timestamp not null
)"""
VERSIONS_DDL = """
create table if not exists ml.risk_model_versions (
    model_version varchar not null, trained_on date not null, data_fingerprint varchar not null,
    training_rows bigint not null, passed boolean not null, published_model varchar not null,
    verdict varchar not null, artifact_dir varchar not null, created_at timestamp not null
)"""
INVOICE_SCORES_SQL = """
create or replace table ml.invoice_risk_scores as
select cast(invoice_id as varchar) as invoice_id, cast(customer_id as varchar) as customer_id,
       cast(as_of_date as date) as as_of_date, cast(p_late as double) as p_late, cast(p_severe as double) as p_severe,
       cast(p_settled_within_horizon as double) as p_settled_within_horizon,
       cast(pay_date_p10 as date) as pay_date_p10, cast(pay_date_p50 as date) as pay_date_p50,
       cast(pay_date_p90 as date) as pay_date_p90, cast(band as varchar) as band,
       cast(insufficient_history as boolean) as insufficient_history, cast(reasons as varchar) as reasons,
       cast(model as varchar) as model, cast(model_version as varchar) as model_version
from frame"""
QUANTILES_SQL = """
create or replace table ml.invoice_pay_time_quantiles as
select cast(invoice_id as varchar) as invoice_id, cast(as_of_date as date) as as_of_date,
       cast(level as double) as level,
       cast(remaining_days as double) as remaining_days, cast(pay_date as date) as pay_date,
       cast(model as varchar) as model, cast(model_version as varchar) as model_version
from frame"""
CUSTOMER_SCORES_SQL = """
create or replace table ml.customer_risk_scores as
select cast(customer_id as varchar) as customer_id, cast(as_of_date as date) as as_of_date,
       cast(score as double) as score, cast(p_severe as double) as p_severe, cast(band as varchar) as band,
       cast(score_change as double) as score_change, cast(trend as varchar) as trend,
       cast(insufficient_history as boolean) as insufficient_history, cast(reasons as varchar) as reasons,
       cast(model as varchar) as model, cast(model_version as varchar) as model_version
from frame"""
QUEUE_SQL = """
create or replace table marts.collector_queue as
select cast(as_of_date as date) as as_of_date, cast(queue_owner as varchar) as queue_owner,
       cast(queue as varchar) as queue, cast(rank as integer) as rank, cast(status as varchar) as status,
       cast(priority as integer) as priority, cast(action as varchar) as action, cast(reason as varchar) as reason,
       cast(invoice_id as varchar) as invoice_id, cast(customer_id as varchar) as customer_id,
       cast(currency as varchar) as currency, cast(open_amount as decimal(18, 2)) as open_amount,
       cast(? as varchar) as reporting_currency,
       cast(open_amount_reporting as decimal(18, 2)) as open_amount_reporting,
       cast(round(value_at_risk, 2) as decimal(18, 2)) as value_at_risk_reporting,
       cast(ranking_value as double) as ranking_value, cast(days_past_due as integer) as days_past_due,
       cast(p_severe as double) as p_severe, cast(? as varchar) as model, cast(? as varchar) as model_version
from frame"""
QUEUE_ITEMS_SQL = """
select scores.invoice_id, scores.customer_id, customers.collector, customers.owner as account_owner,
       invoices.currency, cast(invoices.open_amount as double) as open_amount,
       cast(invoices.open_amount_reporting as double) as open_amount_reporting, invoices.due_date,
       scores.p_severe, scores.p_settled_within_horizon as p_paid_within_horizon,
       rows.own_dispute_open > 0 as dispute_open, rows.own_promise_pending > 0 as promise_pending,
       rows.own_broken_promise_count > 0 as promise_broken, split_part(scores.reasons, '; ', 1) as reason,
       scores.model, scores.model_version
from ml.invoice_risk_scores as scores
inner join marts.fct_ar_invoices as invoices on invoices.invoice_id = scores.invoice_id
inner join intermediate.int_risk_scoring_rows as rows on rows.invoice_id = scores.invoice_id
left join marts.dim_customers as customers on customers.customer_id = scores.customer_id
where invoices.open_amount > 0
"""


@dataclass(frozen=True)
class MlSettings:
    """What the risk assets take from the configuration (``risk:`` and ``worklist:``).

    ``backtest_origins`` origins of the rolling backtest; ``max_rows_read`` bounds the training
    rows read from the warehouse: beyond it a deterministic sample of whole invoices (by a hash
    of the invoice id) is read, so memory stays bounded at any ledger size."""

    risk: RiskParams = field(default_factory=RiskParams)
    worklist: WorklistConfig = field(default_factory=WorklistConfig)
    backtest_origins: int = 4
    snapshot_step_days: int = 28
    max_rows_read: int = 400_000

    @classmethod
    def from_config(cls, config: InflowConfig) -> "MlSettings":
        risk, worklist = config.risk, config.worklist
        targets = RiskTargets(grace_days=risk.grace_days, severe_days=risk.severe_days)
        return cls(
            risk=RiskParams(
                targets=targets,
                min_paid_invoices=risk.min_paid_invoices,
                min_history_days=risk.min_history_days,
                training_days=risk.training_days,
            ),
            worklist=WorklistConfig(
                capacity_per_collector=worklist.capacity_per_collector,
                horizon_days=worklist.horizon_days,
                grace_days=risk.grace_days,
                dispute_owner=worklist.dispute_owner,
            ),
            backtest_origins=risk.backtest_origins,
            snapshot_step_days=risk.snapshot_step_days,
        )


def backtest_plan(as_of: dt.date, ml: MlSettings) -> BacktestPlan:
    return plan_origins(as_of, step_days=ml.snapshot_step_days, count=ml.backtest_origins)


def read_training_rows(con: duckdb.DuckDBPyConnection, earliest: dt.date, max_rows: int) -> pd.DataFrame:
    """Training rows scored on or after ``earliest``; at most about ``max_rows`` of them, as every
    row of a deterministic sample of invoices when there are more. The hash is salted: dbt's own
    sample (risk_training_invoices) hashes the bare invoice id, and the same hash would keep
    every invoice dbt kept."""
    total = con.execute(
        "select count(*) from intermediate.int_risk_training_rows where scoring_date >= ?", [earliest]
    ).fetchone()[0]
    share = min(1.0, max_rows / total) if total else 1.0
    return con.execute(
        "select * from intermediate.int_risk_training_rows where scoring_date >= ? "
        "and md5_number('read:' || invoice_id) % 1000000 < ?"
        " order by scoring_date, invoice_id, row_kind",
        [earliest, round(share * 1_000_000)],
    ).df()


def artifact_dir(settings: Settings, version: str) -> Path:
    return settings.home / "models" / version


#: The file of a model's folder holding :func:`training_inputs_digest` of what trained it.
INPUTS_FILE = "training_inputs.sha256"
#: The training code: the `models` package (its source) and the scikit-learn that fits them.
_TRAINING_CODE = (Path(models.__file__).parent, sklearn.__version__)


def training_inputs_digest(rows: pd.DataFrame, params: object) -> str:
    """SHA-256 over everything a training depends on: every column of every training row (in any
    order), the parameters and backtest plan, the source of ``models/`` and scikit-learn's
    version. Training is deterministic, so equal digests mean an equal model, evaluations and
    verdict. (The model version's fingerprint covers only the rows' keys and outcomes: a
    re-delivered export that changes a feature keeps the version but not this digest.)"""
    digest = hashlib.sha256()
    digest.update(np.sort(pd.util.hash_pandas_object(rows, index=False).to_numpy()).tobytes())
    digest.update(repr(params).encode())
    folder, sklearn_version = _TRAINING_CODE
    for source in sorted(folder.glob("*.py")):
        digest.update(source.name.encode() + source.read_bytes())
    digest.update(sklearn_version.encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class KeptTraining:
    """A training this home already did: the model it published and its backtest rows."""

    published: str
    evaluations: pd.DataFrame


def kept_training(con: duckdb.DuckDBPyConnection, folder: Path, version: str, inputs: str) -> KeptTraining | None:
    """The training of ``version`` this home already did from the same inputs, or None. It counts
    only when it finished: its folder's inputs digest (written after the model and baselines)
    matches, and its version row and backtest rows are in the warehouse (written after that)."""
    written = folder / INPUTS_FILE
    if not written.is_file() or written.read_text() != inputs:
        return None
    tables = {
        t
        for (t,) in con.execute("select table_name from information_schema.tables where table_schema = 'ml'").fetchall()
    }
    if not {"risk_model_versions", "model_evaluations"} <= tables:
        return None
    row = con.execute(
        "select published_model from ml.risk_model_versions where model_version = ?", [version]
    ).fetchone()
    evaluations = con.execute(
        "select * exclude (model_version, trained_on, evaluated_at) from ml.model_evaluations where model_version = ?",
        [version],
    ).fetchdf()
    if row is None or evaluations.empty:
        return None
    return KeptTraining(row[0], evaluations)


def _evaluations_result(
    version: str,
    published: str,
    training_rows: int,
    plan: BacktestPlan,
    evaluations: pd.DataFrame,
    folder: Path,
    kept: bool,
) -> dg.MaterializeResult:
    """The training step's metadata, from the backtest it ran or the one it kept."""
    evaluated = set(pd.to_datetime(evaluations["origin_date"].dropna()).dt.date)
    pooled = evaluations[evaluations["origin_date"].isna()].drop(columns=["calibration_bins"])
    pooled = pooled.round(dict.fromkeys(pooled.select_dtypes("number").columns, 4))
    return dg.MaterializeResult(
        metadata={
            "model_version": version,
            "published_model": published,
            "training_rows": training_rows,
            "kept_from_an_earlier_run": kept,
            "origins": [d.isoformat() for d in plan.origins],
            "origins_skipped_too_young": [d.isoformat() for d in plan.origins if d not in evaluated],
            "artifact_dir": dg.MetadataValue.path(str(folder)),
            "pooled": dg.MetadataValue.md(pooled.to_markdown(index=False)),
        }
    )


def latest_version(con: duckdb.DuckDBPyConnection) -> tuple[str, bool, str] | None:
    """(version, passed, artifact_dir) of the latest trained model, or None."""
    exists = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'ml' and table_name = 'risk_model_versions'"
    ).fetchone()[0]
    if not exists:
        return None
    return con.execute(
        "select model_version, passed, artifact_dir from ml.risk_model_versions order by created_at desc limit 1"
    ).fetchone()


def published_scorer(con: duckdb.DuckDBPyConnection) -> tuple[RiskModel | BaselineScorer, str, str]:
    """The scorer to publish with: the latest model if it beat its baselines, else its
    baselines. Returns (scorer, model label, version)."""
    latest = latest_version(con)
    if latest is None:
        raise dg.Failure("no risk model has been trained yet: materialize ml/risk_model first")
    version, passed, folder = latest
    with open(Path(folder) / ("model.pkl" if passed else "baselines.pkl"), "rb") as handle:
        scorer = pickle.load(handle)  # noqa: S301 (a model Inflow trained and wrote under its owner-only home)
    return scorer, scorer.name, version


def _reasons(scorer: RiskModel | BaselineScorer, currency: str) -> Callable[[pd.DataFrame], Any]:
    """The plain-words reasons of a scored frame: the model's own explanation, or the customer's
    history when the baselines are published."""
    if isinstance(scorer, RiskModel):
        return lambda part: explain(scorer, part, currency)
    return lambda part: history_reasons(part, currency)


def _verdict_text(verdict: Verdict) -> str:
    return "\n".join(verdict.reasons)


def build_ml_assets(settings: Settings, ml: MlSettings | None = None) -> list[dg.AssetsDefinition]:
    """The risk assets (the gate is the check of ``ml/risk_model``), for ``dg.Definitions``."""
    ml = ml or MlSettings.from_config(settings.config)

    @dg.asset(key=EVALUATIONS_KEY, group_name="ml", kinds={"scikit-learn", "duckdb"}, deps=[TRAINING_ROWS_KEY])
    def model_evaluations(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, run: RunOptions
    ) -> dg.MaterializeResult:
        """Training: the rolling-origin backtest of the risk model against its baselines (rows
        appended to ml.model_evaluations), then the model and the baselines trained on everything
        known on the as-of date, saved with a model card under INFLOW_HOME/models/<version>/, and
        the version with its verdict (models.gate) in ml.risk_model_versions."""
        as_of = run.as_of(settings.config.as_of_date)
        plan = backtest_plan(as_of, ml)
        earliest = min(plan.origins) - dt.timedelta(days=ml.risk.training_days)
        with warehouse.connection(read_only=True) as con:
            rows = read_training_rows(con, earliest, ml.max_rows_read)
        fingerprint = data_fingerprint(rows)
        version = model_version(as_of, fingerprint, (ml.risk, plan))
        folder = artifact_dir(settings, version)
        inputs = training_inputs_digest(rows, (ml.risk, plan))
        with warehouse.connection(read_only=True) as con:
            kept = kept_training(con, folder, version, inputs)
        if kept is not None:
            context.log.info(f"model {version}: this home trained it on the same rows, parameters and code; kept")
            with warehouse.connection() as con:
                con.execute(
                    "update ml.risk_model_versions set created_at = ? where model_version = ?",
                    [dt.datetime.now(), version],
                )
            return _evaluations_result(version, kept.published, len(rows), plan, kept.evaluations, folder, True)
        # One OpenMP thread: measured on the shared 2-core machine, two threads made a fit 7x slower.
        with threadpool_limits(1):
            backtest = run_backtest(rows, as_of, ml.risk, plan, fit=fit_risk_model)
            model = fit_risk_model(rows, as_of, ml.risk)
            baselines = fit_baselines(rows, as_of, ml.risk)
        verdict = beats_baseline(backtest.evaluations, model.name)
        published = model.name if verdict.passed else baselines.name
        (folder / INPUTS_FILE).unlink(missing_ok=True)  # written last: the folder is whole only with it
        folder.mkdir(parents=True, exist_ok=True)
        for name, obj in (("model.pkl", model), ("baselines.pkl", baselines)):
            with open(folder / name, "wb") as handle:
                pickle.dump(obj, handle)
        card = model_card(
            model,
            version=version,
            fingerprint=fingerprint,
            training_rows=rows,
            evaluations=backtest.evaluations,
            verdict=verdict,
            published_model=published,
        )
        (folder / "card.json").write_text(json.dumps(card, indent=2))
        (folder / "card.md").write_text(card_markdown(card))
        evaluations = backtest.evaluations.assign(
            model_version=version, trained_on=as_of, evaluated_at=dt.datetime.now()
        )
        with warehouse.connection() as con:
            con.execute(EVALUATIONS_DDL)
            con.execute(VERSIONS_DDL)
            con.execute("delete from ml.model_evaluations where model_version = ?", [version])
            con.register("frame", evaluations)
            con.execute("insert into ml.model_evaluations by name select * from frame")
            con.execute("delete from ml.risk_model_versions where model_version = ?", [version])
            con.execute(
                "insert into ml.risk_model_versions values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    version,
                    as_of,
                    fingerprint,
                    len(rows),
                    verdict.passed,
                    published,
                    _verdict_text(verdict),
                    str(folder),
                    dt.datetime.now(),
                ],
            )
        (folder / INPUTS_FILE).write_text(inputs)
        return _evaluations_result(version, published, len(rows), plan, backtest.evaluations, folder, False)

    @dg.asset(
        key=RISK_MODEL_KEY,
        group_name="ml",
        kinds={"scikit-learn"},
        deps=[EVALUATIONS_KEY],
        check_specs=[
            dg.AssetCheckSpec(
                "beats_baseline",
                asset=RISK_MODEL_KEY,
                description="The model beats its baselines on the rolling-origin "
                "backtest (models.gate); when it does not, it is held "
                "back and the baselines' scores are published.",
            )
        ],
    )
    def risk_model(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        """The trained risk model of this run, released only when it beats its baselines; a
        losing model fails the check and is held back: the score assets publish the baselines'
        scores instead."""
        with warehouse.connection(read_only=True) as con:
            version, passed, folder = latest_version(con)
            verdict = con.execute(
                "select verdict, published_model from ml.risk_model_versions where model_version = ?", [version]
            ).fetchone()
        card = Path(folder) / "card.md"
        yield dg.MaterializeResult(
            metadata={
                "model_version": version,
                "published_model": verdict[1],
                "artifact_dir": dg.MetadataValue.path(folder),
                "model_card": dg.MetadataValue.md(card.read_text()),
            }
        )
        yield dg.AssetCheckResult(
            check_name="beats_baseline",
            passed=bool(passed),
            severity=dg.AssetCheckSeverity.WARN,
            description=(
                "the model beats its baselines"
                if passed
                else "the model does not beat its baselines: their scores are published instead"
            ),
            metadata={"model_version": version, "comparisons": dg.MetadataValue.md(verdict[0])},
        )

    @dg.asset(key=INVOICE_SCORES_KEY, group_name="ml", kinds={"duckdb"}, deps=[EVALUATIONS_KEY, SCORING_ROWS_KEY])
    def invoice_risk_scores(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, run: RunOptions
    ) -> dg.MaterializeResult:
        """P(late), P(severe), pay-date p10/p50/p90, band and reasons of every invoice open on the
        as-of date, from the model when it beat its baselines, else from the baselines; and the
        pay-time distribution at levels 0.05..0.95 (ml.invoice_pay_time_quantiles) for the forecast."""
        currency, as_of = settings.config.reporting_currency, run.as_of(settings.config.as_of_date)
        with warehouse.connection(read_only=True) as con:
            scorer, label, version = published_scorer(con)
            rows = con.execute("select * from intermediate.int_risk_scoring_rows order by invoice_id").df()
        reasons = _reasons(scorer, currency)
        distribution = scorer.distribution(rows)
        scores = invoice_scores(
            scorer, rows, distribution, as_of, model_label=label, model_version=version, reasons=reasons
        )
        scores["p_settled_within_horizon"] = distribution.at([ml.worklist.horizon_days])[:, 0]
        quantiles = pay_time_quantiles(rows, distribution, model_label=label, model_version=version)
        with warehouse.connection() as con:
            con.register("frame", scores)
            con.execute(INVOICE_SCORES_SQL)
            con.register("frame", quantiles)
            con.execute(QUANTILES_SQL)
        return dg.MaterializeResult(
            metadata={
                "rows": len(scores),
                "model": label,
                "model_version": version,
                "bands": dg.MetadataValue.json(scores["band"].value_counts().to_dict()),
                "insufficient_history": int(scores["insufficient_history"].sum()),
            }
        )

    @dg.asset(key=CUSTOMER_SCORES_KEY, group_name="ml", kinds={"duckdb"}, deps=[EVALUATIONS_KEY, CUSTOMER_ROWS_KEY])
    def customer_risk_scores(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, run: RunOptions
    ) -> dg.MaterializeResult:
        """Per customer: the risk of its next usual invoice (score, band), its trend against
        the same score a quarter earlier, the reasons, and whether its history is sufficient."""
        currency, as_of = settings.config.reporting_currency, run.as_of(settings.config.as_of_date)
        with warehouse.connection(read_only=True) as con:
            scorer, label, version = published_scorer(con)
            customers = con.execute(
                "select * from intermediate.int_risk_customer_rows order by customer_id, scoring_date"
            ).df()
        reasons = _reasons(scorer, currency)
        scores = customer_scores(scorer, customers, as_of, model_label=label, model_version=version, reasons=reasons)
        with warehouse.connection() as con:
            con.register("frame", scores)
            con.execute(CUSTOMER_SCORES_SQL)
        return dg.MaterializeResult(
            metadata={
                "rows": len(scores),
                "model": label,
                "model_version": version,
                "trend": dg.MetadataValue.json(scores["trend"].value_counts().to_dict()),
            }
        )

    @dg.asset(key=QUEUE_KEY, group_name="ml", kinds={"duckdb"}, deps=[INVOICE_SCORES_KEY, INVOICES_KEY, CUSTOMERS_KEY])
    def collector_queue(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, run: RunOptions
    ) -> dg.MaterializeResult:
        """Each collector's ranked queue for the as-of date (models.worklist): value at risk,
        capacity, promises held back, broken promises raised, disputes routed to the dispute
        owner, one reason and an action per row; ranks kept stable against the previous queue."""
        as_of = run.as_of(settings.config.as_of_date)
        with warehouse.connection(read_only=True) as con:
            items = con.execute(QUEUE_ITEMS_SQL).df()
            exists = con.execute(
                "select count(*) from information_schema.tables "
                "where table_schema = 'marts' and table_name = 'collector_queue'"
            ).fetchone()[0]
            previous = (
                con.execute(
                    "select invoice_id, ranking_value from marts.collector_queue where as_of_date < ?", [as_of]
                ).df()
                if exists
                else None
            )
        queue = build_worklist(items, as_of, ml.worklist, previous)
        label = items["model"].iloc[0] if len(items) else ""
        version = items["model_version"].iloc[0] if len(items) else ""
        with warehouse.connection() as con:
            con.register("frame", queue)
            con.execute(QUEUE_SQL, [settings.config.reporting_currency, label, version])
        todays = queue[queue["status"] == "queued"]
        return dg.MaterializeResult(
            metadata={
                "rows": len(queue),
                "queued": len(todays),
                "held": int((queue["status"] == "held").sum()),
                "queued_per_owner": dg.MetadataValue.json(todays["queue_owner"].value_counts().to_dict()),
                "actions": dg.MetadataValue.json(todays["action"].value_counts().to_dict()),
            }
        )

    return [model_evaluations, risk_model, invoice_risk_scores, customer_risk_scores, collector_queue]
