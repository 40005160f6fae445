"""The run history of a home: a run whose process was killed is reported failed by the next
start (and only such a run), and history beyond retention.runs_kept is deleted with its files."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import dagster as dg

from orchestration.home.lock import Holder
from orchestration.home.runs import PROCESS_TAG, fail_dead_runs, process_tag, prune_runs

#: A process that starts a run tagged with itself and is SIGKILLed by its own step: the run stays STARTED.
KILLED_RUN = textwrap.dedent(
    """
    import os, signal, sys
    import dagster as dg
    from orchestration.home.lock import Holder
    from orchestration.home.runs import process_tag

    @dg.op
    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    @dg.job
    def killed_job():
        die()

    with dg.DagsterInstance.from_config(sys.argv[1]) as instance:
        killed_job.execute_in_process(instance=instance, tags=process_tag(Holder.this_process(None)))
    """
)


@dg.op
def noop() -> None:
    pass


@dg.job
def small_job() -> None:
    noop()


def _instance(folder: Path) -> dg.DagsterInstance:
    folder.mkdir(parents=True, exist_ok=True)
    return dg.DagsterInstance.from_config(str(folder))


def test_a_run_whose_process_was_killed_is_marked_failed_once(tmp_path: Path) -> None:
    dagster_home = tmp_path / "dagster"
    with _instance(dagster_home):
        pass
    killed = subprocess.run([sys.executable, "-c", KILLED_RUN, str(dagster_home)], capture_output=True, timeout=120)
    assert killed.returncode == -9, killed.stderr
    with _instance(dagster_home) as instance:
        (run,) = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.STARTED and PROCESS_TAG in run.tags
        live = instance.create_run_for_job(small_job, tags=process_tag(Holder.this_process("live")))
        instance.report_run_canceling(live)  # unfinished, and its process (this one) is alive
        untagged = instance.create_run_for_job(small_job)

        notes = fail_dead_runs(instance)

        assert len(notes) == 1 and run.run_id in notes[0] and "dead process" in notes[0]
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(live.run_id).status == dg.DagsterRunStatus.CANCELING
        assert instance.get_run_by_id(untagged.run_id).status == dg.DagsterRunStatus.NOT_STARTED
        failure = [e for e in instance.all_logs(run.run_id) if e.dagster_event and e.dagster_event.is_run_failure]
        assert "pid" in failure[-1].dagster_event.message and "killed" in failure[-1].dagster_event.message
        assert fail_dead_runs(instance) == [], "reported once"


def test_history_beyond_retention_is_deleted_with_its_files(tmp_path: Path) -> None:
    dagster_home = tmp_path / "dagster"
    with _instance(dagster_home) as instance:
        ids = [small_job.execute_in_process(instance=instance).run_id for _ in range(5)]
        unfinished = instance.create_run_for_job(small_job)
        shards = dagster_home / "history" / "runs"
        assert all((shards / f"{run_id}.db").exists() for run_id in ids)
        assert all((dagster_home / "storage" / run_id).is_dir() for run_id in ids)

        assert prune_runs(instance, dagster_home, keep=2) == 3

        kept = {r.run_id for r in instance.get_runs()}
        assert kept == {*ids[-2:], unfinished.run_id}, "the newest finished runs, and any unfinished one"
        for run_id in ids[:3]:
            assert not (shards / f"{run_id}.db").exists() and not (dagster_home / "storage" / run_id).exists()
            assert instance.get_run_by_id(run_id) is None
        assert all((shards / f"{run_id}.db").exists() for run_id in ids[-2:])
        assert prune_runs(instance, dagster_home, keep=2) == 0
