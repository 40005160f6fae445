"""The suite's scheduling between xdist workers (tests/module_groups.py): the modules reading the
session's published company form one scope, every other module is its own, and the longest scope
still waiting is handed out next."""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path

from tests.module_groups import (
    MODULE_SECONDS,
    PUBLISHED_SCOPE,
    ModuleGroupScheduling,
    longest_first,
    published_readers,
    scope_of,
    scope_seconds,
)

TESTS = Path(__file__).parent


def test_the_readers_of_the_published_company_are_found_by_name(tmp_path: Path) -> None:
    (tmp_path / "test_reads.py").write_text("def test_x(published_home): ...\n")
    (tmp_path / "test_other.py").write_text("def test_y(published_homes_elsewhere): ...\n")
    (tmp_path / "helper.py").write_text("published_home = None\n")  # not a test module
    assert published_readers(tmp_path) == {f"{tmp_path.name}/test_reads.py"}
    readers = published_readers(TESTS)
    assert {"tests/test_review_pack.py", "tests/test_spark_engine.py", "tests/test_browser.py"} <= readers
    assert "tests/test_kpis.py" not in readers


def test_a_reader_shares_the_published_scope_and_any_other_module_is_its_own() -> None:
    readers = frozenset({"tests/test_review_pack.py"})
    assert scope_of("tests/test_review_pack.py::test_a[1]", readers) == PUBLISHED_SCOPE
    assert scope_of("tests/test_pipeline.py::test_b", readers) == "tests/test_pipeline.py"
    assert scope_of("tests/test_pipeline.py::test_c[x::y]", readers) == "tests/test_pipeline.py"


def test_the_published_scope_sums_its_modules_and_the_longest_scope_goes_first() -> None:
    readers = frozenset({"tests/test_review_pack.py", "tests/test_spark_engine.py"})
    measured = {"tests/test_review_pack.py": 100.0, "tests/test_spark_engine.py": 200.0, "tests/test_faults.py": 250.0}
    seconds = scope_seconds(measured, readers)
    assert seconds == {PUBLISHED_SCOPE: 300.0, "tests/test_faults.py": 250.0}
    queue = ["tests/test_config.py", "tests/test_faults.py", PUBLISHED_SCOPE, "tests/test_bench_daily.py"]
    assert longest_first(queue, seconds) == PUBLISHED_SCOPE
    assert longest_first(queue[:2], seconds) == "tests/test_faults.py"
    assert longest_first(["tests/test_config.py", "tests/test_audit.py"], seconds) == "tests/test_config.py"


def test_every_measured_module_exists() -> None:
    """A renamed or deleted module's figure would order nothing: the table names real modules."""
    measured = json.loads(MODULE_SECONDS.read_text(encoding="utf-8"))
    assert measured and all((TESTS.parent / module).is_file() for module in measured)


class _Worker:
    """What the scheduler asks of an xdist worker: its collection, and tests to run."""

    def __init__(self) -> None:
        self.sent: list[list[int]] = []

    def send_runtest_some(self, indices: list[int]) -> None:
        self.sent.append(indices)


def test_the_scheduler_hands_out_the_longest_scope_first() -> None:
    scheduler = ModuleGroupScheduling.__new__(ModuleGroupScheduling)  # only the queue is exercised
    scheduler._seconds = {PUBLISHED_SCOPE: 300.0, "tests/test_b.py": 50.0}  # noqa: SLF001
    scheduler.workqueue = OrderedDict(
        [("tests/test_a.py", {"a": False}), (PUBLISHED_SCOPE, {"p": False}), ("tests/test_b.py", {"b": False})]
    )
    scheduler.assigned_work = {}
    workers = _Worker(), _Worker(), _Worker()
    scheduler.registered_collections = dict.fromkeys(workers, ["a", "p", "b"])
    for worker in workers:
        scheduler._assign_work_unit(worker)  # noqa: SLF001 (the method xdist calls)
    assert [w.sent for w in workers] == [[[1]], [[2]], [[0]]]
