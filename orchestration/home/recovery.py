"""The start-up health check of the warehouse, and its rebuild when it is damaged or lost.

At the start of every run (under the run lock) the warehouse is opened, its catalogue read and
its size checked against the blocks its tables use (from their storage metadata, without reading
the data). A file that fails (truncated, overwritten, not a DuckDB file) is moved aside as
``warehouse.damaged-<time>.duckdb`` — kept for inspection, never deleted — and a new warehouse is
built from the newest backup of the raw tables (:mod:`orchestration.home.backups`); the run then
lands whatever the sources hold beyond it, and dbt rebuilds every model. Everything that happened
is said loudly (the notes returned here are printed and logged), including what is lost: loads
the last publication recorded whose files are no longer in the sources and that no backup holds.

A file that cannot be opened for a reason that is not damage is left where it is and the run
stops: open for writing in another process (:class:`WarehouseInUse`), a full disk, a read-only
file system or a missing permission (the machine's errors, :mod:`orchestration.failures`), or a
file written by a newer DuckDB.

The serving file and exports are never touched here: they stay as last published until the
rebuilt warehouse passes every gate.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import duckdb

from orchestration.failures import advice_for
from orchestration.home.backups import Backup, complete_backups, restore_backup
from orchestration.home.migrations import stamp
from orchestration.settings import HomeLayout
from orchestration.warehouse import connect, ensure_schemas


class WarehouseInUse(RuntimeError):
    """Another process has the warehouse open for writing (not a run of this home: it holds no lock)."""


#: DuckDB's refusal of a file written by a newer DuckDB.
_NEWER_DUCKDB = re.compile(r"version number \d+, but we can only read", re.I)
#: DuckDB's file starts with three 4 KiB headers; blocks follow.
_FILE_HEADERS = 3 * 4096


def _missing_blocks(con: duckdb.DuckDBPyConnection, path: Path) -> str | None:
    """Whether the file is shorter than the blocks its tables use (a truncated copy, a full disk
    during a copy): found from the tables' storage metadata, without reading their data."""
    block_size = con.execute("pragma database_size").fetchall()[0][2]
    last = -1
    for schema, table in con.execute("select schema_name, table_name from duckdb_tables()").fetchall():
        quoted = ".".join('"' + part.replace('"', '""') + '"' for part in (schema, table))
        used = con.execute("select max(block_id) from pragma_storage_info(?) where block_id >= 0", [quoted]).fetchall()[
            0
        ][0]
        last = max(last, used if used is not None else -1)
    needed = _FILE_HEADERS + (last + 1) * block_size
    size = path.stat().st_size
    if size < needed:
        return f"the file has {size:,} bytes but its tables use {needed:,}: it was truncated"
    return None


def open_problem(path: Path) -> str | None:
    """Why the warehouse cannot be used, or None when it opens, its catalogue reads and the file
    holds every block its tables use (or it is absent)."""
    if not path.exists():
        return None
    try:
        con = duckdb.connect(str(path))
        try:
            return _missing_blocks(con, path)
        finally:
            con.close()
    except duckdb.Error as exc:
        text = str(exc)
        if "lock" in text.lower() and "conflicting" in text.lower():
            raise WarehouseInUse(
                f"{path} is open in another process ({text.splitlines()[0]}); close it (a DuckDB CLI or "
                "notebook with the warehouse open for writing) and run again"
            ) from None
        if advice_for(text) or _NEWER_DUCKDB.search(text):
            raise  # the machine (full, read-only, no permission) or a newer DuckDB: the file is not damaged
        return text.splitlines()[0]


def move_aside(path: Path, when: dt.datetime | None = None) -> Path:
    """Rename a damaged database (and its write-ahead log) out of the way; returns its new name."""
    stamp = f"{(when or dt.datetime.now()):%Y%m%dT%H%M%S}"
    aside = path.with_name(f"{path.stem}.damaged-{stamp}{path.suffix}")
    os.replace(path, aside)
    wal = path.with_name(path.name + ".wal")
    if wal.exists():
        os.replace(wal, aside.with_name(aside.name + ".wal"))
    return aside


def _is_file(name: str) -> bool:
    """Whether a load's ``file`` names a file (a query's is ``query:...`` or a database URL)."""
    return not name.startswith("query:") and "://" not in name


def _published_loads(serving: Path) -> list[tuple[str, str, int]]:
    """(source table, file, rows accepted) of every file load the current publication records."""
    if not serving.exists():
        return []
    try:
        con = duckdb.connect(str(serving), read_only=True)
        try:
            loads = con.execute(
                "select source_table, file, rows_accepted from quality.source_loads "
                "where status = 'loaded' order by 1, 2"
            ).fetchall()
        finally:
            con.close()
    except duckdb.Error:
        return []
    return [load for load in loads if _is_file(load[1])]


def _lost_loads(serving: Path, backup: Backup | None, restored: set[str]) -> list[tuple[str, str, int]]:
    """Loads the last publication had whose file is gone and that the restored backup lacks."""
    return [
        (table, file, rows)
        for table, file, rows in _published_loads(serving)
        if not Path(file).exists() and file not in restored
    ]


def _restored_files(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {file for (file,) in con.execute("select distinct file from quality.source_loads").fetchall()}


def recover_warehouse(layout: HomeLayout, memory_limit: str | None = None) -> list[str]:
    """Check the warehouse; move a damaged one aside and rebuild a lost one from the newest backup.

    Returns what was done and what was lost, one sentence each (empty when the warehouse is fine
    or the home is new).
    """
    notes: list[str] = []
    problem = open_problem(layout.warehouse)
    if problem:
        aside = move_aside(layout.warehouse)
        notes.append(
            f"the warehouse could not be opened ({problem}); moved it aside to {aside} (kept for inspection) "
            "and rebuilding it"
        )
    elif layout.warehouse.exists():
        return []
    backups = complete_backups(layout.backups)
    published = layout.serving.exists()
    if not problem and not backups and not published:
        return []  # a new home
    if not problem:
        notes.append(f"the warehouse {layout.warehouse} is missing; rebuilding it")
    backup = backups[0] if backups else None
    con = connect(layout.warehouse, memory_limit=memory_limit)
    try:
        ensure_schemas(con)
        restored: set[str] = set()
        if backup:
            rows = restore_backup(con, backup)
            stamp(con, backup.manifest["schema_version"], f"restored from backup {backup.id}")
            restored = _restored_files(con)
            notes.append(
                f"restored {len(backup.tables)} tables ({rows:,} rows) from {backup.describe()}; "
                "files landed after it are landed again from the sources"
            )
            gone = sorted(f for f in restored if _is_file(f) and not Path(f).exists())
            if gone:
                notes.append(
                    f"{len(gone)} file(s) landed before are no longer in the sources; their rows come from the "
                    f"backup: {_some(gone)}"
                )
        else:
            notes.append("no backup of the raw tables exists: rebuilding from the source files present only")
        lost = _lost_loads(layout.serving, backup, restored)
        if lost:
            notes.append(
                f"LOST: {len(lost)} file(s) ({sum(r for _, _, r in lost):,} accepted rows) that the current "
                f"publication holds are no longer in the sources and in no backup: {_some([f for _, f, _ in lost])}; "
                "put them back in the source folder before the next run to keep them"
            )
    finally:
        con.close()
    return notes


def _some(items: list[str], shown: int = 5) -> str:
    more = f" and {len(items) - shown} more" if len(items) > shown else ""
    return ", ".join(items[:shown]) + more
