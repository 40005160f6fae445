"""One writer per ``INFLOW_HOME``: the run lock.

A run (``inflow run``, or a run launched from the Dagster UI, through the warehouse resource)
takes the lock before it touches the warehouse, the publication or the backups, and holds it to
the end. A second run refuses at once, naming the holder (run id, process, start time), or waits
for it (``inflow run --wait``).

The lock is an ``flock`` on ``run.lock`` in the home. The kernel drops it when its process ends,
however it ends (SIGKILL included), so a lock can never outlive its run; what a dead holder leaves
is only its description in the file, which the next holder reads to name the run that died
(:attr:`Lease.stale`) and then overwrites. The home must be on a local file system (flock over NFS
is not reliable).

Within one process the lock is re-entrant: ``inflow run`` takes it before Dagster starts (so it
can refuse or wait before anything else happens), and the warehouse resource of the run it
starts takes it again, which only records the run id.

The ERP outbox is not covered: it has its own store and its own sender lock
(:mod:`orchestration.defs.writeback.outbox`).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import IO

#: How often a waiting run tries the lock again.
POLL_SECONDS = 0.25


def process_start(pid: int) -> str | None:
    """When a process started (clock ticks since boot, from /proc), so a pid the kernel has since
    given to another process is not taken for the one recorded; None where /proc is absent."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its closing one.
    return stat.rsplit(")", 1)[1].split()[19]


def process_alive(pid: int, started: str | None) -> bool:
    """Whether the process ``pid`` that started at ``started`` is still running on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    return started is None or process_start(pid) in (None, started)


@dataclass(frozen=True)
class Holder:
    """Who holds (or held) a home's lock."""

    pid: int
    host: str
    started_at: str
    process_start: str | None = None
    run_id: str | None = None

    @classmethod
    def this_process(cls, run_id: str | None) -> Holder:
        return cls(
            pid=os.getpid(),
            host=socket.gethostname(),
            started_at=dt.datetime.now().isoformat(timespec="seconds"),
            process_start=process_start(os.getpid()),
            run_id=run_id,
        )

    @classmethod
    def parse(cls, text: str) -> Holder | None:
        """The holder described in a lock file, or None when it holds nothing readable."""
        try:
            data = json.loads(text)
            return cls(**{k: data.get(k) for k in ("pid", "host", "started_at", "process_start", "run_id")})
        except (ValueError, TypeError):
            return None

    def describe(self) -> str:
        run = f"run {self.run_id}" if self.run_id else "a run"
        return f"{run} (pid {self.pid} on {self.host}, started {self.started_at.replace('T', ' ')})"

    def is_alive(self) -> bool | None:
        """True or False on this host; None when the holder ran on another host."""
        if self.host != socket.gethostname():
            return None
        return process_alive(self.pid, self.process_start)


class HomeBusy(RuntimeError):
    """Another run holds this home."""

    def __init__(self, home: Path, holder: Holder | None) -> None:
        self.home, self.holder = home, holder
        who = holder.describe() if holder else "another run (it has not said which yet)"
        super().__init__(
            f"another run is writing this home: {who} holds {home}; wait for it to finish "
            "(inflow run --wait waits for it), or use another --home"
        )


@dataclass
class _Held:
    """This process's hold on one lock file: the open file, how often it was taken, and what the
    first taker found and did (shared with re-entrant takers)."""

    handle: IO[str]
    holder: Holder
    stale: Holder | None
    depth: int = 1
    state: dict[str, object] = field(default_factory=dict)


_HELD: dict[Path, _Held] = {}
_GUARD = threading.Lock()


@dataclass
class Lease:
    """One taking of a home's lock; :meth:`release` gives it back (the last release unlocks)."""

    path: Path
    _held: _Held
    first: bool
    _released: bool = False

    @property
    def holder(self) -> Holder:
        return self._held.holder

    @property
    def stale(self) -> Holder | None:
        """The holder a dead process left in the lock file, if the lock was taken over from one."""
        return self._held.stale

    @property
    def state(self) -> dict[str, object]:
        """Per-hold state shared by re-entrant takers (what the start-of-run upkeep did)."""
        return self._held.state

    def set_run_id(self, run_id: str) -> None:
        """Name the run in the lock file once it is known."""
        with _GUARD:
            if self._held.holder.run_id != run_id:
                self._held.holder = replace(self._held.holder, run_id=run_id)
                _write_holder(self._held.handle, self._held.holder)

    def release(self) -> None:
        with _GUARD:
            if self._released:
                return
            self._released = True
            held = self._held
            held.depth -= 1
            if held.depth:
                return
            del _HELD[self.path]
            try:
                held.handle.seek(0)
                held.handle.truncate()
                held.handle.flush()
            finally:
                fcntl.flock(held.handle, fcntl.LOCK_UN)
                held.handle.close()

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _write_holder(handle: IO[str], holder: Holder) -> None:
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps(asdict(holder)))
    handle.flush()


def read_holder(path: Path) -> Holder | None:
    """What the lock file says about its holder (live or dead); None when empty or absent."""
    try:
        return Holder.parse(path.read_text(encoding="utf-8"))
    except OSError:
        return None


def acquire(
    path: Path,
    run_id: str | None = None,
    wait: float | None = 0,
    on_wait: Callable[[Holder | None], None] | None = None,
) -> Lease:
    """Take the lock at ``path`` for this process.

    ``wait``: 0 refuses at once with :class:`HomeBusy` naming the holder; a number of seconds
    waits at most that long; None waits until the holder is done. ``on_wait`` is told once who
    is waited for.
    """
    path = path.resolve() if path.exists() else path.parent.resolve() / path.name
    with _GUARD:
        held = _HELD.get(path)
        if held:
            held.depth += 1
            lease = Lease(path, held, first=False)
    if held:
        if run_id:
            lease.set_run_id(run_id)
        return lease
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 -- kept open while the lock is held
    try:
        _lock(handle, path, wait, on_wait)
        handle.seek(0)
        stale = Holder.parse(handle.read())
        holder = Holder.this_process(run_id)
        _write_holder(handle, holder)
    except BaseException:
        handle.close()
        raise
    held = _Held(handle, holder, stale)
    with _GUARD:
        _HELD[path] = held
    return Lease(path, held, first=True)


def _lock(handle: IO[str], path: Path, wait: float | None, on_wait: Callable[[Holder | None], None] | None) -> None:
    deadline = None if wait is None else time.monotonic() + wait
    told = False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            holder = read_holder(path)
            if deadline is not None and time.monotonic() >= deadline:
                raise HomeBusy(path.parent, holder) from None
            if on_wait and not told:
                on_wait(holder)
                told = True
            time.sleep(POLL_SECONDS)
