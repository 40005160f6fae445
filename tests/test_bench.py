"""The benchmark's bookkeeping: which stage a step's time is counted in."""

from __future__ import annotations

import dagster as dg

from bench.stage import stage_of

SERVING = dg.AssetKey(["serving", "published"])
DBT = {dg.AssetKey(["marts", "fct_ar_invoices"]), dg.AssetKey(["staging", "stg_landing__invoices"])}


def test_steps_are_counted_in_the_stage_of_the_assets_they_materialize() -> None:
    assert stage_of({SERVING}, DBT, SERVING) == "publish"
    assert stage_of({dg.AssetKey(["marts", "fct_ar_invoices"])}, DBT, SERVING) == "dbt"
    assert stage_of({dg.AssetKey(["raw", "erp__invoices"])}, DBT, SERVING) == "ingest"


def test_a_step_that_materialized_nothing_counts_as_ingest() -> None:
    """Freshness checks and the exception report run beside landing."""
    assert stage_of(set(), DBT, SERVING) == "ingest"
