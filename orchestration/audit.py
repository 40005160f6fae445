"""The audit trail: an append-only record of every run, load, gate decision, publication, erasure
and write-back send, with when, who (the OS user), as of which date, on which input files
(checksums) and with what outcome.

It lives in its own SQLite store (``INFLOW_HOME/audit/audit.sqlite``, WAL) rather than in the
warehouse, for the reason the outbox does: DuckDB takes one writing process, and the sender and
``inflow erase`` must record what they did while a refresh holds the warehouse. It is
append-only twice over: triggers refuse any UPDATE or DELETE, and each event carries the SHA-256
of its content chained to the previous event's, so an event edited or removed with another tool
shows in :meth:`AuditTrail.verify` (``inflow audit --verify``). Each publication copies the
trail into the warehouse and the serving file as ``audit.events``, so an auditor reads it where
the numbers are. Events never carry personal values: an erasure names the tombstone (a keyed
hash), never the value.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import os
import socket
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from orchestration.defs.quality.store import LoadRecord

KINDS = ("run", "load", "gate", "publish", "erasure", "writeback_send")

_DDL = f"""
create table if not exists events (
    seq integer primary key autoincrement,
    at text not null,
    kind text not null check (kind in ({", ".join(f"'{k}'" for k in KINDS)})),
    os_user text not null,
    host text not null,
    run_id text,
    as_of_date text,
    subject text,
    outcome text not null,
    rows integer,
    inputs text not null,
    detail text,
    prev_hash text not null,
    hash text not null unique
);
create trigger if not exists events_no_update before update on events
begin select raise(abort, 'audit events are append-only'); end;
create trigger if not exists events_no_delete before delete on events
begin select raise(abort, 'audit events are append-only'); end;
"""
_GENESIS = "0" * 64
#: Columns of an event as they are hashed, stored and published, in order.
FIELDS = ("at", "kind", "os_user", "host", "run_id", "as_of_date", "subject", "outcome", "rows", "inputs", "detail")


def os_user() -> str:
    """The account Inflow runs under (a container without a passwd entry: its uid)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


@dataclass(frozen=True)
class InputFile:
    """A file (or query result) an event is about, by its SHA-256 checksum."""

    file: str
    checksum: str


def _content_hash(prev_hash: str, event: Mapping[str, object]) -> str:
    canonical = json.dumps([event[name] for name in FIELDS], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


class AuditTrail:
    """The audit store of one home. Open, record, close: every write is one short transaction."""

    def __init__(self, home: Path) -> None:
        self.path = self.path_at_home(home)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def path_at_home(home: Path) -> Path:
        """Where the trail of an INFLOW_HOME lives, ``<home>/audit/audit.sqlite``: named apart from
        opening it, because opening creates it and ``inflow audit`` must first see whether a run
        wrote one (:meth:`orchestration.settings.HomeLayout.not_written`)."""
        return Path(home) / "audit" / "audit.sqlite"

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=30, isolation_level=None)) as con:
            con.execute("pragma journal_mode = wal")
            con.executescript(_DDL)
            yield con

    def record(
        self,
        kind: str,
        outcome: str,
        *,
        run_id: str | None = None,
        as_of: dt.date | str | None = None,
        subject: str | None = None,
        rows: int | None = None,
        inputs: Iterable[InputFile] = (),
        detail: str | None = None,
    ) -> str:
        """Append one event; returns its hash."""
        if kind not in KINDS:
            raise ValueError(f"unknown audit event kind {kind!r}; known: {KINDS}")
        event = {
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "kind": kind,
            "os_user": os_user(),
            "host": socket.gethostname(),
            "run_id": run_id,
            "as_of_date": as_of.isoformat() if isinstance(as_of, dt.date) else as_of,
            "subject": subject,
            "outcome": outcome,
            "rows": rows,
            "inputs": json.dumps([{"file": i.file, "checksum": i.checksum} for i in inputs], ensure_ascii=False),
            "detail": detail,
        }
        with self._connect() as con:
            con.execute("begin immediate")
            try:
                prev = con.execute("select hash from events order by seq desc limit 1").fetchone()
                prev_hash = prev[0] if prev else _GENESIS
                digest = _content_hash(prev_hash, event)
                con.execute(
                    f"insert into events ({', '.join(FIELDS)}, prev_hash, hash) "  # noqa: S608 (column names from FIELDS)
                    f"values ({', '.join('?' for _ in FIELDS)}, ?, ?)",
                    [*(event[name] for name in FIELDS), prev_hash, digest],
                )
                con.execute("commit")
            except BaseException:
                con.execute("rollback")
                raise
        return digest

    def frame(self) -> pd.DataFrame:
        """Every event, oldest first."""
        with self._connect() as con:
            return pd.read_sql_query("select * from events order by seq", con)

    def verify(self) -> list[str]:
        """Events whose content or chain does not match (empty when the trail is intact)."""
        problems, prev_hash = [], _GENESIS
        for event in self.frame().to_dict("records"):
            event["rows"] = None if pd.isna(event["rows"]) else int(event["rows"])
            event = {k: (None if isinstance(v, float) and pd.isna(v) else v) for k, v in event.items()}
            if event["prev_hash"] != prev_hash:
                problems.append(f"event {event['seq']}: the chain is broken before it (an event was removed)")
            elif _content_hash(prev_hash, event) != event["hash"]:
                problems.append(f"event {event['seq']}: its content does not match its hash (it was edited)")
            prev_hash = event["hash"]
        return problems


#: ``audit.events`` as published (inputs as a list of file and checksum).
EVENTS_SCHEMA = pa.schema(
    [
        ("seq", pa.int64()),
        ("at", pa.timestamp("s", tz="UTC")),
        ("kind", pa.string()),
        ("os_user", pa.string()),
        ("host", pa.string()),
        ("run_id", pa.string()),
        ("as_of_date", pa.date32()),
        ("subject", pa.string()),
        ("outcome", pa.string()),
        ("rows", pa.int64()),
        ("inputs", pa.list_(pa.struct([("file", pa.string()), ("checksum", pa.string())]))),
        ("detail", pa.string()),
        ("prev_hash", pa.string()),
        ("hash", pa.string()),
    ]
)


def copy_to_duckdb(trail: AuditTrail, con: duckdb.DuckDBPyConnection) -> int:
    """Replace ``audit.events`` on a DuckDB connection with the trail; returns the event count."""
    frame = trail.frame()
    frame["at"] = pd.to_datetime(frame["at"], utc=True, format="ISO8601")
    frame["as_of_date"] = pd.to_datetime(frame["as_of_date"], format="ISO8601").dt.date
    frame["inputs"] = [json.loads(text) for text in frame["inputs"]]
    frame["rows"] = frame["rows"].astype("Int64")
    table = pa.Table.from_pandas(frame[EVENTS_SCHEMA.names], schema=EVENTS_SCHEMA, preserve_index=False)
    con.execute("create schema if not exists audit")
    con.register("_inflow_audit_events", table)
    try:
        con.execute("create or replace table audit.events as select * from _inflow_audit_events")
    finally:
        con.unregister("_inflow_audit_events")
    con.execute("comment on table audit.events is " + _literal(TABLE_COMMENT))
    return table.num_rows


TABLE_COMMENT = (
    "Append-only audit trail: every run, load, gate decision, publication, erasure and write-back send, "
    "with time (UTC), OS user, as-of date, input files (checksums) and outcome; hash-chained."
)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def record_loads(trail: AuditTrail, records: Iterable[LoadRecord], run_id: str, as_of: dt.date) -> None:
    """One ``load`` event per batch landed or rejected (a skipped batch was recorded when it loaded)."""
    for rec in records:
        if rec.status == "skipped":
            continue
        trail.record(
            "load",
            rec.status,
            run_id=run_id,
            as_of=as_of,
            subject=rec.source_table,
            rows=rec.rows_landed,
            inputs=[InputFile(rec.file, rec.checksum)],
            detail=rec.message,
        )


def loaded_inputs(con: duckdb.DuckDBPyConnection) -> list[InputFile]:
    """Every batch the warehouse's raw layer holds rows of (``quality.source_loads``), by checksum:
    the inputs a publication of this warehouse is made from."""
    rows = con.execute(
        "select file, checksum from quality.source_loads where status = 'loaded' order by source_table, loaded_at, file"
    ).fetchall()
    return [InputFile(file, checksum) for file, checksum in rows]


def publications_on(trail: AuditTrail, as_of: dt.date) -> list[tuple[str, str, list[InputFile]]]:
    """(run id, when, input files) of every publication as of ``as_of`` that completed."""
    events = trail.frame()
    published = set(events.loc[(events["kind"] == "publish") & (events["outcome"] == "published"), "run_id"])
    started = events[(events["kind"] == "publish") & (events["outcome"] == "started")]
    out = []
    for event in started[started["as_of_date"] == as_of.isoformat()].to_dict("records"):
        if event["run_id"] in published:
            inputs = [InputFile(i["file"], i["checksum"]) for i in json.loads(event["inputs"])]
            out.append((event["run_id"], event["at"], inputs))
    return out


def _given(value: object) -> bool:
    """Whether an event field holds a value: the trail is read through pandas, where an unset text
    field is NaN, which is truthy and printed as "nan"."""
    return value is not None and not (isinstance(value, float) and pd.isna(value)) and value != ""


def describe(events: Sequence[Mapping[str, object]]) -> list[str]:
    """One line per event, for ``inflow audit``."""
    lines = []
    for e in events:
        inputs = json.loads(str(e["inputs"]))
        parts = [str(e["at"]), str(e["kind"]), str(e["outcome"]), f"by {e['os_user']}"]
        parts += [f"as of {e['as_of_date']}"] if _given(e.get("as_of_date")) else []
        parts += [str(e["subject"])] if _given(e.get("subject")) else []
        parts += [f"{int(e['rows']):,} rows"] if _given(e.get("rows")) else []
        parts += [f"{len(inputs)} input file(s)"] if inputs else []
        parts += [f"run {e['run_id']}"] if _given(e.get("run_id")) else []
        lines.append("  ".join(parts) + (f"\n    {e['detail']}" if _given(e.get("detail")) else ""))
    return lines
