"""dbt dies with the run that started it: a guarded child is killed by the kernel when its parent
is SIGKILLed — also when the parent dies before the guard could ask for that — where an unguarded
one lives on as an orphan."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only")

#: The child: guarded (or not), then replaced by a long sleep, as the guard replaces itself with dbt.
CHILD = textwrap.dedent(
    """
    import os, sys
    from orchestration.defs.transform.dbt_guard import die_with_parent
    if sys.argv[1] == "guarded":
        die_with_parent(os.getppid())
    os.execv("/bin/sleep", ["sleep", "120"])
    """
)
#: The parent (the run's process): starts the child reading its output, as dagster-dbt reads dbt's.
PARENT = textwrap.dedent(
    """
    import subprocess, sys
    child = subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]], stdout=subprocess.PIPE)
    print(child.pid, flush=True)
    child.stdout.read()
    """
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()  # a zombie waiting for init to reap it is gone too
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _orphan_survives(mode: str, early: bool = False) -> tuple[bool, int]:
    """Kill the parent once the child runs sleep, or (``early``) as soon as the child exists."""
    parent = subprocess.Popen([sys.executable, "-c", PARENT, CHILD, mode], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    deadline = time.monotonic() + 10
    while not early and time.monotonic() < deadline and Path(f"/proc/{child}/exe").resolve().name != "sleep":
        time.sleep(0.05)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.05)
    return _alive(child), child


def test_a_guarded_child_dies_with_its_parent() -> None:
    survived, _ = _orphan_survives("guarded")
    assert not survived


def test_a_guarded_child_whose_parent_died_before_the_guard_ran_exits() -> None:
    for _ in range(3):
        survived, _ = _orphan_survives("guarded", early=True)
        assert not survived


def test_without_the_guard_the_child_is_orphaned() -> None:
    survived, child = _orphan_survives("plain")
    try:
        assert survived, "control: the kernel does not kill children by itself"
    finally:
        if survived:
            os.kill(child, signal.SIGKILL)
