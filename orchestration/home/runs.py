"""The Dagster run history under a home: runs whose process died, and how much history is kept.

Every run that claims a home is tagged with the process running it (``inflow/process``:
host, pid and the process's start time). A run still ``STARTED`` whose process is gone was killed
(SIGKILL, out of memory, a power cut) and will never finish; the next run that claims the home
reports it failed, so the UI and ``inflow run`` stop showing it as running. Only runs tagged on
this host are judged; a run launched from the UI and killed before it claimed the home carries no
tag, and is left to Dagster's own run monitoring (the daemon), where it is configured.

Each run's event log takes about 3.5 MB (SQLite). ``retention.runs_kept`` finished runs are kept;
older ones are deleted through the instance, together with their event-log shard and compute
logs (the files Dagster's default SQLite storage and local compute-log manager keep per run).
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import dagster as dg

from orchestration.home.lock import Holder, process_alive

PROCESS_TAG = "inflow/process"
_UNFINISHED = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
_FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]


def process_tag(holder: Holder) -> dict[str, str]:
    """The tag naming the process that runs a run."""
    return {PROCESS_TAG: f"{holder.host}:{holder.pid}:{holder.process_start or ''}"}


def _process_of(run: dg.DagsterRun) -> tuple[str, int, str | None] | None:
    value = run.tags.get(PROCESS_TAG)
    if not value:
        return None
    host, pid, started = value.rsplit(":", 2)
    return host, int(pid), started or None


def fail_dead_runs(instance: dg.DagsterInstance, this_run_id: str | None = None) -> list[str]:
    """Report failed every unfinished run whose process (on this host) is gone; returns one line
    per run so marked."""
    marked = []
    host = socket.gethostname()
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=_UNFINISHED)):
        process = _process_of(run)
        if run.run_id == this_run_id or process is None or process[0] != host:
            continue
        _, pid, started = process
        if process_alive(pid, started):
            continue
        message = (
            f"the process running this run (pid {pid}) ended without finishing it (killed, or the machine "
            "stopped); marked failed by the next run on this home"
        )
        instance.report_run_failed(run, message=message)
        marked.append(
            f"run {run.run_id} of {run.job_name} was left {run.status.value} by a dead process: marked failed"
        )
    return marked


def prune_runs(instance: dg.DagsterInstance, dagster_home: Path, keep: int) -> int:
    """Delete finished runs beyond the newest ``keep``, with their event-log shards and compute
    logs; returns how many were deleted."""
    finished = instance.get_runs(filters=dg.RunsFilter(statuses=_FINISHED))
    old = finished[keep:]
    for run in old:
        instance.delete_run(run.run_id)
        for shard in (dagster_home / "history" / "runs").glob(f"{run.run_id}.db*"):
            shard.unlink(missing_ok=True)
        shutil.rmtree(dagster_home / "storage" / run.run_id, ignore_errors=True)
    return len(old)
