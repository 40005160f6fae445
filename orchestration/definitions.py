"""Inflow's Dagster definitions: landing → dbt fact layer → publish, built from configuration.

Settings come from INFLOW_CONFIG / INFLOW_HOME / INFLOW_AS_OF (see ``orchestration.settings``);
an invalid configuration fails here, at load, with the key that is wrong.
"""

from __future__ import annotations

import dagster as dg

from orchestration.defs.ingestion.assets import build_ingestion_assets
from orchestration.defs.ingestion.validation import gx_validator
from orchestration.defs.publish.assets import build_publish_asset
from orchestration.defs.quality.checks import build_freshness_checks
from orchestration.defs.quality.exceptions import build_exception_report
from orchestration.defs.transform.dbt import build_dbt_assets
from orchestration.resources import WarehouseResource
from orchestration.settings import Settings

MAIN_JOB = "inflow_main"


def build_definitions(settings: Settings) -> dg.Definitions:
    ingestion = build_ingestion_assets(settings, gx_validator)
    landed = [key for asset in ingestion for key in asset.keys]
    report = build_exception_report(settings, landed)
    dbt_models, dbt_resource = build_dbt_assets(settings)
    published = build_publish_asset(settings, [*sorted(dbt_models.keys, key=lambda k: k.to_user_string()), report.key])
    main_job = dg.define_asset_job(
        MAIN_JOB,
        selection=dg.AssetSelection.all(),
        description="Land every source, build and test the fact layer, publish when all gates pass.",
        executor_def=dg.in_process_executor,
    )
    return dg.Definitions(
        assets=[*ingestion, report, dbt_models, published],
        asset_checks=build_freshness_checks(settings),
        jobs=[main_job],
        resources={
            "warehouse": WarehouseResource(path=str(settings.warehouse_path),
                                           memory_limit=settings.config.engine.memory_limit),
            "dbt": dbt_resource,
        },
        executor=dg.in_process_executor,
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(Settings.from_env())
