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

The fixed costs are written beside the stages (:data:`FIXED`): ``startup``, from the parent's
start of this process to the run's start in the Dagster instance (interpreter, imports, definitions,
instance, the home's upkeep); ``dbt_start``, the dbt step's time outside dbt's own run of the
graph (starting dbt, reading or re-parsing the project: the step's time less ``elapsed_time`` in
``run_results.json``); ``dbt_nodes``, the number of nodes dbt ran, and ``dbt_node_median``, the
median node's time, which on small inputs is mostly per-node cost.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orchestration.settings import Settings

STAGES = ("ingest", "dbt", "risk", "forecast", "outputs", "publish")
#: Fixed costs measured beside the stages (see the module's docstring).
FIXED = ("startup", "dbt_start", "dbt_nodes", "dbt_node_median")
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


def run_start(settings: Settings, run_id: str) -> float:
    """Epoch seconds the run started, from the run's record in the home's Dagster instance."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        record = instance.get_run_record_by_id(run_id)
        if record is None or record.start_time is None:
            raise RuntimeError(f"run {run_id} has no start time in the instance")
        return record.start_time


def dbt_fixed_costs(run_results: Path, dbt_step_seconds: float) -> dict[str, float]:
    """dbt's start and parse (the step's time outside its run of the graph), its node count and
    median node time, from the run's ``run_results.json`` (zeros when dbt did not run)."""
    if not run_results.is_file():
        return {"dbt_start": 0.0, "dbt_nodes": 0, "dbt_node_median": 0.0}
    data = json.loads(run_results.read_text())
    times = [r["execution_time"] for r in data["results"]]
    return {
        "dbt_start": max(0.0, dbt_step_seconds - data["elapsed_time"]),
        "dbt_nodes": len(times),
        "dbt_node_median": statistics.median(times) if times else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--timings", type=Path, required=True, help="JSON file to write stage seconds to")
    parser.add_argument("--engine", choices=("duckdb", "spark"), default=None, help="engine of the dbt build")
    parser.add_argument("--job", choices=("main", "daily"), default="main", help="the main job or the daily refresh")
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=None, help="as-of date (default: the config's)")
    parser.add_argument("--started-at", type=float, default=None, help="epoch seconds the parent started this process")
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
    fixed = {"startup": run_start(settings, result.run_id) - args.started_at if args.started_at else 0.0}
    fixed |= dbt_fixed_costs(settings.dbt_runs_dir / result.run_id / "run_results.json", seconds["dbt"])
    args.timings.write_text(json.dumps(seconds | fixed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
