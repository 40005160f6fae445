"""The home's Dagster event log (orchestration/home/event_log.py): Dagster's SQLite files, with
connections kept open.

Kills: a home whose earlier runs vanish when the storage class changes (other folders than
Dagster's default); engines kept for every run ever read (a long-lived UI process would hold a
file open per run); a wipe that leaves a database open under deleted files; a table found missing once and never
looked for again.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from orchestration.config import SAMPLE_CONFIG
from orchestration.home import event_log
from orchestration.home.event_log import ENGINES_KEPT, PooledSqliteEventLogStorage
from orchestration.settings import Settings


@dg.op
def _noop() -> None:
    """Nothing: a run only to have events."""


@dg.job
def _tiny() -> None:
    _noop()


def _run(instance: dg.DagsterInstance) -> str:
    result = _tiny.execute_in_process(instance=instance)
    assert result.success
    return result.run_id


def test_a_home_made_with_dagsters_default_storage_keeps_its_runs(tmp_path: Path) -> None:
    settings = Settings.load(SAMPLE_CONFIG, tmp_path)
    folder = settings.dagster_home
    folder.mkdir(parents=True)
    (folder / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")  # Dagster's own default storage
    with dg.DagsterInstance.from_config(str(folder)) as instance:
        earlier = _run(instance)
        events = len(instance.all_logs(earlier))
    with dg.DagsterInstance.from_config(str(settings.write_dagster_instance())) as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        assert [r.run_id for r in instance.get_runs()] == [earlier]
        assert len(instance.all_logs(earlier)) == events > 0
        later = _run(instance)
    with dg.DagsterInstance.from_config(str(folder)) as reopened:
        assert {r.run_id for r in reopened.get_runs()} == {earlier, later}
        assert len(reopened.all_logs(later)) > 0


def test_only_the_last_databases_stay_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    created: list[str] = []
    original = event_log.create_engine

    def counting(url: str, **kwargs: object) -> object:
        if not url.endswith("index.db"):  # the index, opened when the storage starts
            created.append(url)
        return original(url, **kwargs)

    monkeypatch.setattr(event_log, "create_engine", counting)
    storage = PooledSqliteEventLogStorage(str(tmp_path / "runs"))
    runs = [str(uuid.uuid4()) for _ in range(ENGINES_KEPT + 2)]
    for run_id in runs:
        for _ in range(3):
            with storage.run_connection(run_id) as conn:
                conn.exec_driver_sql("select 1")
    assert len(created) == len(runs), "one engine per database, however often it is used"
    assert list(storage._engines) == runs[-ENGINES_KEPT:]  # noqa: SLF001 (the cache is the subject)
    with storage.run_connection(runs[0]) as conn:  # evicted: opened again
        conn.exec_driver_sql("select 1")
    assert len(created) == len(runs) + 1
    storage.wipe()
    assert set(storage._engines) <= {"index"}, "no run database stays open"  # noqa: SLF001
    assert not list((tmp_path / "runs").glob("*-*.db")), "the run databases are deleted"
    storage.dispose()


def test_a_present_table_is_asked_for_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Dagster asks whether the index has a table before storing every check result; a table that
    is there is asked for once, one that is not is asked for again (a migration may add it)."""
    asked: list[str] = []
    original = SqliteEventLogStorage.has_table

    def counting(self: SqliteEventLogStorage, table_name: str) -> bool:
        asked.append(table_name)
        return original(self, table_name)

    monkeypatch.setattr(SqliteEventLogStorage, "has_table", counting)
    storage = PooledSqliteEventLogStorage(str(tmp_path / "runs"))
    asked.clear()  # whatever the storage asked while starting
    assert all(storage.supports_asset_checks for _ in range(5))
    assert asked == ["asset_check_executions"]
    assert not any(storage.has_table("not_yet_there") for _ in range(2))
    with storage.index_connection() as conn:
        conn.exec_driver_sql("create table not_yet_there (x integer)")
    assert storage.has_table("not_yet_there")
    assert asked.count("not_yet_there") == 3
    storage.dispose()
