"""Run the main job (or the daily refresh) once in this process, through ``inflow run``'s own code,
and write each stage's time.

The benchmark starts this module in a child process per run, so the wall time and the peak
resident memory it measures are those of a real run (DuckDB, GX and the dbt subprocess
included). Step durations come from Dagster's own step events and are summed per stage:
ingest (landing, freshness, exception report), dbt (the dbt build step), risk (training and
scoring, the collector queue), forecast, outputs (the ERP outbox, outreach drafts, the review
pack) and publish; the rest of the wall time (interpreter start, definitions, orchestration
between steps) is reported as overhead, so the stages and the overhead add up to the run's wall
time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

STAGES = ("ingest", "dbt", "risk", "forecast", "outputs", "publish")
#: The first part of an asset key (its schema) -> the stage of a step that materializes it.
_STAGE_OF_SCHEMA = {"raw": "ingest", "quality": "ingest", "ml": "risk", "forecast": "forecast"}


def stage_of(asset_keys: set, dbt_keys: set, serving_key) -> str:
    """The stage a step belongs to, judged by the assets it materialized (a step that
    materialized nothing, an asset check, counts as ingest)."""
    if serving_key in asset_keys:
        return "publish"
    if asset_keys & dbt_keys:
        return "dbt"
    stages = {_STAGE_OF_SCHEMA.get(key.path[0], "outputs") for key in asset_keys}
    for stage in ("risk", "forecast", "ingest"):
        if stage in stages:
            return stage
    return "outputs" if stages else "ingest"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--timings", type=Path, required=True, help="JSON file to write stage seconds to")
    parser.add_argument("--engine", choices=("duckdb", "spark"), default=None, help="engine of the dbt build")
    parser.add_argument("--job", choices=("main", "daily"), default="main", help="the main job or the daily refresh")
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=None, help="as-of date (default: the config's)")
    args = parser.parse_args(argv)

    from dagster import AssetsDefinition

    from orchestration.cli import execute_main_job
    from orchestration.defs.automation import DAILY_JOB, MAIN_JOB
    from orchestration.defs.keys import SERVING_KEY
    from orchestration.settings import Settings

    job = DAILY_JOB if args.job == "daily" else MAIN_JOB
    settings = Settings.load(args.config, args.home).with_engine(args.engine)
    result, defs, _ = execute_main_job(settings, as_of=args.as_of, job_name=job)
    dbt_keys = {
        key
        for assets in defs.assets or ()
        if isinstance(assets, AssetsDefinition) and assets.is_executable and assets.node_def.name == "dbt_models"
        for key in assets.keys
    }
    if not result.success:
        print("the benchmark run failed", file=sys.stderr)
        return 1
    keys_by_step: dict[str, set] = {}
    seconds = dict.fromkeys(STAGES, 0.0)
    for event in result.all_events:
        if event.is_step_materialization:
            keys_by_step.setdefault(event.step_key, set()).add(event.asset_key)
    for event in result.all_events:
        if event.is_step_success:
            stage = stage_of(keys_by_step.get(event.step_key, set()), dbt_keys, SERVING_KEY)
            seconds[stage] += event.event_specific_data.duration_ms / 1000
    args.timings.write_text(json.dumps(seconds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
