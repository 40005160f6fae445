"""``inflow erase``: pseudonymise one person's personal data in every store under the home.

A person is named by a contact's e-mail address (``--contact``) or by the ERP customer whose
contacts and notes are erased (``--customer``). Financial rows are never deleted: documents,
amounts and dates are the ERP's and must still reconcile; only personal values change.

What is erased (the *values*): the name, e-mail and phone of every matching contact, and, for a
customer, the text of its activities. Where (every store Inflow keeps under the home):

- every DuckDB file (the warehouse, serving, a pending or moved-aside copy): the subject's rows of
  the raw layer (contacts by e-mail or account, a customer's activities) get pseudonyms in their
  personal columns and lose their unmapped columns (``_extra``); every personal column the contract
  or a dbt model declares (``meta.personal``) is pseudonymised where it holds an erased value, and
  free text, exception payloads and details, load messages and the outbox copy lose every
  occurrence of one. The warehouse is updated in place rather than rebuilt: a rebuild needs the
  run's whole as-of context, and the next run rebuilds the marts from the erased raw layer anyway.
  Then each file is rewritten into a fresh file (``COPY FROM DATABASE``, same storage version) and
  swapped in, so no erased value survives in a free block;
- the ERP outbox (SQLite) and the Dagster instance's SQLite stores: occurrences replaced, then
  ``VACUUM`` (free pages) and the write-ahead log truncated;
- every other file (exports in CSV, XLSX, Parquet; owners' exception files, review packs, ERP import
  files, dbt logs and artifacts, compute logs): each occurrence replaced, the file rewritten atomically.

Afterwards every file is searched again (its bytes, and DuckDB and Parquet files by query, since
their strings may be compressed); anything left fails the erasure naming the file. A tombstone
(a keyed hash of the e-mail address, or of the customer id) is kept in ``privacy.tombstones`` so
landing pseudonymises the person when the next export brings them back, and the erasure is
recorded in the audit trail: what (the tombstone), when, by whom, how many rows — never a value.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import json
import os
import shutil
import sqlite3
import zipfile
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from expectations.contracts import ENTITIES, Entity
from expectations.privacy import ERASED_TEXT, PersonalKind, pseudonym_sql, tombstone_hash_sql
from expectations.sql import lit
from orchestration.audit import AuditTrail
from orchestration.privacy import KEY_SQL, personal_columns, pseudonym_key, set_key
from orchestration.settings import Settings
from orchestration.warehouse import raw_columns

#: Values shorter than this are not searched inside free text (a two-letter name would erase
#: parts of unrelated words); they are still replaced where a whole column holds them.
MIN_SUBSTRING = 3
#: Free-text and JSON columns of Inflow's own tables that may quote a landed value.
TEXT_BLOBS: dict[tuple[str, str], tuple[str, ...]] = {
    ("quality", "exceptions"): ("detail", "payload"),
    ("quality", "source_loads"): ("message",),
    ("writeback", "erp_outbox"): ("value", "value_json", "last_error", "reason"),
    ("writeback", "erp_outbox_exceptions"): ("detail", "payload"),
}
#: Tables never changed: the append-only audit trail (it holds no personal values by design, which
#: the verification confirms) and the tombstones themselves.
UNTOUCHED = frozenset({("audit", "events"), ("privacy", "tombstones")})
TOMBSTONES_DDL = """
create table if not exists privacy.tombstones (
    hash varchar primary key,
    kind varchar not null,
    erased_at timestamp not null
)
"""
_DUCKDB_MAGIC = (8, b"DUCK")
_SQLITE_MAGIC = b"SQLite format 3\x00"


class ErasureError(RuntimeError):
    """The erasure could not be done, or left a value somewhere (named)."""


@dataclass
class Subject:
    """Who is erased: the tombstones that keep them out, the customer (if any), and the values."""

    label: str
    tombstones: list[tuple[str, str]]  # (kind, hash)
    customer: str | None = None
    emails: list[str] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)
    values: list[str] = field(default_factory=list)


@dataclass
class ErasureReport:
    subject: str
    values: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def add(self, where: str, count: int) -> None:
        if count:
            self.rows[where] = self.rows.get(where, 0) + count

    def lines(self) -> list[str]:
        out = [f"inflow erase: {self.subject}: {self.values} value(s) erased, {sum(self.rows.values()):,} row(s)"]
        out += [f"  {where}: {count:,} row(s)" for where, count in sorted(self.rows.items())]
        out += [f"  rewritten: {name}" for name in self.files]
        if not self.values and not self.rows:  # a mistyped id reads like a finished erasure otherwise
            out.append(
                f"  nothing of {self.subject} was found in this home's data: check the id. Its tombstone is "
                "recorded, so it is pseudonymised if it ever lands"
            )
        return out


# --- who -----------------------------------------------------------------------------------------


def _raw_tables(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, Entity]:
    """Raw tables of an attached database by entity, recognised by their columns (a table a
    configuration no longer lists is still erased)."""
    shapes = {tuple(name for name, _ in raw_columns(ent)): ent for ent in ENTITIES.values()}
    found: dict[str, list[str]] = {}
    for table, column in con.execute(
        "select table_name, column_name from duckdb_columns() where database_name = ? and schema_name = 'raw' "
        "and table_name in (select table_name from duckdb_tables() where database_name = ? and schema_name = 'raw') "
        "order by table_name, column_index",
        [catalog, catalog],
    ).fetchall():
        found.setdefault(table, []).append(column)
    return {table: shapes[tuple(cols)] for table, cols in found.items() if tuple(cols) in shapes}


def _find_subject(con: duckdb.DuckDBPyConnection, customer: str | None, contact: str | None) -> Subject:
    """The values to erase, from the warehouse's raw layer (attached as ``wh``)."""
    tables = _raw_tables(con, "wh")
    contacts = [t for t, e in tables.items() if e.name == "crm_contacts"]
    accounts = [t for t, e in tables.items() if e.name == "crm_accounts"]
    activities = [t for t, e in tables.items() if e.name == "activities"]
    subject_accounts: list[str] = []
    if customer is not None:
        for t in accounts:
            found = con.execute(
                f"select distinct account_id from wh.raw.{_quote(t)} where customer_id = ?",  # noqa: S608 (catalog names, quoted)
                [customer],
            ).fetchall()
            subject_accounts += [r[0] for r in found]
    emails = [contact.strip(" ").lower()] if contact else []
    rows: list[tuple] = []
    for t in contacts:
        rows += con.execute(
            f"select name, email, phone from wh.raw.{_quote(t)} "  # noqa: S608 (catalog names, quoted)
            "where lower(trim(email)) in (select unnest(?)) or account_id in (select unnest(?))",
            [emails or [""], subject_accounts or [""]],
        ).fetchall()
    values = [v for row in rows for v in row if v]
    emails = sorted({*emails, *(r[1].strip(" ").lower() for r in rows if r[1])})
    if customer is not None:
        for t in activities:
            found = con.execute(
                f"select distinct text from wh.raw.{_quote(t)} where customer_id = ? and text is not null",  # noqa: S608 (catalog names, quoted)
                [customer],
            ).fetchall()
            values += [r[0] for r in found]
    tombstones = [("email", e) for e in emails] + ([("customer", customer)] if customer is not None else [])
    label = f"customer {customer}" if customer is not None else "contact"
    unique = sorted({v.strip(" ") for v in values if v.strip(" ")}, key=lambda v: (-len(v), v))
    return Subject(label, tombstones, customer, emails, subject_accounts, unique)


# --- DuckDB --------------------------------------------------------------------------------------


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _matches_sql(column: str) -> str:
    """SQL true where a column holds one of the erased values (``_erased``), case-insensitively."""
    return f"lower(trim({column})) in (select lower(v) from _erased)"  # noqa: S608 (names from the file's own catalog, quoted)


def _scrub_text_sql(column: str, values: list[str]) -> str:
    """SQL of a text column with every occurrence of the erased values replaced (case-insensitive)."""
    expr = column
    for index, value in enumerate(values):
        if len(value) >= MIN_SUBSTRING:
            for variant_index, _ in enumerate(_variants_of(value)):
                expr = (
                    f"regexp_replace({expr}, '(?i)' || regexp_escape(getvariable('erased_{index}_{variant_index}')), "
                    f"'{ERASED_TEXT}', 'g')"
                )
    return expr


def _variants_of(value: str) -> list[str]:
    """The spellings a value takes in stored text: as is, and JSON-escaped (payloads, JSON columns)."""
    escaped = json.dumps(value, ensure_ascii=False)[1:-1]
    return list(dict.fromkeys([value, escaped]))


def _personal_of(
    catalog_tables: dict[str, Entity], declared: dict[tuple[str, str], dict[str, PersonalKind]], schema: str, table: str
) -> dict[str, PersonalKind]:
    if schema == "raw" and table in catalog_tables:
        return catalog_tables[table].personal
    return declared.get((schema, table), {})


def scrub_duckdb(
    con: duckdb.DuckDBPyConnection,
    catalog: str,
    subject: Subject,
    declared: dict[tuple[str, str], dict[str, PersonalKind]],
    report: ErasureReport,
    label: str,
) -> None:
    """Erase the subject in one attached DuckDB database (see the module docstring)."""
    con.execute("create or replace temp table _erased as select unnest(?::varchar[]) as v", [subject.values or []])
    for index, value in enumerate(subject.values):
        for variant_index, variant in enumerate(_variants_of(value)):
            con.execute(f"set variable erased_{index}_{variant_index} = ?", [variant])
    raw = _raw_tables(con, catalog)
    tables = con.execute(
        "select schema_name, table_name from duckdb_tables() where database_name = ? order by 1, 2", [catalog]
    ).fetchall()
    for schema, table in tables:
        if (schema, table) in UNTOUCHED:
            continue
        relation = f"{_quote(catalog)}.{_quote(schema)}.{_quote(table)}"
        columns = dict(
            con.execute(
                "select column_name, data_type from duckdb_columns() where database_name = ? and schema_name = ? "
                "and table_name = ?",
                [catalog, schema, table],
            ).fetchall()
        )
        personal = _personal_of(raw, declared, schema, table)
        subject_cols = {c: k for c, k in personal.items() if k != "staff" and c in columns}
        scope = _row_scope(raw.get(table) if schema == "raw" else None, columns, subject) or "false"
        targets: dict[str, str] = {}
        for column, kind in subject_cols.items():
            quoted = _quote(column)
            if kind == "text":  # the subject's own text erased; elsewhere, quotes of an erased value
                targets[column] = (
                    f"case when {scope} then {pseudonym_sql(quoted, kind, KEY_SQL)} else {_scrub_text_sql(quoted, subject.values)} end"  # noqa: E501
                )
            else:  # the subject's own rows, and wherever the column holds an erased value
                targets[column] = (
                    f"case when {scope} or {_matches_sql(quoted)} then {pseudonym_sql(quoted, kind, KEY_SQL)} else {quoted} end"  # noqa: E501
                )
        for column in TEXT_BLOBS.get((schema, table), ()):
            if columns.get(column) == "VARCHAR":
                targets[column] = _scrub_text_sql(_quote(column), subject.values)
        if schema == "raw" and columns.get("_extra") == "VARCHAR":
            targets["_extra"] = f"case when {scope} then null else {_scrub_text_sql('_extra', subject.values)} end"
        if not targets:
            continue
        sets = ", ".join(f"{_quote(c)} = {t}" for c, t in targets.items())
        changed = " or ".join(f"({_quote(c)} is distinct from {t})" for c, t in targets.items())
        report.add(f"{label}:{schema}.{table}", _changed(con, f"update {relation} set {sets} where {changed}"))  # noqa: S608 (catalog names, quoted)


def _row_scope(entity: Entity | None, columns: dict[str, str], subject: Subject) -> str | None:
    """SQL condition of the subject's own rows in a table, or None."""
    if entity is not None and entity.name == "crm_contacts":
        return (
            "(lower(trim(email)) in (select unnest(getvariable('erased_emails'))) "
            "or account_id in (select unnest(getvariable('erased_accounts'))))"
        )
    if subject.customer is not None and "customer_id" in columns:
        return "customer_id = getvariable('erased_customer')"
    return None


def _changed(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0


def _storage_version(con: duckdb.DuckDBPyConnection, catalog: str) -> str | None:
    row = con.execute("select tags from duckdb_databases() where database_name = ?", [catalog]).fetchone()
    version = (row[0] or {}).get("storage_version") if row else None
    return version.rstrip("+") if version else None


def _erase_duckdb_file(
    path: Path,
    subject: Subject,
    declared: dict[tuple[str, str], dict[str, PersonalKind]],
    key: str,
    report: ErasureReport,
    tombstones: bool,
) -> None:
    """Scrub one DuckDB file in place, then rewrite it into a fresh file and swap it in."""
    con = duckdb.connect()
    try:
        set_key(con, key)
        con.execute("set variable erased_emails = ?::varchar[]", [subject.emails])
        con.execute("set variable erased_accounts = ?::varchar[]", [subject.accounts])
        con.execute("set variable erased_customer = ?", [subject.customer])
        try:
            con.execute("attach ? as src", [str(path)])
        except duckdb.Error as exc:
            raise ErasureError(
                f"{path}: cannot open it for erasure ({str(exc).splitlines()[0]}); is a run using it?"
            ) from None
        version = _storage_version(con, "src")
        con.execute("begin transaction")
        scrub_duckdb(con, "src", subject, declared, report, path.name)
        if tombstones:
            con.execute("create schema if not exists src.privacy")
            con.execute(TOMBSTONES_DDL.replace("privacy.tombstones", "src.privacy.tombstones"))
            now = dt.datetime.now().replace(microsecond=0)
            for kind, value in subject.tombstones:
                con.execute(
                    f"insert into src.privacy.tombstones select {tombstone_hash_sql('?', kind, KEY_SQL)}, ?, ? "
                    "on conflict do nothing",
                    [value, kind, now],
                )
        con.execute("commit")
        con.execute("checkpoint src")
        fresh = path.with_name(path.name + ".erasing")
        fresh.unlink(missing_ok=True)
        options = f" (storage_version '{version}')" if version else ""
        con.execute(f"attach ? as fresh{options}", [str(fresh)])
        con.execute("copy from database src to fresh")
        con.execute("checkpoint fresh")
        con.execute("detach fresh")
        con.execute("detach src")
    finally:
        con.close()
    _fsync(fresh)
    os.replace(fresh, path)
    for leftover in (path.with_name(path.name + ".wal"), path.with_name(path.name + ".tmp")):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
    report.files.append(str(path))


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- SQLite and other files ------------------------------------------------------------------------


def _byte_variants(values: Iterable[str]) -> list[bytes]:
    """Every byte spelling an erased value may take in a file: UTF-8 as is, JSON-escaped (also with
    ASCII escapes), HTML/XML-escaped, CSV-quoted; upper and lower case for e-mail-like values."""
    out: set[bytes] = set()
    for value in values:
        if len(value) < MIN_SUBSTRING:
            continue
        spellings = {value, value.lower()} if "@" in value else {value}
        for text in spellings:
            forms = {
                text,
                json.dumps(text, ensure_ascii=False)[1:-1],
                json.dumps(text)[1:-1],
                html.escape(text, quote=True),
                html.escape(text, quote=False),
                text.replace('"', '""'),
            }
            out.update(form.encode("utf-8") for form in forms)
    return sorted(out, key=len, reverse=True)


def _replace_bytes(data: bytes, variants: list[bytes], same_length: bool) -> bytes:
    for variant in variants:
        if variant in data:
            data = data.replace(variant, b"x" * len(variant) if same_length else ERASED_TEXT.encode())
    return data


def _write_atomically(path: Path, data: bytes) -> None:
    pending = path.with_name(path.name + ".erasing")
    fd = os.open(pending, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, path.stat().st_mode & 0o777)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(pending, path)


def _erase_sqlite(path: Path, subject: Subject, variants: list[bytes], report: ErasureReport) -> None:
    """Replace occurrences in every text column of an SQLite file, then VACUUM it (free pages)."""
    if not any(v in path.read_bytes() for v in variants) and not _wal_holds(path, variants):
        return
    texts = [v.decode("utf-8") for v in variants]
    with closing(sqlite3.connect(path, timeout=30, isolation_level=None)) as con:
        tables = [
            r[0]
            for r in con.execute("select name from sqlite_master where type = 'table' and name not like 'sqlite_%'")
        ]
        con.execute("begin immediate")
        for table in tables:
            columns = [r[1] for r in con.execute(f"pragma table_info({_quote(table)})")]
            for column in columns:
                for text in texts:
                    cursor = con.execute(
                        f"update {_quote(table)} set {_quote(column)} = replace({_quote(column)}, ?, ?) "  # noqa: S608 (names from the file's own schema, quoted)
                        f"where typeof({_quote(column)}) = 'text' and instr({_quote(column)}, ?) > 0",
                        [text, ERASED_TEXT, text],
                    )
                    report.add(f"{path.name}:{table}", cursor.rowcount)
        con.execute("commit")
        con.execute("pragma wal_checkpoint(truncate)")
        con.execute("vacuum")
        con.execute("pragma wal_checkpoint(truncate)")
    report.files.append(str(path))


def _wal_holds(path: Path, variants: list[bytes]) -> bool:
    wal = path.with_name(path.name + "-wal")
    return wal.exists() and any(v in wal.read_bytes() for v in variants)


def _erase_outbox_notes(path: Path, subject: Subject, report: ErasureReport) -> None:
    """The outbox's notes about the subject customer: their text (a JSON value) erased."""
    if subject.customer is None or not path.exists():
        return
    with closing(sqlite3.connect(path, timeout=30, isolation_level=None)) as con:
        con.execute("begin immediate")
        rows = con.execute("select seq, value, payload from erp_outbox where field = 'note.text'").fetchall()
        for seq, value, payload in rows:
            changed = [_erase_note(text, subject.customer) for text in (value, payload)]
            if changed != [value, payload]:
                con.execute("update erp_outbox set value = ?, payload = ? where seq = ?", [*changed, seq])
                report.add(f"{path.name}:erp_outbox", 1)
        con.execute("commit")


def _erase_note(text: str, customer: str) -> str:
    try:
        note = json.loads(text)
    except ValueError:
        return text
    if isinstance(note, dict) and note.get("customer_id") == customer and note.get("text") is not None:
        note["text"] = ERASED_TEXT
        return json.dumps(note, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text


def _erase_zip(path: Path, variants: list[bytes]) -> bool:
    """Replace occurrences inside each member of a ZIP container (XLSX); True when it changed."""
    with zipfile.ZipFile(path) as source:
        members = [(info, source.read(info)) for info in source.infolist()]
    changed = [(info, _replace_bytes(data, variants, same_length=False)) for info, data in members]
    if all(a[1] == b[1] for a, b in zip(members, changed, strict=True)):
        return False
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for info, data in changed:
            target.writestr(info, data, compress_type=info.compress_type)
    _write_atomically(path, buffer.getvalue())
    return True


def _erase_parquet(path: Path, values: list[str]) -> bool:
    """Rewrite a Parquet file whose text columns hold an erased value; True when it changed."""
    con = duckdb.connect()
    try:
        con.execute("create temp table _erased as select unnest(?::varchar[]) as v", [values])
        for index, value in enumerate(values):
            for variant_index, variant in enumerate(_variants_of(value)):
                con.execute(f"set variable erased_{index}_{variant_index} = ?", [variant])
        con.execute(f"create temp table f as select * from read_parquet({lit(str(path))})")  # noqa: S608 (names from the file's own catalog, quoted)
        texts = [
            r[0]
            for r in con.execute(
                "select column_name from duckdb_columns() where table_name = 'f' and data_type = 'VARCHAR'"
            ).fetchall()
        ]  # noqa: E501
        changed = 0
        for column in texts:
            quoted = _quote(column)
            target = _scrub_text_sql(quoted, values)
            changed += _changed(con, f"update f set {quoted} = {target} where {quoted} is distinct from {target}")  # noqa: S608 (names from the file's schema, quoted)
        if not changed:
            return False
        pending = path.with_name(path.name + ".erasing")
        con.execute(f"copy f to {lit(str(pending))} (format parquet)")
    finally:
        con.close()
    os.replace(pending, path)
    return True


def _kind_of(path: Path) -> str:
    with path.open("rb") as handle:
        head = handle.read(16)
    if head[_DUCKDB_MAGIC[0] : _DUCKDB_MAGIC[0] + 4] == _DUCKDB_MAGIC[1]:
        return "duckdb"
    if head.startswith(_SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(b"PAR1"):
        return "parquet"
    return "file"


def _files(home: Path) -> list[Path]:
    """Every regular file under the home (links are not followed), the key and WAL files aside."""
    skip = {home / "secrets"}
    out = []
    for root, dirs, names in os.walk(home):
        dirs[:] = [d for d in dirs if Path(root, d) not in skip]
        out += [Path(root, n) for n in names if Path(root, n).is_file() and not Path(root, n).is_symlink()]
    return sorted(p for p in out if not p.name.endswith(("-wal", "-shm", ".wal")))


# --- the command ---------------------------------------------------------------------------------


def _declared(settings: Settings) -> dict[tuple[str, str], dict[str, PersonalKind]]:
    """Personal columns the dbt models and the Python assets that write tables declare, by (schema, table)."""
    from orchestration.defs.outreach.assets import published_personal_columns
    from orchestration.defs.transform.dbt import dbt_project

    out: dict[tuple[str, str], dict[str, PersonalKind]] = {}
    for col in [*personal_columns(Path(dbt_project(settings).manifest_path)), *published_personal_columns()]:
        out.setdefault((col.schema, col.table), {})[col.column] = col.kind
    return out


def erase(
    settings: Settings,
    *,
    customer: str | None = None,
    contact: str | None = None,
    progress: Callable[[str], None] = lambda _line: None,
) -> ErasureReport:
    """Erase one person everywhere under the home (see the module docstring)."""
    if (customer is None) == (contact is None):
        raise ErasureError("name exactly one of --customer or --contact")
    if missing := settings.layout.not_written(settings.warehouse_path):  # before the key: it creates a file
        raise ErasureError(missing)
    home, key = settings.home, pseudonym_key(settings.home)
    con = duckdb.connect()
    try:
        try:
            con.execute("attach ? as wh (read_only)", [str(settings.warehouse_path)])
        except duckdb.Error as exc:
            raise ErasureError(f"{settings.warehouse_path}: {str(exc).splitlines()[0]}; is a run using it?") from None
        subject = _find_subject(con, customer, contact)
        set_key(con, key)
        hashes = [
            con.execute(f"select {tombstone_hash_sql('?', k, KEY_SQL)}", [v]).fetchone()[0]
            for k, v in subject.tombstones
        ]
    finally:
        con.close()
    if contact and contact.strip(" ") not in subject.values:
        subject.values.append(contact.strip(" "))
    report = ErasureReport(f"{subject.label} (tombstone {', '.join(h[:16] for h in hashes)})", len(subject.values))
    declared = _declared(settings)
    variants = _byte_variants(subject.values)
    progress(f"inflow erase: {report.subject}: {len(subject.values)} value(s) to erase")
    if settings.layout.spark.exists():  # copies of the warehouse a Spark build rewrites whole: removed, not scrubbed
        progress(f"  removing {settings.layout.spark.relative_to(home)}/ (rebuilt by the next Spark run)")
        shutil.rmtree(settings.layout.spark)
    for path in _files(home):
        if path == AuditTrail(home).path:
            continue
        kind = _kind_of(path)
        if kind == "duckdb":
            progress(f"  rewriting {path.relative_to(home)}")
            _erase_duckdb_file(path, subject, declared, key, report, tombstones=path == settings.warehouse_path)
        elif kind == "sqlite":
            if path.name == "outbox.sqlite":
                _erase_outbox_notes(path, subject, report)
            _erase_sqlite(path, subject, variants, report)
        elif kind == "zip":
            if _erase_zip(path, variants):
                report.files.append(str(path))
        elif kind == "parquet":
            if _erase_parquet(path, subject.values):
                report.files.append(str(path))
        else:
            data = path.read_bytes()
            text_like = _is_text(data)
            changed = _replace_bytes(data, variants, same_length=not text_like)
            if changed != data:
                _write_atomically(path, changed)
                report.files.append(str(path))
    left = remaining(home, subject.values)
    outcome = "erased" if not left else "incomplete"
    AuditTrail(home).record(
        "erasure",
        outcome,
        subject=report.subject,
        rows=sum(report.rows.values()),
        detail="; ".join(f"{where}: {n}" for where, n in sorted(report.rows.items()))
        + (f"; still found in: {', '.join(left)}" if left else ""),
    )
    if left:
        raise ErasureError(f"an erased value is still in: {', '.join(left)}")
    return report


def _is_text(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def remaining(home: Path, values: list[str]) -> list[str]:
    """Files under the home that still hold one of ``values``: by their bytes (members of ZIP
    containers too), and DuckDB and Parquet files by query, since they may compress text."""
    variants = _byte_variants(values)
    found = []
    for path in _files(home):
        kind = _kind_of(path)
        data = path.read_bytes()
        if any(v in data for v in variants):
            found.append(str(path))
        elif kind == "zip":
            with zipfile.ZipFile(path) as archive:
                if any(any(v in archive.read(i) for v in variants) for i in archive.infolist()):
                    found.append(str(path))
        elif kind in ("duckdb", "parquet") and _query_finds(path, kind, values):
            found.append(str(path))
    return found


def _query_finds(path: Path, kind: str, values: list[str]) -> bool:
    """Whether any text column of a DuckDB or Parquet file contains one of ``values``."""
    con = duckdb.connect()
    try:
        if kind == "duckdb":
            con.execute("attach ? as f (read_only)", [str(path)])
            relations = [
                (f"f.{_quote(s)}.{_quote(t)}", c)
                for s, t, c in con.execute(
                    "select schema_name, table_name, column_name from duckdb_columns() where database_name = 'f' "
                    "and data_type = 'VARCHAR' and table_name in (select table_name from duckdb_tables() "
                    "where database_name = 'f')"
                ).fetchall()
            ]
        else:
            con.execute(f"create temp view f as select * from read_parquet({lit(str(path))})")  # noqa: S608 (names from the file's own catalog, quoted)
            relations = [
                ("f", c)
                for (c,) in con.execute("select column_name from (describe f) where column_type = 'VARCHAR'").fetchall()
            ]  # noqa: E501
        needles = [v.lower() for v in values if len(v) >= MIN_SUBSTRING]
        for relation, column in relations:
            hit = con.execute(
                f"select count(*) from {relation} where "  # noqa: S608 (names from the file's schema, quoted)
                f"len(list_filter(?, lambda n: contains(lower({_quote(column)}), n))) > 0",
                [needles],
            ).fetchone()[0]
            if hit:
                return True
        return False
    finally:
        con.close()
