"""dbt as a child process that dies with the run that started it.

dagster-dbt runs dbt as a subprocess. When the run's process is killed (SIGKILL, the OOM killer)
a plain child lives on, orphaned, writing the warehouse and holding DuckDB's lock for as long as
the build takes, so the next run fails to open the warehouse. dbt is therefore started through
this module (``python -m orchestration.defs.transform.dbt_guard <dbt arguments>``), which asks
the Linux kernel to send it SIGKILL when its parent dies (``prctl(PR_SET_PDEATHSIG)``), checks the
parent did not die before that request, and then replaces itself with dbt (``execv``: same
process, so the request, the pipes and dagster-dbt's interrupt forwarding all apply to dbt).

A parent that died before the request cannot be told by its pid (by then the guard's parent is
already the reaper). It is told by the pipe dagster-dbt reads dbt's output from: the kernel closes
a dead process's end of it, and ``poll`` on the guard's end then reports an error.

Why not dbt in-process through its Python API (``dbtRunner``): dagster-dbt's events (asset
materializations, one check result per dbt test) are built from the subprocess' structured log
stream; dbt's globals (flags, adapters, the DuckDB connection with its own settings) would live in
the Dagster process and in the long-lived UI code server; and a crash inside dbt's DuckDB would
take the run's process down with no failure recorded. A guarded subprocess keeps the isolation
and still cannot outlive its run.

The guard also starts dbt in its profile's folder (``DBT_PROFILES_DIR``, which dagster-dbt sets
for every command; the project is found through ``DBT_PROJECT_DIR``): the home's profile names
the warehouse relative to that folder (:meth:`orchestration.settings.Settings.write_dbt_profile`).

The kernel's "parent" is the thread that started dbt; Dagster runs steps of the in-process
executor on the thread that runs the job, which outlives the step. On systems without
``PR_SET_PDEATHSIG`` (macOS) dbt starts unguarded.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import stat
import sys
from pathlib import Path

PR_SET_PDEATHSIG = 1
#: dbt of this interpreter's environment (a venv need not be on PATH).
DBT = Path(sys.executable).parent / "dbt"


def reader_gone(fd: int) -> bool:
    """Whether ``fd`` is a pipe whose reading end is closed (its reader died)."""
    if not stat.S_ISFIFO(os.fstat(fd).st_mode):
        return False
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def die_with_parent(parent: int) -> None:
    """Have the kernel kill this process when its parent dies; exit at once if it already has
    (``parent`` is the parent pid seen at start, and stdout the pipe the parent reads)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent or reader_gone(sys.stdout.fileno()):
        os._exit(128 + signal.SIGKILL)


def enter_profile_folder() -> None:
    """Make the profile's folder dbt's working folder, where the profile's relative warehouse path
    points; without ``DBT_PROFILES_DIR`` (dbt started by hand) the folder is left as it is."""
    folder = os.environ.get("DBT_PROFILES_DIR")
    if folder:
        os.chdir(folder)


def main() -> None:
    parent = os.getppid()
    die_with_parent(parent)
    enter_profile_folder()
    os.execv(DBT, [str(DBT), *sys.argv[1:]])  # noqa: S606 (dbt by its absolute path, the arguments dagster-dbt built)


if __name__ == "__main__":
    main()
