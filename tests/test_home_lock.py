"""One writer per home: the run lock refuses a second run naming the first, waits when asked, is
re-entrant within a process, and is taken over from a killed holder (whose run it names)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dagster as dg
import pytest

from orchestration.defs.writeback.outbox import OutboxStore
from orchestration.home import lock
from orchestration.home.runs import PROCESS_TAG
from orchestration.resources import WarehouseResource

HOLD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from orchestration.home import lock
    lease = lock.acquire(Path(sys.argv[1]), run_id=sys.argv[2])
    print("held", flush=True)
    time.sleep(float(sys.argv[3]))
    lease.release()
    """
)
TRY = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from orchestration.home import lock
    try:
        lock.acquire(Path(sys.argv[1]), run_id="second")
    except lock.HomeBusy as exc:
        print(exc)
        raise SystemExit(4)
    print("acquired")
    """
)


def _python(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _holding(path: Path, run_id: str, seconds: float) -> subprocess.Popen:
    proc = _python(HOLD, str(path), run_id, str(seconds))
    assert proc.stdout.readline().strip() == "held", proc.stderr.read()
    return proc


def test_a_second_process_is_refused_with_the_holder_named(tmp_path: Path) -> None:
    path = tmp_path / "run.lock"
    with lock.acquire(path, run_id="run-first") as lease:
        other = _python(TRY, str(path))
        out, err = other.communicate(timeout=30)
        assert other.returncode == 4, out + err
        assert "run run-first" in out and f"pid {os.getpid()}" in out and "started 20" in out
        assert str(tmp_path) in out and "--wait" in out
        assert lease.first
    again = _python(TRY, str(path))
    assert again.communicate(timeout=30)[0].strip() == "acquired", "released with the lease"


def test_the_lock_is_reentrant_within_a_process(tmp_path: Path) -> None:
    path = tmp_path / "run.lock"
    outer = lock.acquire(path)
    inner = lock.acquire(path, run_id="run-42")
    assert not inner.first and outer.holder.run_id == "run-42", "the inner claim names the run"
    assert lock.read_holder(path).run_id == "run-42"
    inner.release()
    assert _python(TRY, str(path)).wait(timeout=30) == 4, "still held by the outer lease"
    outer.release()
    outer.release()  # twice is harmless
    assert lock.read_holder(path) is None, "a clean release leaves no holder behind"
    assert _python(TRY, str(path)).wait(timeout=30) == 0


def test_a_killed_holder_is_taken_over_and_named(tmp_path: Path) -> None:
    path = tmp_path / "run.lock"
    holder = _holding(path, "run-killed", 60)
    assert lock.read_holder(path).is_alive() is True
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    started = time.monotonic()
    with lock.acquire(path, run_id="run-next") as lease:
        assert time.monotonic() - started < 1, "the kernel dropped the dead process's lock"
        assert lease.stale is not None and lease.stale.run_id == "run-killed" and lease.stale.pid == holder.pid
        assert lease.stale.is_alive() is False
        assert lock.read_holder(path).run_id == "run-next"


def test_wait_waits_for_the_holder_and_gives_up_at_its_limit(tmp_path: Path) -> None:
    path = tmp_path / "run.lock"
    holder = _holding(path, "run-busy", 2.0)
    with pytest.raises(lock.HomeBusy, match="run run-busy"):
        lock.acquire(path, wait=0.3)
    told = []
    started = time.monotonic()
    with lock.acquire(path, run_id="run-patient", wait=30, on_wait=told.append) as lease:
        waited = time.monotonic() - started
        assert lease.first and lease.holder.run_id == "run-patient"
    assert 0.5 < waited < 10
    assert [h.run_id for h in told] == ["run-busy"], "told once, naming the holder"
    holder.wait(timeout=10)


def test_a_pid_reused_by_another_process_is_not_the_holder() -> None:
    me = os.getpid()
    assert lock.process_alive(me, lock.process_start(me))
    if lock.process_start(me) is not None:
        assert not lock.process_alive(me, "1"), "same pid, other start time: another process"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert not lock.process_alive(dead.pid, None)


@dg.asset
def touched(warehouse: WarehouseResource) -> None:
    with warehouse.connection() as con:
        con.execute("select 1").fetchall()


def test_a_dagster_run_claims_the_home_through_its_warehouse_resource(tmp_path: Path) -> None:
    """Runs launched from the UI (not through `inflow run`) take the same lock, in the warehouse
    resource: refused while another run holds the home, tagged with their process, released at the end."""
    home = tmp_path / "home"
    resource = WarehouseResource(path=str(home / "warehouse.duckdb"), home=str(home))
    job = dg.Definitions(assets=[touched], resources={"warehouse": resource}).resolve_implicit_global_asset_job_def()
    (home / "dagster").mkdir(parents=True)
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        holder = _holding(home / "run.lock", "run-cli", 60)
        try:
            refused = job.execute_in_process(instance=instance, raise_on_error=False)
        finally:
            holder.kill()
            holder.wait()
        assert not refused.success
        errors = [
            str(e.event_specific_data.error)
            for e in refused.all_events
            if getattr(e.event_specific_data, "error", None)
        ]
        assert any("another run is writing this home: run run-cli" in e for e in errors), errors

        done = job.execute_in_process(instance=instance)
        assert done.success
        assert PROCESS_TAG in instance.get_run_by_id(done.run_id).tags
    assert lock.read_holder(home / "run.lock") is None, "released when the run ended"


def test_the_outbox_is_not_covered_by_the_run_lock(tmp_path: Path) -> None:
    """The closed loop's outbox has its own store and sender lock: usable while a run holds the home."""
    home = tmp_path / "home"
    OutboxStore.at_home(home).close()  # what an earlier run's outbox step left
    holder = _holding(home / "run.lock", "run-busy", 60)
    try:
        listed = subprocess.run(
            [sys.executable, "-m", "orchestration.cli", "outbox", "--home", str(home), "list"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        holder.kill()
        holder.wait()
    assert listed.returncode == 0, listed.stderr
    assert "0 change(s)" in listed.stdout


def test_inflow_run_waits_when_asked_and_says_for_whom(tmp_path: Path) -> None:
    home = tmp_path / "home"
    holder = _holding(home / "run.lock", "run-long", 60)
    try:
        started = time.monotonic()
        waited = subprocess.run(
            [sys.executable, "-m", "orchestration.cli", "run", "--home", str(home), "--wait", "1.5"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        holder.kill()
        holder.wait()
    assert waited.returncode == 4, waited.stderr
    assert "inflow: waiting for run run-long" in waited.stderr and "another run is writing this home" in waited.stderr
    assert time.monotonic() - started >= 1.5
