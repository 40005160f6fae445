"""The suite's scheduling between xdist workers (tests/module_groups.py): the modules reading the
session's published company form one scope, handed out first; every other module is its own."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from tests.module_groups import PUBLISHED_SCOPE, ModuleGroupScheduling, published_readers, scope_of

TESTS = Path(__file__).parent


def test_the_readers_of_the_published_company_are_found_by_name(tmp_path: Path) -> None:
    (tmp_path / "test_reads.py").write_text("def test_x(published_home): ...\n")
    (tmp_path / "test_other.py").write_text("def test_y(published_homes_elsewhere): ...\n")
    (tmp_path / "helper.py").write_text("published_home = None\n")  # not a test module
    assert published_readers(tmp_path) == {f"{tmp_path.name}/test_reads.py"}
    readers = published_readers(TESTS)
    assert {"tests/test_review_pack.py", "tests/test_spark_engine.py", "tests/test_browser.py"} <= readers
    assert "tests/test_pipeline.py" not in readers


def test_a_reader_shares_the_published_scope_and_any_other_module_is_its_own() -> None:
    readers = frozenset({"tests/test_review_pack.py"})
    assert scope_of("tests/test_review_pack.py::test_a[1]", readers) == PUBLISHED_SCOPE
    assert scope_of("tests/test_pipeline.py::test_b", readers) == "tests/test_pipeline.py"
    assert scope_of("tests/test_pipeline.py::test_c[x::y]", readers) == "tests/test_pipeline.py"


class _Worker:
    """What the scheduler asks of an xdist worker: its collection, and tests to run."""

    def __init__(self) -> None:
        self.sent: list[list[int]] = []

    def send_runtest_some(self, indices: list[int]) -> None:
        self.sent.append(indices)


def test_the_published_scope_is_handed_out_first() -> None:
    scheduler = ModuleGroupScheduling.__new__(ModuleGroupScheduling)  # only the queue is exercised
    scheduler.workqueue = OrderedDict(
        [("tests/test_a.py", {"a": False}), (PUBLISHED_SCOPE, {"p": False}), ("tests/test_b.py", {"b": False})]
    )
    scheduler.assigned_work = {}
    first, second = _Worker(), _Worker()
    scheduler.registered_collections = {first: ["a", "p", "b"], second: ["a", "p", "b"]}
    scheduler._assign_work_unit(first)  # noqa: SLF001 (the method xdist calls)
    scheduler._assign_work_unit(second)  # noqa: SLF001
    assert first.sent == [[1]] and list(scheduler.assigned_work[first]) == [PUBLISHED_SCOPE]
    assert second.sent == [[0]], "then the others, in xdist's order"
