"""Database emitter: inserts into an ERP staging table, against the suite's real PostgreSQL (and SQLite)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

from orchestration.defs.writeback.changes import Change
from orchestration.defs.writeback.emitters import database
from orchestration.defs.writeback.outbox import OutboxStore, utc_now
from orchestration.defs.writeback.sender import TargetReport, _StoreRecorder, make_emitter, send
from orchestration.defs.writeback.settings import ChangeKind, WritebackConfig

AS_OF = dt.date(2026, 11, 27)


def _config(table: str, schema: str | None = None, url: str = "${INFLOW_TEST_STAGING_URL}") -> WritebackConfig:
    target = {
        "type": "database",
        "url": url,
        "table": table,
        "owner": "erp-dba@x.example",
        "kinds": ["note", "risk_band"],
        "batch_size": 3,
    }
    if schema:
        target["schema"] = schema
    return WritebackConfig.model_validate({"targets": {"erp_db": target}, "approval": {"risk_band": "auto"}})


def _changes(count: int) -> list[Change]:
    return [
        Change(ChangeKind.NOTE, f"ACT-{i}", "note.text", {"text": f"=note {i}", "author": "Ann"})
        for i in range(1, count + 1)
    ]


def _staged(url: str, table: str, schema: str | None) -> list[tuple]:
    engine = sa.create_engine(url)
    name = f"{schema}.{table}" if schema else table
    with engine.connect() as con:
        rows = con.execute(
            sa.text(f"select idempotency_key, process_status, processed_at, value from {name} order by sequence")
        ).all()
    engine.dispose()
    return rows


class _KilledAfterCommit(Exception):
    pass


class _DiesAfterDelivery(_StoreRecorder):
    """Records attempts, then 'dies' right after the target committed and before the outbox hears of it."""

    def delivered(self, keys, acknowledged, detail):
        raise _KilledAfterCommit


def _crash_after_commit(store: OutboxStore, config: WritebackConfig, home) -> None:
    emitter = make_emitter("erp_db", config.targets["erp_db"], home)
    batch = store.claim_batch("erp_db", 3)
    with pytest.raises(_KilledAfterCommit):
        emitter.deliver(batch, _DiesAfterDelivery(store, "erp_db", 10, TargetReport(), utc_now))


def _check_crash_then_resume(tmp_path, url: str, table: str, schema: str | None) -> None:
    config = _config(table, schema)
    with OutboxStore.at_home(tmp_path) as store:
        store.enqueue(_changes(5), config, AS_OF)
        _crash_after_commit(store, config, tmp_path)
        assert len(_staged(url, table, schema)) == 3, "the first batch reached the staging table"
        assert [r.status for r in store.rows()] == ["approved"] * 5, "...but the outbox never heard"
        engine = sa.create_engine(url)
        with engine.begin() as con:  # the ERP's import job takes the first row before the sender comes back
            con.execute(
                sa.text(
                    f"update {f'{schema}.{table}' if schema else table} set process_status = 'ok', "
                    "processed_at = current_timestamp where sequence = 1"
                )
            )
        engine.dispose()
        report = send(store, config, tmp_path)
        assert report.delivered == 5 and report.targets["erp_db"].batches == 2
        staged = _staged(url, table, schema)
        assert [k for k, *_ in staged] == [r.idempotency_key for r in store.rows()], "each change once, in order"
        assert staged[0][1] == "ok" and staged[0][2] is not None, "an imported row is not put back for re-import"
        assert [r.status for r in store.rows()] == ["acknowledged"] + ["sent"] * 4, "row 1 was imported"
        assert staged[0][3] == "=note 1", "a database cell is data, not a spreadsheet: stored as is"


@pytest.fixture
def pg(postgres_url, monkeypatch):
    monkeypatch.setenv("INFLOW_TEST_STAGING_URL", postgres_url)
    engine = sa.create_engine(postgres_url)
    with engine.begin() as con:
        con.execute(sa.text("create schema if not exists erp_staging"))
    engine.dispose()
    return postgres_url


@pytest.mark.postgres
def test_postgres_staging_receives_each_change_once_across_a_crash(tmp_path, pg):
    _check_crash_then_resume(tmp_path, pg, f"inflow_changes_{uuid.uuid4().hex[:8]}", "erp_staging")


@pytest.mark.postgres
def test_postgres_generic_insert_path_is_idempotent_too(tmp_path, pg, monkeypatch):
    monkeypatch.setattr(database, "UPSERT_DIALECTS", frozenset())
    _check_crash_then_resume(tmp_path, pg, f"inflow_changes_{uuid.uuid4().hex[:8]}", "erp_staging")


@pytest.mark.postgres
def test_postgres_import_results_acknowledge_fail_and_requeue(tmp_path, pg):
    table = f"inflow_changes_{uuid.uuid4().hex[:8]}"
    config = _config(table, "erp_staging")
    with OutboxStore.at_home(tmp_path) as store:
        store.enqueue(_changes(3), config, AS_OF)
        send(store, config, tmp_path)
        k = [r.idempotency_key for r in store.rows()]
        engine = sa.create_engine(pg)
        with engine.begin() as con:  # the ERP's import job
            con.execute(
                sa.text(
                    f"update erp_staging.{table} set processed_at = now(), process_status = 'ok' "
                    "where idempotency_key = :k"
                ),
                {"k": k[0]},
            )
            con.execute(
                sa.text(
                    f"update erp_staging.{table} set processed_at = now(), process_status = 'error', "
                    "process_message = 'customer blocked' where idempotency_key = :k"
                ),
                {"k": k[1]},
            )
        report = send(store, config, tmp_path)
        assert report.targets["erp_db"].acknowledged_by_poll == 2
        assert [(r.status, r.last_error) for r in store.rows()] == [
            ("acknowledged", None),
            ("failed", "import error: customer blocked"),
            ("sent", None),
        ]
        store.approve([k[1]], "ann")
        assert send(store, config, tmp_path).delivered == 1
        staged = {key: (status, processed) for key, status, processed, _ in _staged(pg, table, "erp_staging")}
        assert len(staged) == 3
        assert staged[k[1]] == (None, None), "the refused change is back in the queue for the ERP's import"
        assert staged[k[0]][0] == "ok", "an imported change is left alone"
        engine.dispose()


def test_sqlite_staging_receives_each_change_once_across_a_crash(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'erp.sqlite'}"
    monkeypatch.setenv("INFLOW_TEST_STAGING_URL", url)
    _check_crash_then_resume(tmp_path, url, "inflow_changes", None)


def test_an_unreachable_database_keeps_changes_queued_without_its_password(tmp_path, monkeypatch):
    monkeypatch.setenv("INFLOW_TEST_STAGING_URL", "postgresql+psycopg2://erp:Pa55word-xyz@127.0.0.1:1/erp")
    config = _config("inflow_changes")
    with OutboxStore.at_home(tmp_path) as store:
        store.enqueue(_changes(2), config, AS_OF)
        report = send(store, config, tmp_path)
        assert report.delivered == 0 and report.retry_later == 2
        row = store.rows()[0]
        assert row.status == "approved" and row.last_error.startswith("OperationalError")
        assert "Pa55word-xyz" not in row.last_error


def test_a_literal_password_in_the_url_is_refused():
    with pytest.raises(ValueError, match="holds a password"):
        _config("t", url="postgresql://erp:secret@db/erp")
