"""Schema versions of the warehouse, and the migrations that bring a home forward.

The warehouse records every migration applied to it in ``meta.schema_version`` (version, what
it did, when). A warehouse without that table but with Inflow's quality tables was made by the
first release (version 1); an empty one is stamped with the current version. At the start of
every run (under the run lock) the missing migrations run in order, each in its own transaction
with its stamp, so an interrupted upgrade resumes where it stopped. A warehouse stamped with a
version newer than this code refuses to run: an older Inflow must not write a newer home.

The serving file carries its own version in ``meta.publication.schema_version``
(:data:`orchestration.defs.publish.publication.SCHEMA_VERSION`); publications of the first
release are moved into publication folders by :func:`~orchestration.defs.publish.publication.migrate_legacy`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from orchestration.defs.quality.store import rename_rules, settle_rejections
from orchestration.warehouse import scalar

SCHEMA_VERSION_DDL = """
create table if not exists meta.schema_version (
    version integer not null,
    description varchar not null,
    applied_at timestamp not null default current_localtimestamp()
)
"""


class HomeTooNew(RuntimeError):
    """The warehouse was written by a newer Inflow than this one."""


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[duckdb.DuckDBPyConnection], None]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        2,
        "rules renamed in the catalogue (expectations.rules.RENAMED) carry their new names in quality.exceptions",
        rename_rules,
    ),
    Migration(
        3,
        "rejections of batches loaded since (a mapping fixed) leave quality.exceptions; source_loads keeps them",
        settle_rejections,
    ),
)
LATEST = MIGRATIONS[-1].version


def _exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        scalar(
            con,
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table],
        )
    )


def warehouse_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """The warehouse's schema version: 1 for the first release (before versions), None when empty."""
    if _exists(con, "meta", "schema_version"):
        return scalar(con, "select max(version) from meta.schema_version")
    return 1 if _exists(con, "quality", "source_loads") else None


def stamp(con: duckdb.DuckDBPyConnection, version: int, description: str) -> None:
    con.execute("create schema if not exists meta")
    con.execute(SCHEMA_VERSION_DDL)
    con.execute("insert into meta.schema_version (version, description) values (?, ?)", [version, description])


def migrate_warehouse(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply every migration the warehouse lacks; returns one line per migration applied."""
    version = warehouse_version(con)
    if version is None:
        stamp(con, LATEST, "created at this version")
        return []
    if version > LATEST:
        raise HomeTooNew(
            f"the warehouse has schema version {version}, newer than this Inflow's {LATEST}: it was written by a "
            "newer release; run that release (or a newer one) on this home"
        )
    applied = []
    for migration in (m for m in MIGRATIONS if m.version > version):
        con.execute("begin transaction")
        try:
            migration.apply(con)
            stamp(con, migration.version, migration.description)
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
        applied.append(f"migrated the warehouse to schema version {migration.version}: {migration.description}")
    return applied
