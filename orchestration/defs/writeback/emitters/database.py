"""Database: a batch inserted into the ERP's staging table in one transaction, through SQLAlchemy.

The staging table is keyed by the idempotency key, so a batch inserted again after a crash (the
insert committed, the outbox did not hear of it) changes nothing: PostgreSQL and SQLite get
``insert ... on conflict do update ... where process_status = 'error'``, which skips every key
already there except one the ERP's import refused, which is put back for another import. Other
databases get a select of existing keys and an insert of the rest in the same transaction.

The ERP's import job reads unprocessed rows and fills ``processed_at``, ``process_status``
(``ok`` / ``error``) and ``process_message``; ``poll_acknowledgements`` turns those into
acknowledged or failed changes.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from orchestration.defs.writeback.changes import visible_value
from orchestration.defs.writeback.emitters.base import Recorder
from orchestration.defs.writeback.outbox import Batch, OutboxStore
from orchestration.defs.writeback.settings import DatabaseTarget
from orchestration.secret_refs import redact, resolve_secrets

log = logging.getLogger(__name__)
_CHUNK = 500
#: Dialects with ``insert ... on conflict``; the others take the select-then-insert path.
UPSERT_DIALECTS = frozenset({"postgresql", "sqlite"})


def staging_table(name: str, schema: str | None) -> sa.Table:
    """The staging table's definition (what ``create_table`` creates, and what the ERP reads)."""
    return sa.Table(
        name,
        sa.MetaData(schema=schema),
        sa.Column("idempotency_key", sa.String(64), primary_key=True),
        sa.Column("batch_id", sa.String(64), nullable=False),
        sa.Column("sequence", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("entity_type", sa.String(40), nullable=False),
        sa.Column("entity_key", sa.String(200), nullable=False),
        sa.Column("field", sa.String(100), nullable=False),
        sa.Column("value", sa.Text),
        sa.Column("value_json", sa.Text, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("previous_key", sa.String(64)),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True)),
        sa.Column("process_status", sa.String(20)),
        sa.Column("process_message", sa.Text),
    )


class DatabaseEmitter:
    """Inserts each batch into the staging table; the commit is the delivery (``sent``)."""

    def __init__(self, name: str, target: DatabaseTarget, now: Callable[[], dt.datetime]) -> None:
        self.name = name
        self.target = target
        self.table = staging_table(target.table, target.db_schema)
        self._now = now

    def _engine(self) -> tuple[sa.Engine, list[str]]:
        url, secrets = resolve_secrets(self.target.url, f"writeback.targets.{self.name}.url")
        engine = sa.create_engine(url, pool_pre_ping=True)
        secrets.append(sa.make_url(url).password or "")
        return engine, [s for s in secrets if s]

    def deliver(self, batch: Batch, recorder: Recorder) -> bool:
        keys = [row.idempotency_key for row in batch.rows]
        engine, secrets = self._engine()
        delivered_at = self._now()
        rows = [
            {
                "idempotency_key": row.idempotency_key,
                "batch_id": batch.batch_id,
                "sequence": row.seq,
                "kind": row.kind,
                "entity_type": row.entity_type,
                "entity_key": row.entity_key,
                "field": row.field,
                "value": visible_value(row.field, row.value_object),
                "value_json": row.value,
                "payload": row.payload,
                "previous_key": row.previous_key,
                "delivered_at": delivered_at,
            }
            for row in batch.rows
        ]
        recorder.attempt(keys)
        try:
            if self.target.create_table:
                self.table.metadata.create_all(engine, checkfirst=True)
            with engine.begin() as con:
                self._insert(con, rows)
        except sa.exc.SQLAlchemyError as exc:
            recorder.retry(keys, redact(f"{type(exc).__name__}: {str(exc).splitlines()[0]}", secrets))
            return False
        finally:
            engine.dispose()
        recorder.delivered(keys, acknowledged=False, detail=f"inserted into {self.table.fullname}")
        return True

    def _insert(self, con: sa.Connection, rows: list[dict[str, object]]) -> None:
        dialect = con.dialect.name
        if dialect in UPSERT_DIALECTS:
            insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(self.table)
            reset = {
                "batch_id": insert.excluded.batch_id,
                "delivered_at": insert.excluded.delivered_at,
                "processed_at": None,
                "process_status": None,
                "process_message": None,
            }
            statement = insert.on_conflict_do_update(
                index_elements=[self.table.c.idempotency_key], set_=reset, where=self.table.c.process_status == "error"
            )
            con.execute(statement, rows)
            return
        existing: set[str] = set()
        for chunk in _chunks([r["idempotency_key"] for r in rows]):
            existing.update(
                con.execute(
                    sa.select(self.table.c.idempotency_key).where(self.table.c.idempotency_key.in_(chunk))
                ).scalars()
            )
        fresh = [r for r in rows if r["idempotency_key"] not in existing]
        if fresh:
            con.execute(self.table.insert(), fresh)

    def poll_acknowledgements(self, store: OutboxStore) -> int:
        """Acknowledge sent changes the ERP's import processed (``ok``), fail those it refused."""
        sent = [row.idempotency_key for row in store.rows(statuses=("sent",), targets=(self.name,))]
        if not sent:
            return 0
        engine, secrets = self._engine()
        processed = []
        try:
            with engine.connect() as con:
                for chunk in _chunks(sent):
                    processed += con.execute(
                        sa.select(
                            self.table.c.idempotency_key, self.table.c.process_status, self.table.c.process_message
                        ).where(self.table.c.idempotency_key.in_(chunk), self.table.c.processed_at.is_not(None))
                    ).all()
        except sa.exc.SQLAlchemyError as exc:
            log.warning(
                "%s: cannot read acknowledgements: %s",
                self.name,
                redact(f"{type(exc).__name__}: {str(exc).splitlines()[0]}", secrets),
            )
            return 0
        finally:
            engine.dispose()
        imported = [key for key, status, _ in processed if status == "ok"]
        settled = store.mark_acknowledged(imported, actor=f"import:{self.name}")
        for key, status, message in processed:
            if status == "error":
                store.mark_failed([key], f"import error: {message or 'no message'}", actor=f"import:{self.name}")
                settled += 1
        return settled


def _chunks(items: Sequence[str]) -> list[Sequence[str]]:
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]
