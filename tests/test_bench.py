"""The benchmark's bookkeeping: which stage a step's time is counted in, and the landing floor."""

from __future__ import annotations

import dagster as dg
import duckdb

from bench.landing_floor import land_floor
from bench.stage import stage_of
from orchestration.config import SAMPLE_CONFIG, load_config

SERVING = dg.AssetKey(["serving", "published"])
DBT = {dg.AssetKey(["marts", "fct_ar_invoices"]), dg.AssetKey(["staging", "stg_landing__invoices"])}


def test_steps_are_counted_in_the_stage_of_the_assets_they_materialize() -> None:
    assert stage_of({SERVING}, DBT, SERVING) == "publish"
    assert stage_of({dg.AssetKey(["marts", "fct_ar_invoices"])}, DBT, SERVING) == "dbt"
    assert stage_of({dg.AssetKey(["raw", "erp__invoices"])}, DBT, SERVING) == "ingest"
    scoring = {dg.AssetKey(["ml", "invoice_risk_scores"]), dg.AssetKey(["marts", "collector_queue"])}
    assert stage_of(scoring, DBT, SERVING) == "risk", "the queue is built by the scoring step, not by dbt"
    assert stage_of({dg.AssetKey(["forecast", "cash_forecast_weekly"])}, DBT, SERVING) == "forecast"
    assert stage_of({dg.AssetKey(["writeback", "erp_outbox"])}, DBT, SERVING) == "outputs"
    assert stage_of({dg.AssetKey(["quality", "exception_report"])}, DBT, SERVING) == "ingest"


def test_a_step_that_materialized_nothing_counts_as_ingest() -> None:
    """Freshness checks and the exception report run beside landing."""
    assert stage_of(set(), DBT, SERVING) == "ingest"


def test_the_landing_floor_reads_every_table_of_the_sample_company() -> None:
    """`make bench` sets landing against this floor; it must read every source the pipeline reads
    (files and the workflow's database query alike) with the same configuration API."""
    config = load_config(SAMPLE_CONFIG)
    con = duckdb.connect()
    land_floor(config, con)
    for source, table, _, _ in config.tables():
        assert con.execute(f"select count(*) from {source}__{table}").fetchone()[0] > 0, f"{source}.{table}"
