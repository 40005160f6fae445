"""Claiming a home for a run: the run lock, then what has to be true before the run writes.

:func:`claim_home` is the one entry point, for ``inflow run`` and for runs launched from the
Dagster UI alike (the warehouse resource calls it when the run starts). Under the lock, once per
hold, :func:`start_of_run`:

1. reports failed the runs a dead process left ``STARTED`` (:mod:`orchestration.home.runs`);
2. removes what an interrupted publish left and moves a publication of the first release into a
   publication folder (:mod:`orchestration.defs.publish.publication`);
3. checks the warehouse, moving a damaged one aside and rebuilding it from the newest backup
   (:mod:`orchestration.home.recovery`);
4. migrates the warehouse to this release's schema version (:mod:`orchestration.home.migrations`);
5. prunes the Dagster run history to ``retention.runs_kept`` runs.

What it did is returned as notes, which the caller prints or logs as warnings.
"""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg

from orchestration.defs.publish.publication import clean_interrupted, migrate_legacy
from orchestration.home import lock
from orchestration.home.migrations import migrate_warehouse
from orchestration.home.recovery import recover_warehouse
from orchestration.home.runs import fail_dead_runs, process_tag, prune_runs
from orchestration.settings import HomeLayout
from orchestration.warehouse import connect

_NOTES = "notes"


def start_of_run(
    layout: HomeLayout, instance: dg.DagsterInstance, run_id: str | None, runs_kept: int, memory_limit: str | None
) -> list[str]:
    """Everything a run needs settled before it writes; see the module docstring. Returns notes."""
    notes = fail_dead_runs(instance, run_id)
    leftovers = clean_interrupted(layout)
    if leftovers:
        notes.append(f"removed what an interrupted publish left behind: {', '.join(sorted(leftovers))}")
    notes += migrate_legacy(layout)
    notes += recover_warehouse(layout, memory_limit)
    con = connect(layout.warehouse, memory_limit=memory_limit)
    try:
        notes += migrate_warehouse(con)
    finally:
        con.close()
    prune_runs(instance, layout.dagster, runs_kept)
    return notes


def claim_home(
    layout: HomeLayout,
    instance: dg.DagsterInstance,
    run_id: str | None,
    runs_kept: int,
    memory_limit: str | None = None,
    wait: float | None = 0,
    on_wait: Callable[[lock.Holder | None], None] | None = None,
) -> tuple[lock.Lease, list[str]]:
    """Take the home's run lock for ``run_id`` and settle the home (once per hold).

    Returns the lease (release it when the run ends) and the notes of the start-of-run upkeep,
    which are empty for a re-entrant claim (the first claimer already reported them).
    """
    lease = lock.acquire(layout.lock, run_id, wait, on_wait)
    try:
        if run_id and instance.get_run_by_id(run_id):
            instance.add_run_tags(run_id, process_tag(lease.holder))
        if _NOTES in lease.state:
            return lease, []
        notes = []
        if lease.stale and lease.stale.is_alive() is False:
            notes.append(f"took over the run lock from {lease.stale.describe()}, whose process is gone")
        notes += start_of_run(layout, instance, run_id, runs_kept, memory_limit)
        lease.state[_NOTES] = notes
        return lease, notes
    except BaseException:
        lease.release()
        raise
