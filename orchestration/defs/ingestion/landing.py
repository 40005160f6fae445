"""Land one source table: every new batch is read, typed, validated, deduplicated and recorded.

Guarantees, per batch (a file, or a query result):
- idempotent: a batch whose checksum was already loaded for this table is skipped;
- lossless: rows_landed = rows_accepted + rows_quarantined, every quarantined row has its reasons
  in ``quality.exceptions`` with the file, row, column, rule and owner;
- atomic: a batch lands completely or not at all; a batch unusable as a whole is rejected with a
  message naming the file, the column and the rule, and none of its rows reach ``raw``; once the
  same batch lands (the configuration fixed), its rejection leaves ``quality.exceptions``;
- one row per business key among accepted rows: exact duplicates keep the first copy, conflicting
  duplicates keep the latest ``updated_at`` (then the latest load, the later file name, the last
  row) — the others are quarantined with ``duplicate_exact`` / ``duplicate_conflict``;
- a re-delivery replaces: a file rewritten under its path (or, for a ``snapshot`` table, any new
  file or query result) is the current content of what it replaces. The earlier delivery's load
  is kept with status ``replaced``, its open exceptions close, and of its rows only the versions
  the new delivery changed or dropped stay in raw, with ``_status = 'replaced'``. Raw's accepted
  rows are then what a landing of today's files into an empty home would accept, and an unchanged
  row exported again is not a duplicate of itself (decision L1, ``docs/decisions.md``).

New batches of a table are landed in groups (:class:`BatchGroup`): typing, validation, insert and
deduplication run once per group rather than once per file, which is what makes a table of a
hundred monthly files cheap. The guarantees above still hold batch by batch.
"""

from __future__ import annotations

import datetime as dt
import glob
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import duckdb
import pandas as pd

from expectations.contracts import ENTITIES, Entity
from expectations.privacy import mask, mask_sql, pseudonym_sql, tombstone_hash_sql
from expectations.relations import Link, cycle_failures
from expectations.runner import BatchCounts, QuarantineLimits, RuleTally, judge_batches
from expectations.sql import FAILURE_SEPARATOR, Known, batch_counts_sql, lit, rules_sql
from expectations.suites import Bounds
from orchestration.config import InflowConfig, SourceConfig, TableConfig, sqlite_path
from orchestration.defs.ingestion import readers
from orchestration.defs.ingestion.date_order import established_orders, judge_date_order, record_order
from orchestration.defs.ingestion.readers import LANDING, BatchRejected
from orchestration.defs.ingestion.typing_sql import typed_batch_sql
from orchestration.defs.quality.store import LoadRecord, record_load, record_rejection, settle_rejections
from orchestration.paths import PathOutsideRoots, check_file
from orchestration.privacy import KEY_SQL, set_key
from orchestration.progress import Progress, rate_text
from orchestration.secret_refs import resolve_secrets
from orchestration.warehouse import ensure_raw_table, scalar

TYPED = "_typed"
CYCLE_FAILURES = "_cycle_failures"
#: New batches of a table, each kept in its own temp table ``_batch_rows_<ordinal>`` as read, are
#: seen together through this view (with the ordinal in ``_batch``) and landed together.
GROUP_LANDING = "_group_landing"
BATCH_ROWS = "_batch_rows_"
GROUP_BATCHES = "_group_batches"
#: New files of one table are landed in groups of about this many rows: one typing-and-judging
#: statement, one insert and one deduplication per group instead of per file (their fixed costs
#: dominated tables of many monthly files).
GROUP_ROWS = 1_000_000
#: Earlier loads a group's batches replace, the accepted rows they replace, and those rows' keys
#: (:func:`_retire_replaced`).
REPLACED = "_replaced"
REPLACED_ROWS = "_replaced_rows"
REPLACED_KEYS = "_replaced_keys"
#: What a group's batches replace (decision L1, L2): every earlier load of the table (a snapshot),
#: the earlier loads of the files they deliver again (a delta table), or the rows of the keys they
#: deliver (a partial batch read above a watermark).
Scope = Literal["table", "file", "keys"]
#: SQL on ``quality.source_loads``: the load was a whole batch, not a partial read above a watermark
#: (whose label the reader marks, :data:`readers.PARTIAL_MARK`).
WHOLE_READ = f"position({lit(readers.PARTIAL_MARK)} in file) = 0"
#: Rules a row is quarantined by only because another row holds its key.
DUPLICATE_RULES = ("duplicate_exact", "duplicate_conflict")
#: Ids landed before a table's new batches, that its rows may reference (snapshots per table).
KNOWN_CUSTOMERS = "_known_customers"
KNOWN_PARENTS = "_known_parents"


@dataclass(frozen=True)
class LandingContext:
    """What judging a table's batches needs beyond their rows.

    ``load_date`` bounds how far in the future a landed date may lie. It is the day of loading,
    not a run's as-of date: raw keeps data as landed, and rebuilding an earlier as-of date must
    not quarantine rows that are merely later than that date.
    """

    reporting_currency: str
    load_date: dt.date
    drop_threshold: float
    known: Known
    limits: QuarantineLimits | None = None
    tombstones: bool = False

    @property
    def bounds(self) -> Bounds:
        return Bounds(as_of=self.load_date)


def file_checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def batch_files(config: InflowConfig, tbl: TableConfig) -> list[Path]:
    """Files matching a table's path or glob, oldest name first so monthly drops land in order."""
    pattern = str(config.resolve(tbl.path or ""))
    return [Path(p) for p in sorted(glob.glob(pattern)) if Path(p).is_file()]


def resolve_url(config: InflowConfig, url: str, where: str = "sources.url") -> tuple[str, list[str]]:
    """A source's URL ready to connect: its ``${NAME}`` references read from the environment (the
    values returned too, for redacting messages), and a SQLite path relative to the configuration
    file's folder."""
    url, secrets = resolve_secrets(url, where)
    return _sqlite_relative(config, url), secrets


def _sqlite_relative(config: InflowConfig, url: str) -> str:
    """SQLite URLs with a relative path are relative to the configuration file's folder; the
    database file must be inside it or ``paths.roots``."""
    prefix = "sqlite:///"
    database = sqlite_path(url)
    if database is not None:
        confined(config, config.resolve(database))
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        return prefix + str(config.resolve(url[len(prefix) :]))
    return url


def confined(config: InflowConfig, path: Path) -> Path:
    """``path`` when it (links resolved) is inside the configuration's folder or ``paths.roots``;
    otherwise the batch is rejected (``path_outside_roots``) before a byte is read."""
    try:
        check_file(path, config.base_dir, config.paths)
    except PathOutsideRoots as exc:
        raise BatchRejected("path_outside_roots", str(exc)) from None
    return path


def _already_loaded(con: duckdb.DuckDBPyConnection, raw_table: str, checksum: str) -> bool:
    loaded = scalar(
        con,
        "select count(*) from quality.source_loads where source_table = ? and checksum = ? and status = 'loaded'",
        [raw_table, checksum],
    )
    return loaded > 0


def _previous_rows(con: duckdb.DuckDBPyConnection, raw_table: str) -> int | None:
    """Rows of the table's latest whole load, which a snapshot must not fall far below (a partial
    batch read above a watermark is small by design: decision L2)."""
    return scalar(
        con,
        "select rows_landed from quality.source_loads where source_table = ? and status = 'loaded' "  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
        f"and {WHOLE_READ} order by loaded_at desc, file desc limit 1",
        [raw_table],
    )


def known_relations(con: duckdb.DuckDBPyConnection, ent: Entity) -> Known:
    """Snapshot the ids landed before this table that its rows may reference.

    ``unknown_customer`` is judged only once a customer master has landed (with none, every
    reference would be unknown and the rule would say nothing useful); a parent link may name an
    accepted row of the entity landed earlier.
    """
    customers = None
    if ent.customer_references() and ent.name != "customers":
        con.execute(
            f"create or replace temp table {KNOWN_CUSTOMERS} as select distinct customer_id "  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
            "from raw.customers where _status = 'accepted'"  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
        )
        customers = KNOWN_CUSTOMERS if scalar(con, f"select count(*) from {KNOWN_CUSTOMERS}") else None  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
    parents = None
    if ent.parent:
        con.execute(
            f"create or replace temp table {KNOWN_PARENTS} as select distinct {ent.key[0]} as id "  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
            f"from raw.{ent.name} where _status = 'accepted'"  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
        )
        parents = KNOWN_PARENTS
    return Known(customers=customers, parents=parents)


def _landing_checksum(con: duckdb.DuckDBPyConnection) -> str:
    """Checksum of a query result: two 64-bit digests of every landed row, and the row count.

    Each row's hash is hashed again as text with its row number, so the digest is
    order-sensitive (DuckDB combines the hashes of a row's fields in a way that XOR over rows
    would undo). It only has to tell "the same result as a load before" from "a new one"; an md5
    over every row's JSON did the same at four times the cost (2.3 s against 0.5 s on a million rows).
    """
    return scalar(
        con,
        "select printf('%016x%016x-%d', bit_xor(hash(concat(_row_number, ':', hash(l)))), "  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
        f"bit_xor(hash(concat(hash(l), '/', _row_number))), count(*)) from {LANDING} l",  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
    )


def _register_batches(con: duckdb.DuckDBPyConnection, batches: dict[int, LoadRecord]) -> None:
    """The accepted batches of a group with their lineage, keyed by their ordinal in the group."""
    frame = pd.DataFrame(
        [(i, r.source, r.source_table, r.file, r.checksum, r.loaded_at) for i, r in batches.items()],
        columns=["batch", "source", "source_table", "file", "checksum", "loaded_at"],
    ).astype({"batch": "int64", "loaded_at": "datetime64[us]"})
    con.register("_group_batches_frame", frame)
    con.execute(f"create or replace temp table {GROUP_BATCHES} as select * from _group_batches_frame")  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
    con.unregister("_group_batches_frame")


def payload_sql(ent: Entity, names: list[str], qualifier: str = "") -> str:
    """JSON of a row for its owner: the canonical columns (and row number) as landed, personal
    ones masked. Unmapped source columns (``_extra``) are left out: they are not needed to find and
    fix the row (file and row number say where it is), and may hold anything."""
    personal = ent.personal
    fields = [
        f"{n} := {mask_sql(qualifier + n, personal[n]) if n in personal else qualifier + n}"
        for n in names
        if n not in ("_batch", "_extra")
    ]
    return f"cast(to_json(struct_pack({', '.join(fields)})) as varchar)"


def _payload_sql(con: duckdb.DuckDBPyConnection, ent: Entity) -> str:
    """:func:`payload_sql` of a row of the group as the reader produced it."""
    return payload_sql(ent, [r[0] for r in con.execute(f"describe {GROUP_LANDING}").fetchall()], "l.")


def _insert_batches(con: duckdb.DuckDBPyConnection, ent: Entity, raw_table: str, owner: str) -> None:
    """Write the accepted batches' rows to raw with their status, and each failure to quality.exceptions."""
    sep = FAILURE_SEPARATOR
    con.execute(
        f"""
        create or replace temp table _batch_failures as
        select _batch as batch, _row_number as row_number, split_part(f, '{sep}', 1) as rule,
               split_part(f, '{sep}', 2) as column_name, split_part(f, '{sep}', 3) as detail
        from (select _batch, _row_number, unnest(_failures) as f from {TYPED}
              where _batch in (select batch from {GROUP_BATCHES}))
        union all
        select batch, row_number, rule, column_name, detail from {CYCLE_FAILURES}
        where batch in (select batch from {GROUP_BATCHES})
        """  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
    )
    cols = ", ".join(f"t.{c}" for c in ent.column_names)
    con.execute(
        f"""
        insert into raw.{raw_table}
        select {cols}, b.source, b.source_table, b.file, b.checksum, t._row_number, b.loaded_at,
               case when q.row_number is null then 'accepted' else 'quarantined' end, t._extra
        from {TYPED} t
        join {GROUP_BATCHES} b on b.batch = t._batch
        left join (select distinct batch, row_number from _batch_failures) q
               on q.batch = t._batch and q.row_number = t._row_number
        """  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
    )
    con.execute(
        f"""
        insert into quality.exceptions
        select b.source, b.source_table, ?, b.file, b.checksum, f.row_number, f.rule, nullif(f.column_name, ''),
               f.detail, ?, {_payload_sql(con, ent)}, b.loaded_at
        from _batch_failures f
        join {GROUP_BATCHES} b on b.batch = f.batch
        join {GROUP_LANDING} l on l._batch = f.batch and l._row_number = f.row_number
        """,  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
        [ent.name, owner],
    )


def apply_tombstones(con: duckdb.DuckDBPyConnection, ent: Entity, raw_table: str) -> int:
    """Pseudonymise the group's rows of an erased person (``inflow erase``): a contact whose e-mail,
    or whose account's customer, has a tombstone, and the rows of a tombstoned customer; their
    unmapped columns (``_extra``) are dropped. The home's key is on the connection (``set_key``).
    Returns the rows changed."""
    subject = {c: k for c, k in ent.personal.items() if k != "staff"}
    if not subject:
        return 0
    stones = "select hash from privacy.tombstones where kind = "
    conditions = [
        f"{tombstone_hash_sql(c, 'email', KEY_SQL)} in ({stones}'email')" for c, k in subject.items() if k == "email"
    ]
    customers = f"{tombstone_hash_sql('customer_id', 'customer', KEY_SQL)} in ({stones}'customer')"
    if "customer_id" in ent.column_names:
        conditions.append(customers)
    if ent.name == "crm_contacts":
        conditions.append(f"account_id in (select account_id from raw.crm_accounts where {customers})")  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
    if not conditions:
        return 0
    sets = ", ".join([*(f"{c} = {pseudonym_sql(c, k, KEY_SQL)}" for c, k in subject.items()), "_extra = null"])
    row = con.execute(
        f"update raw.{raw_table} set {sets} where _checksum in (select checksum from {GROUP_BATCHES}) "  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
        f"and ({' or '.join(conditions)})"  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
    ).fetchone()
    return int(row[0]) if row else 0


def has_tombstones(con: duckdb.DuckDBPyConnection) -> bool:
    exists = scalar(
        con, "select count(*) from duckdb_tables() where schema_name = 'privacy' and table_name = 'tombstones'"
    )
    return bool(exists) and bool(scalar(con, "select count(*) from privacy.tombstones"))


def _deduplicate(con: duckdb.DuckDBPyConnection, ent: Entity, raw_table: str, owner: str) -> list[str]:
    """Quarantine all but one accepted row per business key, for the keys the group's batches touched
    and the keys of the deliveries they replaced (:data:`REPLACED_KEYS`).

    Returns the checksums of earlier loads that lost rows, whose recorded counts are now stale.
    """
    key = ", ".join(ent.key)
    content_cols = [c for c in ent.column_names if c != "updated_at"]
    recency = "updated_at desc nulls last, " if "updated_at" in ent.column_names else ""
    con.execute(
        f"""
        create or replace temp table _dupes as
        with touched as (
            select distinct {key} from raw.{raw_table}
            where _checksum in (select checksum from {GROUP_BATCHES}) and _status = 'accepted'
            union
            select {key} from {REPLACED_KEYS}
        ),
        repeated as (
            select {key} from raw.{raw_table} r semi join touched using ({key})
            where r._status = 'accepted' group by all having count(*) > 1
        ),
        candidates as (
            select r.*, hash({", ".join("r." + c for c in content_cols)}) as _content
            from raw.{raw_table} r join repeated using ({key}) where r._status = 'accepted'
        ),
        winning_content as (
            select {key}, _content as _win
            from (select *, row_number() over (partition by {key}
                  order by {recency}_loaded_at desc, _file desc, _row_number desc) as rn from candidates)
            where rn = 1
        ),
        ranked as (
            select c.*, w._win, row_number() over (partition by {", ".join("c." + k for k in ent.key)}
                   order by (c._content = w._win) desc, c._loaded_at, c._file, c._row_number) as keep_rank
            from candidates c join winning_content w using ({key})
        )
        select *, case when _content = _win then 'duplicate_exact' else 'duplicate_conflict' end as rule
        from ranked where keep_rank > 1
        """  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
    )
    if scalar(con, "select count(*) from _dupes") == 0:
        return []
    key_text = " || '/' || ".join(f"coalesce(cast({k} as varchar), '')" for k in ent.key)
    con.execute(
        f"""
        insert into quality.exceptions
        select _source, _source_table, ?, _file, _checksum, _row_number, rule, ?,
               case when rule = 'duplicate_exact'
                    then 'exact duplicate of key ' || {key_text} || ' already accepted'
                    else 'conflicting duplicate of key ' || {key_text} || ': a later version wins' end,
               ?, {payload_sql(ent, ent.column_names)},
               (select max(loaded_at) from {GROUP_BATCHES})
        from _dupes
        """,  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
        [ent.name, ent.key[0], owner],
    )
    con.execute(
        f"""
        update raw.{raw_table} r set _status = 'quarantined'
        from _dupes d where r._checksum = d._checksum and r._row_number = d._row_number
        """  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
    )
    return [
        checksum
        for (checksum,) in con.execute(
            f"select distinct _checksum from _dupes where _checksum not in (select checksum from {GROUP_BATCHES})"  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
        ).fetchall()
    ]


def _retire_replaced(con: duckdb.DuckDBPyConnection, ent: Entity, raw_table: str, scope: Scope) -> list[str]:
    """Retire what the group's batches replace (decisions L1 and L2), before they land.

    ``scope`` says what: for a ``snapshot`` table every earlier load of the table (``table``), for
    a ``delta`` table the earlier loads of a file the group delivers again, the same path with
    new bytes (``file``); those loads get status ``replaced`` in ``quality.source_loads``. A
    partial batch read above a watermark replaces the rows of the keys it delivers, whichever
    load they came from (``keys``). The rows replaced (:data:`REPLACED_ROWS`) that were quarantined
    leave raw with their exceptions; the accepted ones wait for :func:`_settle_replaced_rows`. A
    row of another load that was quarantined only as a duplicate of a key a replaced row held is
    accepted again, and the deduplication that follows judges its key afresh, as a landing of
    today's data into an empty home would. Returns the checksums of the loads whose counts that
    changed.
    """
    key = ", ".join(ent.key)
    con.execute(
        f"""
        create or replace temp table {REPLACED} as
        select load_id, checksum, file from quality.source_loads
        where source_table = ? and status = 'loaded'
            and (? = 'table' or (? = 'file' and file in (select file from {GROUP_BATCHES})))
        """,  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
        [raw_table, scope, scope],
    )
    if scope == "keys":
        scoped = (
            f"semi join (select distinct {key} from {TYPED} where _batch in (select batch from {GROUP_BATCHES})) "  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
            f"using ({key})"
        )
    else:
        scoped = f"where _checksum in (select checksum from {REPLACED})"  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
    con.execute(
        f"create or replace temp table {REPLACED_ROWS} as select _checksum, _row_number, _status "  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
        f"from (select * from raw.{raw_table} {scoped}) where _status <> 'replaced'"
    )
    con.execute(
        f"create or replace temp table {REPLACED_KEYS} as select distinct {key} from raw.{raw_table} r "  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
        f"where {_is_replaced_row('r')}"
    )
    if not scalar(con, f"select count(*) from {REPLACED}") and not scalar(con, f"select count(*) from {REPLACED_ROWS}"):  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
        return []
    con.execute(
        "delete from quality.exceptions e where e.source_table = ? and "  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
        + _is_replaced_row("e", "checksum", "row_number"),
        [raw_table],
    )
    con.execute(f"delete from raw.{raw_table} r where r._status = 'quarantined' and {_is_replaced_row('r')}")  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
    con.execute(
        f"""
        update quality.source_loads set status = 'replaced',
               message = 'replaced by the delivery of '
                         || strftime((select max(loaded_at) from {GROUP_BATCHES}), '%Y-%m-%d %H:%M:%S')
        where load_id in (select load_id from {REPLACED})
        """  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
    )
    revived = con.execute(
        f"""
        select _checksum, _row_number from raw.{raw_table} r semi join {REPLACED_KEYS} using ({key})
        where r._status = 'quarantined' and not exists (
            select 1 from quality.exceptions e where e.source_table = ? and e.checksum = r._checksum
            and e.row_number = r._row_number and e.rule not in {DUPLICATE_RULES})
        """,  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
        [raw_table],
    ).fetchall()
    if not revived:
        return []
    con.execute("create or replace temp table _revived (checksum varchar, row_number bigint)")
    con.executemany("insert into _revived values (?, ?)", revived)
    con.execute(
        "delete from quality.exceptions e where e.source_table = ? and exists (select 1 from _revived v "
        "where v.checksum = e.checksum and v.row_number = e.row_number)",
        [raw_table],
    )
    con.execute(
        f"update raw.{raw_table} r set _status = 'accepted' from _revived v "  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
        "where r._checksum = v.checksum and r._row_number = v.row_number"
    )
    return sorted({checksum for checksum, _ in revived})


def _is_replaced_row(alias: str, checksum: str = "_checksum", row_number: str = "_row_number") -> str:
    """SQL: the row ``alias`` (of raw, or of ``quality.exceptions`` with its column names) is one of
    :data:`REPLACED_ROWS`."""
    return (
        f"exists (select 1 from {REPLACED_ROWS} x where x._checksum = {alias}.{checksum} "  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
        f"and x._row_number = {alias}.{row_number})"
    )


def _settle_replaced_rows(con: duckdb.DuckDBPyConnection, ent: Entity, raw_table: str) -> None:
    """The accepted rows the group's batches replace (:data:`REPLACED_ROWS`), once the group's rows
    are in raw (decisions L1, L2).

    A row the new delivery holds unchanged (the same key and values) goes, and its successor keeps
    the time it first landed, so ``_loaded_at`` says when a version of a row appeared and the
    daily aging restates nothing for a row merely exported again. A row the new delivery changed
    or dropped stays, with status ``replaced`` and the replacing load's time: staging ignores it,
    and the aging restates the days from its business date (``aging_restatement_start``), which a
    deleted row could not tell.
    """
    if not scalar(con, f"select count(*) from {REPLACED_ROWS}"):  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
        return
    same = " and ".join(f"n.{c} is not distinct from o.{c}" for c in ent.column_names)
    old = f"{_is_replaced_row('o')} and o._status = 'accepted'"
    new = f"n._checksum in (select checksum from {GROUP_BATCHES}) and n._status = 'accepted'"  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
    con.execute(
        f"update raw.{raw_table} n set _loaded_at = o._loaded_at from raw.{raw_table} o "  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
        f"where {old} and {new} and {same}"
    )
    con.execute(
        f"delete from raw.{raw_table} o where {old} and exists (select 1 from raw.{raw_table} n where {new} and {same})"  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
    )
    con.execute(
        f"update raw.{raw_table} o set _status = 'replaced', _loaded_at = (select max(loaded_at) from {GROUP_BATCHES}) "  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
        f"where {old}"
    )


def _refresh_counts(con: duckdb.DuckDBPyConnection, raw_table: str, checksums: list[str]) -> None:
    """Recount accepted/quarantined of the earlier loads that deduplication moved rows of.

    Only those loads: recounting every load of the table after each group made landing a table
    of many groups quadratic in its size.
    """
    if not checksums:
        return
    con.execute(
        f"""
        update quality.source_loads s set rows_accepted = c.accepted, rows_quarantined = c.quarantined
        from (select _checksum, count(*) filter (where _status = 'accepted') as accepted,
                     count(*) filter (where _status = 'quarantined') as quarantined
              from raw.{raw_table} where list_contains(?, _checksum) group by _checksum) c
        where s.source_table = ? and s.status = 'loaded' and s.checksum = c._checksum
        """,  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
        [checksums, raw_table],
    )


def _tallies(con: duckdb.DuckDBPyConnection, ent: Entity) -> dict[int, tuple[RuleTally, ...]]:
    """Per batch of the group, the rules its rows broke with counts and one example value each
    (the value as read; masked for personal columns), most frequent first."""
    sep = lit(FAILURE_SEPARATOR)
    personal = ent.personal
    rows = con.execute(
        f"""
        with f as (
            select _batch, _row_number, split_part(x, {sep}, 1) as rule, split_part(x, {sep}, 2) as col
            from (select _batch, _row_number, unnest(_failures) as x from {TYPED})
        )
        select f._batch, f.rule, nullif(f.col, ''), count(*) as n,
               min(json_extract_string(to_json(l), f.col)) as example
        from f join {GROUP_LANDING} l on l._batch = f._batch and l._row_number = f._row_number
        group by all order by f._batch, n desc, f.rule
        """  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
    ).fetchall()
    out: dict[int, list[RuleTally]] = {}
    for batch, name, column, count, example in rows:
        shown = mask(example, personal[column]) if column in personal else example
        out.setdefault(batch, []).append(RuleTally(name, column, count, shown))
    return {batch: tuple(tallies) for batch, tallies in out.items()}


def _judge_cycles(con: duckdb.DuckDBPyConnection, ent: Entity) -> None:
    """Parent-link cycles of the group's hierarchy rows that typed cleanly, into ``_cycle_failures``."""
    links = []
    if ent.parent:
        links = con.execute(
            f"select _batch, _row_number, {ent.key[0]}, {ent.parent} from {TYPED} where len(_typing_failures) = 0"  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
        ).fetchall()
    frame = pd.DataFrame(
        list(cycle_failures(ent, (Link(*link) for link in links))),
        columns=["batch", "row_number", "rule", "column_name", "detail"],
    )
    frame = frame.astype(
        {"batch": "int64", "row_number": "int64", "rule": "object", "column_name": "object", "detail": "object"}
    )
    con.register("_cycle_failures_frame", frame)
    con.execute(f"create or replace temp table {CYCLE_FAILURES} as select * from _cycle_failures_frame")  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
    con.unregister("_cycle_failures_frame")


class BatchGroup:
    """New batches of one source table, read and stacked until they are landed together.

    Landing a group is one transaction: its batches land completely or not at all. A batch that
    is unusable as a whole is rejected and recorded on its own; the others of its group land.
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        ent: Entity,
        tbl: TableConfig,
        raw_table: str,
        owner: str,
        landing: LandingContext,
    ) -> None:
        self.con, self.ent, self.tbl, self.raw_table, self.owner = con, ent, tbl, raw_table, owner
        self.landing = landing
        self.batches: list[LoadRecord] = []
        self.rows = 0

    def holds(self, checksum: str) -> bool:
        return any(rec.checksum == checksum for rec in self.batches)

    def add(self, rec: LoadRecord, read: Callable[[], readers.LandedBatch]) -> LoadRecord:
        """Read one batch into the group; a batch rejected or already loaded is settled at once."""
        con = self.con
        try:
            landed = read()
            rec.file, rec.rows_landed = landed.file, landed.rows
            rec.warnings.extend(landed.warnings)
            if not rec.checksum:
                rec.checksum = _landing_checksum(con)
                if _already_loaded(con, self.raw_table, rec.checksum) or self.holds(rec.checksum):
                    rec.status = "skipped"
                    return rec
        except BatchRejected as exc:
            record_rejection(con, rec, exc.rule, str(exc), exc.column, self.owner)
            return rec
        con.execute(f"alter table {readers.LANDING_ROWS} rename to {BATCH_ROWS}{len(self.batches)}")
        self.batches.append(rec)
        self.rows += landed.rows
        return rec

    def land(self, progress: Callable[[str], None]) -> None:
        """Type, judge, insert and deduplicate every batch of the group, then empty it."""
        if not self.batches:
            return
        con, batches = self.con, self.batches
        progress(f"{self.raw_table}: typing, validating and landing {len(batches)} batch(es), {self.rows:,} rows")
        started = time.monotonic()
        con.execute(
            f"create or replace temp view {GROUP_LANDING} as "  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
            + " union all ".join(
                f"select cast({i} as bigint) as _batch, * from ({readers.numbered_rows_sql(f'{BATCH_ROWS}{i}')})"  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
                for i in range(len(batches))
            )  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
        )
        con.execute("begin transaction")
        try:
            accepted = self._judge()
            if accepted:
                self._insert(accepted)
            con.execute("commit")
            progress(f"{self.raw_table}: landed {rate_text(self.rows, time.monotonic() - started)}")
        except Exception:
            con.execute("rollback")
            raise
        finally:
            con.execute(f"drop view if exists {GROUP_LANDING}")
            for i in range(len(batches)):
                con.execute(f"drop table if exists {BATCH_ROWS}{i}")
            self.batches, self.rows = [], 0

    def _judge(self) -> dict[int, LoadRecord]:
        """Type and judge the whole group in one statement, then the batch rules from its counts;
        rejected batches are recorded here, the accepted ones returned by ordinal."""
        con, ent, landing, tbl = self.con, self.ent, self.landing, self.tbl
        files = [r.file for r in self.batches]
        orders = judge_date_order(con, ent, tbl, GROUP_LANDING, files, established_orders(con, self.raw_table))
        order_problems = orders.problems
        typed = typed_batch_sql(ent, tbl, GROUP_LANDING, orders.formats)
        con.execute(
            f"create or replace temp table {TYPED} as "
            + rules_sql(ent, typed, landing.reporting_currency, landing.bounds, landing.known)
        )
        usable, quarantined = {}, {}
        for row in con.execute(batch_counts_sql(ent, TYPED)).fetchall():
            usable[row[0]] = dict(zip(ent.required, row[3:], strict=True))
            quarantined[row[0]] = row[2]
        tallies = _tallies(con, ent)
        columns = frozenset(ent.column_names)
        counts = [
            BatchCounts(
                rec.rows_landed,
                _previous_rows(con, self.raw_table),
                columns,
                usable.get(i, {}),
                quarantined.get(i, 0),
                tallies.get(i, ()),
                snapshot=tbl.load_mode == "snapshot" and not rec.partial,
                may_be_empty=tbl.may_be_empty or rec.partial,
            )
            for i, rec in enumerate(self.batches)
        ]
        judged = judge_batches(
            ent,
            counts,
            landing.drop_threshold,
            landing.limits,
            rejected=frozenset(order_problems),
        )
        accepted = {}
        for i, (rec, problems) in enumerate(zip(self.batches, judged, strict=True)):
            problems = order_problems.get(i, []) + problems
            if problems:
                message = f"{rec.file}: " + "; ".join(f"{name}: {text}" for name, text in problems)
                record_rejection(con, rec, problems[0][0], message, None, self.owner)
            else:
                accepted[i] = rec
        for column, (fmt, shown_by) in orders.decided.items():
            first = min((i for i in shown_by if i in accepted), default=None)
            if first is not None:
                record_order(con, self.raw_table, column, fmt, files[first])
        _judge_cycles(con, ent)
        return accepted

    def _insert(self, accepted: dict[int, LoadRecord]) -> None:
        con = self.con
        _register_batches(con, accepted)
        scope: Scope = "table" if self.tbl.load_mode == "snapshot" else "file"
        if any(rec.partial for rec in accepted.values()):
            scope = "keys"
        revived = _retire_replaced(con, self.ent, self.raw_table, scope)
        replaced = dict(con.execute(f"select file, count(*) from {REPLACED} group by file").fetchall())  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
        for rec in accepted.values():
            rec.replaced = sum(replaced.values()) if scope == "table" else replaced.get(rec.file, 0)
        _insert_batches(con, self.ent, self.raw_table, self.owner)
        if self.landing.tombstones:
            apply_tombstones(con, self.ent, self.raw_table)
        _settle_replaced_rows(con, self.ent, self.raw_table)
        stale = sorted(set(_deduplicate(con, self.ent, self.raw_table, self.owner)) | set(revived))
        counts = {
            checksum: (a, q)
            for checksum, a, q in con.execute(
                f"select _checksum, count(*) filter (where _status = 'accepted'), "  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
                f"count(*) filter (where _status = 'quarantined') from raw.{self.raw_table} "
                f"where _checksum in (select checksum from {GROUP_BATCHES}) group by _checksum"  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
            ).fetchall()
        }
        for rec in accepted.values():
            rec.rows_accepted, rec.rows_quarantined = counts.get(
                rec.checksum, (0, 0)
            )  # (0, 0): a derived table took no row
            record_load(con, rec)
        settle_rejections(con)
        _refresh_counts(con, self.raw_table, stale)


def watermark_since(con: duckdb.DuckDBPyConnection, raw_table: str, tbl: TableConfig) -> str | None:
    """The day from which a watermarked query table is read (decision L2), or None to read it whole.

    Whole: the first load, and once ``full_every_days`` have passed since the last whole read (the
    reconciliation that catches deleted rows and rows written late with an earlier value; days by
    the clock loads are recorded with, not the run's as-of date). Else
    the day of the latest accepted watermark value: that day is read again, because rows of the
    same day may have been written after the last read, and ISO text of a day sorts before every
    timestamp of it. Rows read again unchanged replace themselves (no duplicate).
    """
    if tbl.watermark is None:
        return None
    last_whole = scalar(
        con,
        "select max(loaded_at) from quality.source_loads where source_table = ? "  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
        f"and status in ('loaded', 'replaced') and {WHOLE_READ}",
        [raw_table],
    )
    if last_whole is None or (dt.date.today() - last_whole.date()).days >= tbl.watermark.full_every_days:
        return None
    latest = scalar(con, f"select max({tbl.watermark.column}) from raw.{raw_table} where _status = 'accepted'")  # noqa: S608 (identifiers from the contract and validated table names; data bound or lit())
    return None if latest is None else latest.strftime("%Y-%m-%d")


def land_table(
    con: duckdb.DuckDBPyConnection,
    config: InflowConfig,
    source_name: str,
    table_name: str,
    load_date: dt.date,
    progress: Callable[[str], None] = lambda _msg: None,
    tombstone_key: str | None = None,
) -> list[LoadRecord]:
    """Land every new batch of one configured source table; return a record per batch seen.
    With the home's ``tombstone_key``, rows of people erased before are pseudonymised as they land."""
    src: SourceConfig = config.sources[source_name]
    tbl = src.tables[table_name]
    ent = ENTITIES[tbl.entity]
    raw_table = f"{source_name}__{table_name}"
    ensure_raw_table(con, raw_table, ent.name)
    if tombstone_key is not None:
        set_key(con, tombstone_key)
    landing = LandingContext(
        config.reporting_currency,
        load_date,
        tbl.row_count_drop_threshold,
        known_relations(con, ent),
        QuarantineLimits(*config.quarantine_limits(tbl)),
        tombstones=tombstone_key is not None and has_tombstones(con),
    )
    group = BatchGroup(con, ent, tbl, raw_table, src.owner, landing)

    def new_record(file: str, checksum: str, status: str = "loaded") -> LoadRecord:
        return LoadRecord(source_name, raw_table, ent.name, file, checksum, status=status)

    records: list[LoadRecord] = []
    read = Progress(f"{raw_table}: read", progress)
    if tbl.format == "query":
        url, secrets = resolve_url(config, src.url or "", f"sources.{source_name}.url")
        since = watermark_since(con, raw_table, tbl)
        rec = new_record(f"query:{raw_table}", "")
        rec.partial = since is not None
        records.append(
            group.add(
                rec,
                lambda: readers.read_query(con, url, tbl, ent.required, on_rows=read.add, secrets=secrets, since=since),
            )
        )
    else:
        files = batch_files(config, tbl)
        if not files:
            raise BatchRejected("no_files", f"{config.resolve(tbl.path or '')}: no file matches the configured path")
        reader = readers.FILE_READERS[tbl.format]
        for path in files:
            confined(config, path)
        for index, path in enumerate(files, start=1):
            checksum = file_checksum(path)
            if _already_loaded(con, raw_table, checksum) or group.holds(checksum):
                records.append(new_record(str(path), checksum, status="skipped"))
                continue
            records.append(group.add(new_record(str(path), checksum), lambda p=path: reader(con, p, tbl, ent.required)))
            read.add(records[-1].rows_landed, f"file {index}/{len(files)} {path.name}")
            if group.rows >= GROUP_ROWS:
                group.land(progress)
    group.land(progress)
    if read.rows:
        read.finish(f"{sum(r.status != 'skipped' for r in records)} new batch(es) read and landed")
    return records
