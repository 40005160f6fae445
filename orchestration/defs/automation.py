"""Inflow running by itself: its jobs, the schedules and file sensor that start them, and what a
failed step reports.

- ``inflow_main``: everything, the way ``inflow run`` and ``make run`` run it.
- ``inflow_daily_refresh``: everything but the cash forecast and the risk model's training (the
  daily scoring uses the last model trained), on the daily schedule and whenever new or changed
  files arrive in a file source's folder of a home that has published (over a home that never
  has, the sensor starts ``inflow_main``: there is no model yet for the daily scoring). The
  forecast's dbt inputs are built daily with the rest of the dbt project: publishing refuses a
  warehouse whose landing changed without every dbt model rebuilt
  (:mod:`orchestration.defs.publish.guard`).
- the weekly schedule (``automation.weekly_forecast``) starts ``inflow_main``: the cash forecast
  and the risk model's training publish only with a complete build around them, which is the
  whole job.

Schedules come from ``inflow.yml`` (``automation:``) and start as configured (stopped unless
``enabled``), toggled in the UI. The file sensor polls each file source's glob; a file counts once
its size and modification time have held still for ``debounce_seconds`` (an export still being
copied is not loaded half-written), and its cursor remembers what it started runs for, so the same
drop never starts a second run. A fresh sensor over a home that has published starts from what the
current publication's run could have landed, so opening the UI does not start a run for nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path

import dagster as dg

from orchestration.audit import AuditTrail
from orchestration.config import AutomationConfig, InflowConfig, ScheduleConfig
from orchestration.defs.ingestion.landing import batch_files
from orchestration.defs.publish.publication import current, read_manifest
from orchestration.settings import Settings

MAIN_JOB = "inflow_main"
DAILY_JOB = "inflow_daily_refresh"
#: The cash forecast's own assets (schema ``forecast``): weekly, not daily.
FORECAST_SCHEMA = "forecast"
#: The risk model's training assets: weekly, not daily.
TRAINING = (dg.AssetKey(["ml", "model_evaluations"]), dg.AssetKey(["ml", "risk_model"]))
#: Transient failures (a file locked by the exporter, a database briefly down) are retried; data
#: rejections raise ``dg.Failure(allow_retries=False)`` and are not.
TRANSIENT_RETRIES = dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL)


def file_fingerprints(config: InflowConfig) -> dict[str, list[int]]:
    """Every file a file source would land now: path -> [size, modification time in ns]."""
    out: dict[str, list[int]] = {}
    for _, _, _, table in config.tables():
        if table.format == "query":
            continue
        for path in batch_files(config, table):
            stat = path.stat()
            out[str(path)] = [stat.st_size, stat.st_mtime_ns]
    return out


def settled_changes(
    now_ns: int, seen: Mapping[str, list[int]], current: Mapping[str, list[int]], debounce_seconds: int
) -> dict[str, list[int]]:
    """Files new or changed since ``seen`` that have not been modified for ``debounce_seconds``."""
    quiet_before = now_ns - debounce_seconds * 1_000_000_000
    return {path: fp for path, fp in current.items() if seen.get(path) != fp and fp[1] <= quiet_before}


def landed_by_last_publication(settings: Settings, instance: dg.DagsterInstance) -> dict[str, list[int]]:
    """A fresh sensor's cursor: the files the current publication's run could have landed (last
    modified before that run started). Without it, the first tick after ``inflow run`` built a home
    took every file for new and started a run with nothing to land."""
    folder = current(settings.layout)
    run_id = read_manifest(folder).get("run_id") if folder is not None else None
    record = instance.get_run_record_by_id(run_id) if run_id else None
    if record is None or record.start_time is None:
        return {}
    started_ns = int(record.start_time * 1_000_000_000)
    return {path: fp for path, fp in file_fingerprints(settings.config).items() if fp[1] < started_ns}


def job_for_new_files(settings: Settings) -> str:
    """The job a drop of files starts: the daily refresh over a home with a publication, the main
    job over one without (the UI opened on a new home): the daily refresh scores with the last
    model trained, which only the main job trains, and would fail its first step."""
    return DAILY_JOB if current(settings.layout) is not None else MAIN_JOB


def build_file_sensor(
    settings: Settings, daily: dg.UnresolvedAssetJobDefinition, main: dg.UnresolvedAssetJobDefinition
) -> dg.SensorDefinition:
    automation = settings.config.automation

    @dg.sensor(
        name="inflow_new_files",
        jobs=[daily, main],
        minimum_interval_seconds=automation.sensor_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING if automation.file_sensor else dg.DefaultSensorStatus.STOPPED,
        description="Starts the daily refresh when a file source's folder gets a new or changed file "
        f"(once it has been still for {automation.debounce_seconds} s); the main job while the home has "
        "never published.",
    )
    def new_files(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        seen = json.loads(context.cursor) if context.cursor else landed_by_last_publication(settings, context.instance)
        changed = settled_changes(time.time_ns(), seen, file_fingerprints(settings.config), automation.debounce_seconds)
        if not changed:
            return dg.SkipReason("no new or changed file has settled")
        key = hashlib.sha256(json.dumps(changed, sort_keys=True).encode()).hexdigest()[:16]
        names = ", ".join(sorted(os.path.basename(p) for p in changed)[:5])
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    run_key=key,
                    job_name=job_for_new_files(settings),
                    tags={"inflow/trigger": "new_files", "inflow/files": names},
                )
            ],
            cursor=json.dumps({**seen, **changed}, sort_keys=True),
        )

    return new_files


def _schedule(
    name: str, job: dg.UnresolvedAssetJobDefinition, schedule: ScheduleConfig, description: str
) -> dg.ScheduleDefinition:
    status = dg.DefaultScheduleStatus.RUNNING if schedule.enabled else dg.DefaultScheduleStatus.STOPPED
    return dg.ScheduleDefinition(
        name=name,
        job=job,
        cron_schedule=schedule.cron,
        execution_timezone=schedule.timezone,
        default_status=status,
        description=description,
    )


def failure_line(job_name: str, step_key: str, error: str | None) -> str:
    """The one line a failed step leaves in the log and sends to the webhook: the error's first
    line, and when that line only introduces a list ("2 batch(es) of erp__invoices rejected:"),
    the list's first item's file and rule ("<file>: <rule>", its detail left to the run's
    summary), so the line names the cause and stays one line."""
    lines = [line.strip() for line in (error or "").splitlines() if line.strip()]
    cause = lines[0] if lines else "failed"
    if cause.endswith(":") and len(lines) > 1:
        cause = f"{cause} {': '.join(lines[1].removeprefix('- ').split(': ')[:2])}"
        cause += f" (and {len(lines) - 2} more line(s))" if len(lines) > 2 else ""
    return f"inflow: {job_name} step {step_key} failed: {cause}"


def post_webhook(url: str, payload: Mapping[str, object], timeout_seconds: float = 10.0) -> int:
    """POST the failure as JSON; returns the HTTP status. The URL comes from an environment
    variable (``automation.failure_webhook_env``) and is never logged. Only http(s) URLs are
    opened (urllib would also read ``file:`` and other schemes)."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise OSError("the failure webhook URL must be http:// or https://")
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        url, data=json.dumps(payload).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout_seconds) as response:  # noqa: S310 (scheme checked above)
        return response.status


def build_failure_hook(automation: AutomationConfig, home: Path | None = None) -> dg.HookDefinition:
    @dg.failure_hook(name="inflow_failure_notice")
    def failure_notice(context: dg.HookContext) -> None:
        """One clear line per failed step, recorded in the audit trail as a gate that blocked the
        run; and, where configured, the same to a webhook."""
        error = context.op_exception
        line = failure_line(context.job_name, context.step_key, str(error) if error else None)
        context.log.error(line)
        if home is not None:
            AuditTrail(home).record("gate", "blocked", run_id=context.run_id, subject=context.step_key, detail=line)
        url = os.environ.get(automation.failure_webhook_env) if automation.failure_webhook_env else None
        if url:
            try:
                post_webhook(
                    url, {"text": line, "run_id": context.run_id, "job": context.job_name, "step": context.step_key}
                )
            except OSError as exc:  # a notice that cannot be sent must not hide the failure itself
                context.log.warning(f"inflow: the failure webhook did not answer ({type(exc).__name__})")

    return failure_notice


def build_automation(settings: Settings) -> dg.Definitions:
    """The jobs, schedules and sensor of one configuration."""
    automation = settings.config.automation
    hooks = {build_failure_hook(automation, settings.home)}
    everything = dg.AssetSelection.all()
    weekly_work = dg.AssetSelection.key_prefixes(FORECAST_SCHEMA) | dg.AssetSelection.assets(*TRAINING)
    main = dg.define_asset_job(
        MAIN_JOB,
        selection=everything,
        executor_def=dg.in_process_executor,
        hooks=hooks,
        description="Land every source, build and test the fact layer, train and score risk, forecast, queue the "
        "ERP's changes, publish when all gates pass.",
    )
    daily = dg.define_asset_job(
        DAILY_JOB,
        selection=everything - weekly_work,
        executor_def=dg.in_process_executor,
        hooks=hooks,
        description="The daily refresh: everything but the cash forecast and the risk model's training (weekly).",
    )
    schedules = [
        _schedule(
            "inflow_daily_refresh_schedule",
            daily,
            automation.daily_refresh,
            "The daily refresh (automation.daily_refresh).",
        ),
        _schedule(
            "inflow_weekly_monday",
            main,
            automation.weekly_forecast,
            "The weekly cash forecast and model training (automation.weekly_forecast).",
        ),
    ]
    return dg.Definitions(jobs=[main, daily], schedules=schedules, sensors=[build_file_sensor(settings, daily, main)])
