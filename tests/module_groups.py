"""How the suite's test modules are shared between the two xdist workers.

``--dist loadfile`` runs each module whole on one worker, so a module's fixtures are built once.
Two changes to it:

- A session fixture is built once per worker: the published company of
  ``tests/published_home.py`` (generated and run through the main job, about 45 s) was built on
  both, because modules reading it ran on each. Every module that names the fixture is here one
  scope, so it is built once.
- xdist hands out the scopes with the most tests first, so a long module with few tests (the
  daily-refresh benchmark, one test of two minutes) could start last and keep one worker busy
  while the other waited. Here the longest scope still waiting goes next, by the seconds each
  module took in a measured run (``tests/module_seconds.json``; a module not listed took a few
  seconds). The figures only order the work: a stale one costs balance, never a result.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from xdist.scheduler import LoadFileScheduling

#: The scope of every module that reads the session's published company.
PUBLISHED_SCOPE = "published_home"
#: Seconds per test module, from a run of ``make test`` (the slow tests left out) with ``--durations=0``.
MODULE_SECONDS = Path(__file__).with_name("module_seconds.json")
_NAMES_THE_FIXTURE = re.compile(r"\bpublished_home\b")


def published_readers(tests_dir: Path) -> frozenset[str]:
    """The test modules (as xdist names them, relative to the root) that name the fixture."""
    return frozenset(
        f"{tests_dir.name}/{path.name}"
        for path in sorted(tests_dir.glob("test_*.py"))
        if _NAMES_THE_FIXTURE.search(path.read_text(encoding="utf-8"))
    )


def scope_of(nodeid: str, readers: frozenset[str]) -> str:
    """A test's scope: its module, or the published company's scope for a module reading it."""
    module = nodeid.split("::", 1)[0]
    return PUBLISHED_SCOPE if module in readers else module


def scope_seconds(module_seconds: dict[str, float], readers: frozenset[str]) -> dict[str, float]:
    """Expected seconds per scope: each module's, the readers' summed into the published scope."""
    seconds: dict[str, float] = {}
    for module, taken in module_seconds.items():
        scope = scope_of(module, readers)
        seconds[scope] = seconds.get(scope, 0.0) + taken
    return seconds


def longest_first(queue: list[str], seconds: dict[str, float]) -> str:
    """The scope to hand out next: the longest expected; among equals (every unlisted module),
    the first in xdist's own order."""
    return max(queue, key=lambda scope: seconds.get(scope, 0.0))


class ModuleGroupScheduling(LoadFileScheduling):
    """xdist's load-by-module scheduling, with the published company's readers as one scope and
    the longest scope handed out first."""

    def __init__(self, config, log=None) -> None:
        super().__init__(config, log)
        readers = published_readers(Path(config.rootpath) / "tests")
        self._readers = readers
        self._seconds = scope_seconds(json.loads(MODULE_SECONDS.read_text(encoding="utf-8")), readers)

    def _split_scope(self, nodeid: str) -> str:
        return scope_of(nodeid, self._readers)

    def _assign_work_unit(self, node) -> None:
        self.workqueue.move_to_end(longest_first(list(self.workqueue), self._seconds), last=False)
        super()._assign_work_unit(node)
