"""Backups of what cannot be read again: the landed raw tables, after each successful run.

Source files rotate (a drop folder keeps 90 days, an API serves the last month), so once landed,
the raw tables are the only copy of older data. After every successful run the raw tables and
the quality records (``quality.source_loads``, which makes landing skip what it already has, and
``quality.exceptions``) are written as Parquet (zstd) to ``backups/<publication id>/`` with a
``manifest.json``; a lost or damaged warehouse is rebuilt from the newest backup
(:mod:`orchestration.home.recovery`), and the files still in the sources land on top as usual.

Compact: a table unchanged since the previous backup (same row count, row hashes and columns) is
hard-linked from it instead of written again, so a run that landed one new file costs one file;
``retention.backups_kept`` backups are kept. A backup is written to ``<id>.partial`` and renamed
when complete, so a half-written backup is never read.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration.warehouse import content_fingerprint, fingerprint_rows, scalar

MANIFEST = "manifest.json"
PARTIAL = ".partial"
#: Tables outside ``raw`` that a rebuilt warehouse needs to carry on where it left off.
QUALITY_TABLES = ("quality.source_loads", "quality.exceptions")
_NAME = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Backup:
    folder: Path
    manifest: dict

    @property
    def id(self) -> str:
        return self.manifest["backup_id"]

    @property
    def tables(self) -> dict[str, dict]:
        return self.manifest["tables"]

    def describe(self) -> str:
        taken = self.manifest["created_at"].replace("T", " ")
        return f"backup {self.id} (taken {taken} after run {self.manifest['run_id']})"


def backed_up_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """``schema.table`` of every base table a backup holds: all of ``raw``, and the quality records."""
    raw = [
        f"raw.{name}"
        for (name,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'raw' "
            "and table_type = 'BASE TABLE' order by 1"
        ).fetchall()
    ]
    present = {
        f"{s}.{t}"
        for s, t in con.execute(
            "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE'"
        ).fetchall()
    }
    return raw + [name for name in QUALITY_TABLES if name in present]


def complete_backups(folder: Path) -> list[Backup]:
    """Complete backups, newest first."""
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.iterdir(), reverse=True):
        if path.is_dir() and not path.name.endswith(PARTIAL) and (path / MANIFEST).exists():
            found.append(Backup(path, json.loads((path / MANIFEST).read_text(encoding="utf-8"))))
    return found


def write_backup(
    con: duckdb.DuckDBPyConnection, folder: Path, backup_id: str, run_id: str, schema_version: int, keep: int
) -> Backup:
    """Back up the raw and quality tables of the warehouse ``con`` is connected to; keep the newest ``keep``."""
    previous = next(iter(complete_backups(folder)), None)
    partial = folder / f"{backup_id}{PARTIAL}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    tables: dict[str, dict] = {}
    for name in backed_up_tables(con):
        fingerprint = content_fingerprint(con, name)
        target = partial / f"{name}.parquet"
        earlier = previous.tables.get(name) if previous else None
        if earlier and earlier["fingerprint"] == fingerprint and (previous.folder / earlier["file"]).exists():
            os.link(previous.folder / earlier["file"], target)
        else:
            copy = f"copy (select * from {name}) to ? (format parquet, compression zstd)"  # noqa: S608 (from information_schema)
            con.execute(copy, [str(target)])
        tables[name] = {"file": target.name, "rows": fingerprint_rows(fingerprint), "fingerprint": fingerprint}
    manifest = {
        "backup_id": backup_id,
        "run_id": run_id,
        "created_at": dt.datetime.now().isoformat(timespec="seconds"),
        "schema_version": schema_version,
        "tables": tables,
    }
    (partial / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    final = folder / backup_id
    shutil.rmtree(final, ignore_errors=True)
    partial.rename(final)
    prune_backups(folder, keep)
    return Backup(final, manifest)


def prune_backups(folder: Path, keep: int) -> None:
    """Keep the newest ``keep`` complete backups; remove older ones and half-written ones."""
    for old in complete_backups(folder)[keep:]:
        shutil.rmtree(old.folder, ignore_errors=True)
    for partial in folder.glob(f"*{PARTIAL}"):
        shutil.rmtree(partial, ignore_errors=True)


def restore_backup(con: duckdb.DuckDBPyConnection, backup: Backup) -> int:
    """Load every table of a backup into an empty warehouse; returns the rows restored."""
    restored = 0
    for name, entry in backup.tables.items():
        if not _NAME.match(name):
            raise ValueError(f"{backup.folder / MANIFEST}: {name!r} is not a table name")
        source = str(backup.folder / entry["file"])
        con.execute(f"create schema if not exists {name.split('.')[0]}")
        exists = scalar(
            con,
            "select count(*) from information_schema.tables where table_schema || '.' || table_name = ?",
            [name],
        )
        if exists:
            con.execute(f"insert into {name} by name select * from read_parquet(?)", [source])  # noqa: S608 (checked by _NAME)
        else:
            con.execute(f"create table {name} as select * from read_parquet(?)", [source])  # noqa: S608 (checked by _NAME)
        restored += entry["rows"]
    return restored
