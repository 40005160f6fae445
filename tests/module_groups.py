"""How the suite's test modules are shared between the two xdist workers.

``--dist loadfile`` runs each module whole on one worker, so a module's fixtures are built once.
A session fixture is built once per worker, though: the published company of
``tests/published_home.py`` (generated and run through the main job, about 45 s) was built on
both workers, because modules reading it ran on each. Here every module that names the fixture is
one scope, so it is built once. That scope (the Spark build, the review pack, the browser, about
a quarter of the suite's time) is handed out first, so the other worker spends that time on the
other modules instead of waiting at the end for a long scope handed out last.
"""

from __future__ import annotations

import re
from pathlib import Path

from xdist.scheduler import LoadFileScheduling

#: The scope of every module that reads the session's published company.
PUBLISHED_SCOPE = "published_home"
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


class ModuleGroupScheduling(LoadFileScheduling):
    """xdist's load-by-module scheduling, with the published company's readers as one module."""

    def __init__(self, config, log=None) -> None:
        super().__init__(config, log)
        self._readers = published_readers(Path(config.rootpath) / "tests")

    def _split_scope(self, nodeid: str) -> str:
        return scope_of(nodeid, self._readers)

    def _assign_work_unit(self, node) -> None:
        if PUBLISHED_SCOPE in self.workqueue:
            self.workqueue.move_to_end(PUBLISHED_SCOPE, last=False)
        super()._assign_work_unit(node)
