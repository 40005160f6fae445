"""The ERP outbox: every change Inflow sends back, in its own SQLite store under INFLOW_HOME.

Why a store of its own (DECISIONS W1): the daily refresh appends to the outbox while the sender
and ``inflow outbox approve`` work on it, possibly for minutes while an endpoint backs off. DuckDB
takes one writing process, so an outbox inside the warehouse would make the sender wait on the
refresh and the refresh on the sender. SQLite in WAL mode lets readers run beside one writer, and
every write here is a transaction that is never held across a network call, so the sender and an
approval wait at most for one enqueue (0.3 s on the sample company), never for the warehouse, and
the refresh never waits for a send that is backing off. Senders exclude each other with a file lock
(``sender_lock``) that the kernel releases when a sender dies, even by SIGKILL.

Statuses and the only legal moves between them (``TRANSITIONS``)::

    pending      -> approved | rejected
    approved     -> sent | failed | rejected     (rejected only while not handed to a batch)
    sent         -> acknowledged | confirmed | failed (the target's import refused it)
    acknowledged -> confirmed
    failed       -> approved (re-approval) | rejected
    confirmed, rejected: final

A change is inserted ``approved`` when its kind is approved automatically, else ``pending``.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from orchestration.defs.writeback.changes import Change, field_owner, idempotency_key
from orchestration.defs.writeback.settings import ChangeKind, WritebackConfig

STATUSES = ("pending", "approved", "sent", "acknowledged", "confirmed", "failed", "rejected")

#: status -> statuses it may move to. Everything else is refused (``IllegalTransition``).
TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"approved", "rejected"}),
    "approved": frozenset({"sent", "failed", "rejected"}),
    "sent": frozenset({"acknowledged", "confirmed", "failed"}),
    "acknowledged": frozenset({"confirmed"}),
    "failed": frozenset({"approved", "rejected"}),
    "confirmed": frozenset(),
    "rejected": frozenset(),
}
#: The timestamp column each status sets when a change enters it.
_STAMP = {
    "approved": "approved_at",
    "sent": "sent_at",
    "acknowledged": "acknowledged_at",
    "confirmed": "confirmed_at",
    "failed": "failed_at",
    "rejected": "rejected_at",
}
#: Delivered to the target (it may show the change now).
DELIVERED = ("sent", "acknowledged")

SCHEMA_VERSION = 1
_DDL = f"""
create table if not exists erp_outbox (
    seq integer primary key autoincrement,
    idempotency_key text not null unique,
    kind text not null,
    target text not null,
    entity_type text not null,
    entity_key text not null,
    field text not null,
    value text not null,
    payload text not null,
    previous_key text,
    field_owner text not null,
    approval text not null check (approval in ('auto', 'manual')),
    status text not null check (status in ({", ".join(f"'{s}'" for s in STATUSES)})),
    attempts integer not null default 0,
    last_error text,
    reason text,
    batch_id text,
    as_of_date text not null,
    created_at text not null,
    updated_at text not null,
    approved_at text,
    approved_by text,
    sent_at text,
    acknowledged_at text,
    confirmed_at text,
    failed_at text,
    rejected_at text,
    rejected_by text
);
create index if not exists erp_outbox_field on erp_outbox (target, entity_key, field, seq);
create index if not exists erp_outbox_status on erp_outbox (status, target, batch_id);
create table if not exists erp_outbox_events (
    seq integer primary key autoincrement,
    idempotency_key text not null,
    from_status text,
    to_status text not null,
    at text not null,
    actor text not null,
    detail text
);
create table if not exists erp_outbox_batches (
    batch_id text primary key,
    target text not null,
    created_at text not null,
    artifact text
);
"""


class IllegalTransition(ValueError):
    """A status change the outbox's state machine does not allow."""


class OutboxError(ValueError):
    """A request the outbox refuses (unknown key, ambiguous prefix, missing reason...)."""


class SenderBusy(RuntimeError):
    """Another sender holds this outbox's sender lock."""


def check_transition(current: str, new: str) -> None:
    """Refuse a move the state machine does not allow, naming both statuses."""
    if current not in TRANSITIONS or new not in TRANSITIONS:
        raise IllegalTransition(f"unknown status in {current!r} -> {new!r}")
    if new not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "nothing (final)"
        raise IllegalTransition(f"a {current} change cannot become {new}; {current} may become: {allowed}")


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _ts(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("outbox timestamps are timezone-aware (UTC)")
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class OutboxRow:
    seq: int
    idempotency_key: str
    kind: str
    target: str
    entity_type: str
    entity_key: str
    field: str
    value: str
    payload: str
    previous_key: str | None
    field_owner: str
    approval: str
    status: str
    attempts: int
    last_error: str | None
    reason: str | None
    batch_id: str | None
    as_of_date: str
    created_at: str
    updated_at: str
    approved_at: str | None
    approved_by: str | None
    sent_at: str | None
    acknowledged_at: str | None
    confirmed_at: str | None
    failed_at: str | None
    rejected_at: str | None
    rejected_by: str | None

    @property
    def value_object(self) -> object:
        return json.loads(self.value)


COLUMNS = tuple(OutboxRow.__dataclass_fields__)


@dataclass
class EnqueueResult:
    added: int = 0
    unchanged: int = 0
    superseded: int = 0
    withdrawn: int = 0
    stale: bool = False
    added_by_kind: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Batch:
    batch_id: str
    target: str
    rows: tuple[OutboxRow, ...]


class OutboxStore:
    """The outbox file. One instance per thread; open, use and ``close`` (or use ``with``)."""

    def __init__(self, path: Path, busy_timeout_seconds: float = 30.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._con = sqlite3.connect(self.path, timeout=busy_timeout_seconds, isolation_level=None)
        self._con.row_factory = sqlite3.Row
        self._con.execute("pragma journal_mode = wal")
        self._con.execute("pragma synchronous = full")
        with self._write():
            if self._con.execute("pragma user_version").fetchone()[0] == 0:
                for statement in filter(str.strip, _DDL.split(";")):
                    self._con.execute(statement)
                self._con.execute(f"pragma user_version = {SCHEMA_VERSION}")

    @staticmethod
    def path_at_home(home: Path) -> Path:
        """Where the outbox of an INFLOW_HOME lives: ``<home>/outbox/outbox.sqlite``."""
        return Path(home) / "outbox" / "outbox.sqlite"

    @classmethod
    def at_home(cls, home: Path) -> OutboxStore:
        """The outbox of an INFLOW_HOME, created when missing (the run's outbox step creates it)."""
        return cls(cls.path_at_home(home))

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> OutboxStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction; taken up front so two writers queue instead of deadlocking."""
        self._con.execute("begin immediate")
        try:
            yield self._con
        except BaseException:
            self._con.execute("rollback")
            raise
        self._con.execute("commit")

    # ---- reading -------------------------------------------------------------------------

    def rows(
        self,
        *,
        statuses: Sequence[str] = (),
        kinds: Sequence[str] = (),
        targets: Sequence[str] = (),
        keys: Sequence[str] = (),
        batch_id: str | None = None,
        limit: int | None = None,
    ) -> list[OutboxRow]:
        """Changes in sequence order, filtered by any of the given values per column; with
        ``limit``, the newest ``limit`` of them, still oldest first (``outbox list`` prints the
        newest last, so a limit keeps the end of the listing, what an operator looks for)."""
        where, params = [], []
        for column, values in (("status", statuses), ("kind", kinds), ("target", targets), ("idempotency_key", keys)):
            if values:
                where.append(f"{column} in ({', '.join('?' for _ in values)})")
                params.extend(values)
        if batch_id is not None:
            where.append("batch_id = ?")
            params.append(batch_id)
        sql = f"select {', '.join(COLUMNS)} from erp_outbox"  # noqa: S608 (column names and statuses are constants of this module)
        if where:
            sql += " where " + " and ".join(where)
        if limit is None:
            sql += " order by seq"
        else:
            sql = f"select * from ({sql} order by seq desc limit ?) order by seq"  # noqa: S608 (the query above)
            params.append(limit)
        return [OutboxRow(*row) for row in self._con.execute(sql, params).fetchall()]

    def frame(self) -> pd.DataFrame:
        """Every change as a DataFrame (all columns text or integers), sequence order."""
        rows = self._con.execute(f"select {', '.join(COLUMNS)} from erp_outbox order by seq").fetchall()  # noqa: S608 (column names and statuses are constants of this module)
        return pd.DataFrame([tuple(r) for r in rows], columns=list(COLUMNS))

    def events(self, key: str | None = None) -> list[tuple[str, str | None, str, str, str | None]]:
        """(key, from, to, actor, detail) of every status change, oldest first."""
        sql = "select idempotency_key, from_status, to_status, actor, detail from erp_outbox_events"
        params: list[str] = []
        if key:
            sql += " where idempotency_key = ?"
            params.append(key)
        return [tuple(r) for r in self._con.execute(sql + " order by seq", params).fetchall()]

    def resolve_keys(self, prefixes: Iterable[str]) -> list[str]:
        """Full keys from unique prefixes of at least 8 characters (as ``list`` prints them)."""
        keys = []
        for prefix in prefixes:
            prefix = prefix.strip().lower()
            if len(prefix) < 8:
                raise OutboxError(f"key {prefix!r}: give at least 8 characters of the key")
            found = [
                r[0]
                for r in self._con.execute(
                    "select idempotency_key from erp_outbox where idempotency_key like ? || '%' limit 2", [prefix]
                )
            ]
            if not found:
                raise OutboxError(f"no change with key {prefix}")
            if len(found) > 1:
                raise OutboxError(f"key {prefix} is ambiguous: give more characters")
            keys.append(found[0])
        return keys

    # ---- status changes ------------------------------------------------------------------

    def _move(
        self,
        con: sqlite3.Connection,
        key: str,
        new: str,
        actor: str,
        now: dt.datetime,
        detail: str | None = None,
        expect: Sequence[str] | None = None,
        **columns: object,
    ) -> None:
        """Move one change to ``new`` inside the caller's transaction, with its event row."""
        found = con.execute("select status from erp_outbox where idempotency_key = ?", [key]).fetchone()
        if found is None:
            raise OutboxError(f"no change with key {key}")
        current = found[0]
        if expect is not None and current not in expect:
            raise IllegalTransition(f"change {key[:12]} is {current}, expected {' or '.join(expect)}")
        check_transition(current, new)
        stamp = _ts(now)
        sets = {"status": new, "updated_at": stamp, **columns}
        if new in _STAMP:
            sets[_STAMP[new]] = stamp
        assignments = ", ".join(f"{column} = ?" for column in sets)
        con.execute(
            f"update erp_outbox set {assignments} where idempotency_key = ? and status = ?",  # noqa: S608 (column names and statuses are constants of this module)
            [*sets.values(), key, current],
        )
        con.execute(
            "insert into erp_outbox_events (idempotency_key, from_status, to_status, at, actor, detail) "
            "values (?, ?, ?, ?, ?, ?)",
            [key, current, new, stamp, actor, detail],
        )

    def transition(
        self,
        key: str,
        new: str,
        actor: str,
        detail: str | None = None,
        now: dt.datetime | None = None,
        **columns: object,
    ) -> None:
        """Move one change to a new status, refusing a move the state machine does not allow."""
        with self._write() as con:
            self._move(con, key, new, actor, now or utc_now(), detail, **columns)

    def approve(self, keys: Sequence[str], actor: str, now: dt.datetime | None = None) -> int:
        """Approve pending changes, or re-approve failed ones (attempts restart, a new batch)."""
        now = now or utc_now()
        with self._write() as con:
            for key in keys:
                row = self._row(con, key)
                newer = con.execute(
                    "select idempotency_key from erp_outbox where target = ? and entity_key = ? "
                    "and field = ? and seq > ? order by seq desc limit 1",
                    [row.target, row.entity_key, row.field, row.seq],
                ).fetchone()
                if newer is not None:
                    raise OutboxError(
                        f"change {key[:12]} is superseded by {newer[0][:12]} (a newer value of "
                        f"{row.field} for {row.entity_key}); approving it would send the older value"
                    )
                detail = f"after {row.attempts} attempt(s): {row.last_error}" if row.status == "failed" else None
                self._move(
                    con,
                    key,
                    "approved",
                    actor,
                    now,
                    detail,
                    expect=("pending", "failed"),
                    approved_by=actor,
                    batch_id=None,
                    attempts=0,
                )
        return len(keys)

    def reject(self, keys: Sequence[str], reason: str, actor: str, now: dt.datetime | None = None) -> int:
        """Reject changes for good, keeping the reason. A change already handed to a batch is
        refused: it may have reached the target before a crash, and a rejection would lie."""
        if not reason or not reason.strip():
            raise OutboxError("a rejection needs a reason")
        now = now or utc_now()
        with self._write() as con:
            for key in keys:
                row = self._row(con, key)
                if row.status == "approved" and row.batch_id is not None:
                    raise OutboxError(
                        f"change {key[:12]} is in batch {row.batch_id} and may already have reached "
                        f"{row.target}; run `inflow outbox send` to finish the batch first"
                    )
                self._move(con, key, "rejected", actor, now, reason.strip(), reason=reason.strip(), rejected_by=actor)
        return len(keys)

    def _row(self, con: sqlite3.Connection, key: str) -> OutboxRow:
        found = con.execute(f"select {', '.join(COLUMNS)} from erp_outbox where idempotency_key = ?", [key]).fetchone()  # noqa: S608 (column names and statuses are constants of this module)
        if found is None:
            raise OutboxError(f"no change with key {key}")
        return OutboxRow(*found)

    # ---- enqueueing ----------------------------------------------------------------------

    def enqueue(
        self,
        changes: Iterable[Change],
        config: WritebackConfig,
        as_of: dt.date,
        now: dt.datetime | None = None,
        complete: frozenset[ChangeKind] = frozenset(),
    ) -> EnqueueResult:
        """Add one row per change and target whose value differs from the last one enqueued for
        that target, entity and field. Unchanged changes add nothing, so a rerun on unchanged
        inputs adds no rows. A newer value supersedes an older one not yet handed to a batch
        (it is rejected with the reason). Every change is checked against field ownership first,
        and one refused change refuses the whole call (nothing is written).

        Changes derived as of a date older than the newest already enqueued are ignored
        (``stale``): a rebuild of a past day must not send yesterday's values over today's.

        ``complete`` names the state kinds derived for every entity that has one as of this date:
        a change of such a kind not yet handed to a batch whose entity and field were not derived
        again is withdrawn (rejected, with the reason), so a reminder proposed yesterday for an
        invoice paid today cannot be approved and sent (DECISIONS W4).
        """
        now = now or utc_now()
        changes = list(changes)
        owners = [field_owner(change, config.ownership) for change in changes]
        result = EnqueueResult()
        with self._write() as con:
            newest = con.execute("select max(as_of_date) from erp_outbox").fetchone()[0]
            if newest is not None and as_of.isoformat() < newest:
                result.stale = True
                return result
            seen: dict[tuple[str, str, str], str] = {}
            for change, owner in zip(changes, owners, strict=True):
                for target in config.targets_for(change.kind):
                    self._enqueue_one(con, change, owner.value, target, config, as_of, now, seen, result)
            if complete:
                result.withdrawn = self._withdraw_not_derived(con, complete, set(seen), as_of, now)
        return result

    def _withdraw_not_derived(
        self,
        con: sqlite3.Connection,
        complete: frozenset[ChangeKind],
        derived: set[tuple[str, str, str]],
        as_of: dt.date,
        now: dt.datetime,
    ) -> int:
        """Reject the unsent changes of the complete state kinds whose (target, entity, field) was
        not derived as of ``as_of``; returns how many."""
        kinds = sorted(kind.value for kind in complete)
        marks = ", ".join("?" for _ in kinds)
        unsent = con.execute(
            "select idempotency_key, target, entity_key, field from erp_outbox "  # noqa: S608 (placeholders only)
            f"where kind in ({marks}) and (status = 'pending' or (status = 'approved' and batch_id is null))",
            kinds,
        ).fetchall()
        reason = f"withdrawn: no longer derived as of {as_of.isoformat()} (its entity left the state it proposed)"
        gone = [key for key, *slot in unsent if tuple(slot) not in derived]
        for key in gone:
            self._move(con, key, "rejected", "inflow", now, reason, reason=reason, rejected_by="inflow")
        return len(gone)

    def _enqueue_one(
        self,
        con: sqlite3.Connection,
        change: Change,
        owner: str,
        target: str,
        config: WritebackConfig,
        as_of: dt.date,
        now: dt.datetime,
        seen: dict[tuple[str, str, str], str],
        result: EnqueueResult,
    ) -> None:
        value_json = change.value_json
        slot = (target, change.entity_key, change.field)
        if slot in seen:
            if seen[slot] != value_json:
                raise OutboxError(f"two values for {change.field} of {change.entity_key} in one enqueue")
            return
        seen[slot] = value_json
        latest = con.execute(
            f"select {', '.join(COLUMNS)} from erp_outbox where target = ? and entity_key = ? and field = ? "  # noqa: S608 (column names and statuses are constants of this module)
            "order by seq desc limit 1",
            list(slot),
        ).fetchone()
        latest = OutboxRow(*latest) if latest else None
        if latest is not None and latest.value == value_json:
            result.unchanged += 1
            return
        key = idempotency_key(
            change.kind.value,
            target,
            change.entity_key,
            change.field,
            value_json,
            latest.idempotency_key if latest else None,
        )
        if latest is not None and (
            latest.status in ("pending", "failed") or (latest.status == "approved" and latest.batch_id is None)
        ):
            reason = f"superseded by {key[:12]} (newer value)"
            self._move(
                con, latest.idempotency_key, "rejected", "inflow", now, reason, reason=reason, rejected_by="inflow"
            )
            result.superseded += 1
        approval = config.approval[change.kind]
        status = "approved" if approval == "auto" else "pending"
        stamp = _ts(now)
        payload = json.dumps(
            {
                "idempotency_key": key,
                "kind": change.kind.value,
                "entity_type": change.entity_type,
                "entity_key": change.entity_key,
                "field": change.field,
                "value": json.loads(value_json),
                "previous_key": latest.idempotency_key if latest else None,
                "as_of_date": as_of.isoformat(),
                "source": "inflow",
            },
            sort_keys=True,
            ensure_ascii=False,
        )
        con.execute(
            "insert into erp_outbox (idempotency_key, kind, target, entity_type, entity_key, field, value, "
            "payload, previous_key, field_owner, approval, status, as_of_date, created_at, updated_at, "
            "approved_at, approved_by) "
            "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                key,
                change.kind.value,
                target,
                change.entity_type,
                change.entity_key,
                change.field,
                value_json,
                payload,
                latest.idempotency_key if latest else None,
                owner,
                approval,
                status,
                as_of.isoformat(),
                stamp,
                stamp,
                stamp if status == "approved" else None,
                "auto" if status == "approved" else None,
            ],
        )
        con.execute(
            "insert into erp_outbox_events (idempotency_key, from_status, to_status, at, actor, detail) "
            "values (?, null, ?, ?, 'inflow', ?)",
            [key, status, stamp, f"enqueued ({approval} approval)"],
        )
        result.added += 1
        result.added_by_kind[change.kind.value] = result.added_by_kind.get(change.kind.value, 0) + 1

    # ---- sending -------------------------------------------------------------------------

    def outstanding_batches(self, target: str) -> list[str]:
        """Batches of a target with changes handed out but not yet delivered (a crashed or
        interrupted send), oldest first: they are finished before a new batch is made."""
        return [
            r[0]
            for r in self._con.execute(
                "select batch_id from erp_outbox where target = ? and status = 'approved' and batch_id is not null "
                "group by batch_id order by min(seq)",
                [target],
            )
        ]

    def claim_batch(self, target: str, size: int, now: dt.datetime | None = None) -> Batch | None:
        """Hand the oldest approved, unbatched changes of a target to a new batch (persisted
        before anything is sent, so a crash leaves the batch to be finished, not lost)."""
        stamp = _ts(now or utc_now())
        batch_id = f"{(now or utc_now()).strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:8]}"
        with self._write() as con:
            claimed = con.execute(
                "update erp_outbox set batch_id = ?, updated_at = ? where seq in (select seq from erp_outbox "
                "where target = ? and status = 'approved' and batch_id is null order by seq limit ?)",
                [batch_id, stamp, target, size],
            ).rowcount
            if not claimed:
                return None
            con.execute(
                "insert into erp_outbox_batches (batch_id, target, created_at) values (?, ?, ?)",
                [batch_id, target, stamp],
            )
        return self.batch(batch_id)

    def batch(self, batch_id: str) -> Batch:
        """The changes of a batch still waiting for delivery."""
        rows = tuple(self.rows(statuses=("approved",), batch_id=batch_id))
        target = self._con.execute("select target from erp_outbox_batches where batch_id = ?", [batch_id]).fetchone()
        if target is None:
            raise OutboxError(f"no batch {batch_id}")
        return Batch(batch_id, target[0], rows)

    def record_artifact(self, batch_id: str, artifact: str) -> None:
        with self._write() as con:
            con.execute("update erp_outbox_batches set artifact = ? where batch_id = ?", [artifact, batch_id])

    def batches_with(self, target: str, status: str) -> list[str]:
        return [
            r[0]
            for r in self._con.execute(
                "select distinct batch_id from erp_outbox where target = ? and status = ? and batch_id is not null "
                "order by batch_id",
                [target, status],
            )
        ]

    def record_attempt(self, keys: Sequence[str], now: dt.datetime | None = None) -> None:
        """Count a delivery attempt before it is made (so a crash mid-request still counts)."""
        stamp = _ts(now or utc_now())
        with self._write() as con:
            con.executemany(
                "update erp_outbox set attempts = attempts + 1, updated_at = ? "
                "where idempotency_key = ? and status = 'approved'",
                [(stamp, k) for k in keys],
            )

    def mark_delivered(
        self,
        keys: Sequence[str],
        actor: str,
        acknowledged: bool,
        detail: str | None = None,
        now: dt.datetime | None = None,
    ) -> None:
        """Changes the target accepted: ``sent``, and ``acknowledged`` too when the target's
        answer is itself the acknowledgement (a 2xx response to a request for this key)."""
        now = now or utc_now()
        with self._write() as con:
            for key in keys:
                self._move(con, key, "sent", actor, now, detail, last_error=None)
                if acknowledged:
                    self._move(con, key, "acknowledged", actor, now, detail)

    def mark_retry(
        self, keys: Sequence[str], error: str, max_attempts: int, actor: str, now: dt.datetime | None = None
    ) -> int:
        """A delivery that may succeed later: the change stays approved (in its batch) with the
        error, unless it has used ``max_attempts``, when it fails. Returns how many failed."""
        now = now or utc_now()
        failed = 0
        with self._write() as con:
            for key in keys:
                row = self._row(con, key)
                if row.attempts >= max_attempts:
                    self._move(
                        con,
                        key,
                        "failed",
                        actor,
                        now,
                        f"gave up after {row.attempts} attempts: {error}",
                        last_error=error,
                    )
                    failed += 1
                else:
                    con.execute(
                        "update erp_outbox set last_error = ?, updated_at = ? where idempotency_key = ?",
                        [error, _ts(now), key],
                    )
        return failed

    def mark_failed(self, keys: Sequence[str], error: str, actor: str, now: dt.datetime | None = None) -> None:
        """A delivery the target refused for good (or an import error it reported)."""
        now = now or utc_now()
        with self._write() as con:
            for key in keys:
                self._move(con, key, "failed", actor, now, error, last_error=error)

    def mark_acknowledged(self, keys: Sequence[str], actor: str, now: dt.datetime | None = None) -> int:
        """Acknowledge sent changes; others (already acknowledged, confirmed) are left as they are."""
        now = now or utc_now()
        done = 0
        with self._write() as con:
            for key in keys:
                if self._row(con, key).status == "sent":
                    self._move(con, key, "acknowledged", actor, now)
                    done += 1
        return done

    def mark_confirmed(self, keys: Sequence[str], detail: str, now: dt.datetime | None = None) -> int:
        """Changes the ERP's own data now shows (sent or acknowledged -> confirmed)."""
        now = now or utc_now()
        done = 0
        with self._write() as con:
            for key in keys:
                if self._row(con, key).status in DELIVERED:
                    self._move(con, key, "confirmed", "inflow", now, detail)
                    done += 1
        return done

    # ---- the sender lock -----------------------------------------------------------------

    @contextmanager
    def sender_lock(self) -> Iterator[None]:
        """Exclusive right to send from this outbox. Fails at once when another sender holds
        it, naming its pid and start time. The lock is an ``flock`` on ``sender.lock``: the
        kernel drops it when the holder exits or is killed, so it never goes stale."""
        path = self.path.parent / "sender.lock"
        with open(path, "a+", encoding="utf-8") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "unknown"
                raise SenderBusy(f"another sender holds {path} ({holder}); try again when it has finished") from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()}, started {_ts(utc_now())}")
            handle.flush()
            try:
                yield
            finally:
                handle.seek(0)
                handle.truncate()
                fcntl.flock(handle, fcntl.LOCK_UN)
