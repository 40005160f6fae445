"""Inflow's Dagster definitions, built from explicit settings: landing → dbt fact layer → cash
forecast, risk scores → collector queue → outreach drafts, ERP outbox → publish → review pack;
plus the outbox's own send job and the weekly forecast schedule.

``build_definitions(settings)`` is what ``inflow run`` and the tests call; ``defs`` is the code
location the Dagster UI loads (``make ui``), with settings from the environment it starts in. An
invalid configuration fails at load, with the key that is wrong.
"""

from __future__ import annotations

import dagster as dg

from expectations.contracts import ENTITIES
from orchestration.defs.automation import build_automation
from orchestration.defs.forecast.assets import build_forecast_assets
from orchestration.defs.ingestion.assets import build_ingestion_assets
from orchestration.defs.ml.assets import RISK_MODEL_KEY, build_ml_assets
from orchestration.defs.outreach.assets import build_outreach_asset
from orchestration.defs.publish.assets import build_publish_asset
from orchestration.defs.quality.exceptions import build_exception_report
from orchestration.defs.quality.freshness import build_freshness_checks
from orchestration.defs.quality.fx_coverage import build_fx_coverage_asset
from orchestration.defs.reporting.assets import build_review_pack_asset
from orchestration.defs.transform.dbt import build_dbt_assets
from orchestration.defs.writeback.assets import OUTBOX_ASSET_KEY, build_writeback_definitions, outbox_deps
from orchestration.permissions import owner_only
from orchestration.resources import RunOptions, WarehouseResource
from orchestration.settings import Settings


def build_resources(settings: Settings, dbt_resource: dg.ConfigurableResource) -> dict[str, object]:
    config = settings.config
    return {
        "warehouse": WarehouseResource(
            path=str(settings.warehouse_path),
            memory_limit=config.engine.memory_limit,
            landing_tables={name: config.tables_of(name) for name in ENTITIES},
            home=str(settings.home),
            runs_kept=config.retention.runs_kept,
        ),
        "run": RunOptions(),
        "dbt": dbt_resource,
    }


def build_definitions(settings: Settings) -> dg.Definitions:
    ingestion = build_ingestion_assets(settings)
    landed = [key for asset in ingestion for key in asset.keys]
    report = build_exception_report(settings, landed)
    dbt_models, dbt_resource = build_dbt_assets(settings)
    forecast = build_forecast_assets(settings)
    ml = build_ml_assets(settings)
    scored = [key for asset in ml for key in asset.keys if key != RISK_MODEL_KEY]
    outreach = build_outreach_asset(settings)
    built = [*dbt_models.keys, *forecast.keys, *scored, outreach.key]
    writeback = build_writeback_definitions(settings.config.writeback, settings.home, outbox_deps(built))
    fx_coverage = build_fx_coverage_asset(settings)
    upstream = sorted([*built, report.key, OUTBOX_ASSET_KEY, fx_coverage.key], key=lambda k: k.to_user_string())
    published = build_publish_asset(settings, upstream, required=[*landed, *dbt_models.keys, fx_coverage.key])
    return dg.Definitions.merge(
        writeback,
        build_automation(settings),
        dg.Definitions(
            assets=[
                *ingestion,
                report,
                dbt_models,
                forecast,
                *ml,
                outreach,
                fx_coverage,
                published,
                build_review_pack_asset(settings),
            ],
            asset_checks=build_freshness_checks(settings),
            resources=build_resources(settings, dbt_resource),
            executor=dg.in_process_executor,
        ),
    )


@dg.definitions
def defs() -> dg.Definitions:
    owner_only()  # runs launched from the UI write owner-only files too
    return build_definitions(Settings.from_environment())
