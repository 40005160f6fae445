"""Personal data in what Inflow publishes: which published columns are personal, how each is
shown, and the home's pseudonymisation key.

The contract marks personal source columns (``expectations.contracts``: ``Column.pii``); a dbt
model column that carries one declares where it comes from in its yml (``config: {meta:
{personal: crm_contacts.email}}``), so the published personal columns are read from the dbt
manifest and each inherits the kind of its source column. Publishing renders every personal
column with its treatment (``privacy.columns`` in inflow.yml, else ``privacy.default``: mask);
the working warehouse keeps the values, for the workflow that needs them.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb
from pydantic import BaseModel, ConfigDict, Field, field_validator

from expectations.contracts import ENTITIES
from expectations.privacy import PersonalKind, Treatment, shown_sql

#: DuckDB variable holding the key while a statement needs it (``getvariable``), so the key never
#: appears in SQL text.
KEY_VARIABLE = "inflow_pseudonym_key"
KEY_SQL = f"getvariable('{KEY_VARIABLE}')"


class PrivacyConfig(BaseModel):
    """How personal columns are published (the ``privacy:`` block of inflow.yml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: Treatment = Field("mask", description="mask | hash | keep: how a personal column is published")
    columns: dict[str, Treatment] = Field(
        default_factory=dict,
        description="per column: a contract column (crm_contacts.email: hash, everywhere it is published) "
        "or one published column (marts.dim_customers.billing_contact_email: keep)",
    )

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, value: dict[str, Treatment]) -> dict[str, Treatment]:
        for name in value:
            parts = name.split(".")
            if len(parts) == 2:
                entity = ENTITIES.get(parts[0])
                if entity is None or parts[1] not in entity.personal:
                    raise ValueError(f"{name!r} is not a personal column of the contract; personal: {personal_names()}")
            elif len(parts) != 3 or not all(parts):
                raise ValueError(f"{name!r}: name a contract column (entity.column) or schema.table.column")
        return value

    def treatment(self, schema: str, table: str, column: str, origin: str) -> Treatment:
        """The treatment of one published column carrying the contract column ``origin``."""
        return self.columns.get(f"{schema}.{table}.{column}", self.columns.get(origin, self.default))


def personal_names() -> list[str]:
    """Every personal contract column as ``entity.column``."""
    return [f"{e.name}.{c}" for e in ENTITIES.values() for c in e.personal]


def origin_kind(origin: str) -> PersonalKind:
    """The kind of a contract column named ``entity.column``; an unknown one is an error."""
    entity, _, column = origin.partition(".")
    kind = ENTITIES[entity].personal.get(column) if entity in ENTITIES else None
    if kind is None:
        raise ValueError(f"meta.personal {origin!r} is not a personal contract column; personal: {personal_names()}")
    return kind


@dataclass(frozen=True)
class PersonalColumn:
    """A published column (of a dbt model or a table an asset writes) that carries a personal
    contract column."""

    schema: str
    table: str
    column: str
    origin: str

    @property
    def kind(self) -> PersonalKind:
        return origin_kind(self.origin)


class ManifestUnreadable(RuntimeError):
    """The dbt manifest that says which published columns are personal cannot be read."""


def personal_columns(manifest: Path) -> list[PersonalColumn]:
    """Every model column declared personal (``meta.personal``) in a dbt manifest. Publishing fails
    closed: without a readable manifest nothing says which columns to mask, so nothing is published."""
    try:
        nodes = json.loads(manifest.read_text(encoding="utf-8"))["nodes"]
    except (OSError, ValueError, KeyError) as exc:
        raise ManifestUnreadable(f"{manifest}: cannot read the dbt manifest ({exc}); not publishing") from None
    found = []
    for node in nodes.values():
        if node.get("resource_type") != "model":
            continue
        for name, column in node.get("columns", {}).items():
            origin = (column.get("meta") or {}).get("personal")
            if origin:
                found.append(PersonalColumn(node["schema"], node.get("alias") or node["name"], name, origin))
                origin_kind(origin)
    return found


@dataclass(frozen=True)
class PublishPrivacy:
    """What publishing needs to render personal columns: the declared columns by table, the
    treatments, and the key (for ``hash``)."""

    config: PrivacyConfig
    columns: dict[tuple[str, str], dict[str, PersonalColumn]]
    key: str

    @classmethod
    def load(
        cls, manifest: Path, config: PrivacyConfig, home: Path, written_by_assets: Iterable[PersonalColumn] = ()
    ) -> PublishPrivacy:
        """From the run's dbt manifest and the personal columns of tables Python assets write; a
        ``privacy.columns`` key naming a published column that none declares personal is refused
        (a typo would otherwise publish the value)."""
        declared = [*personal_columns(manifest), *written_by_assets]
        known = {f"{c.schema}.{c.table}.{c.column}" for c in declared}
        unknown = sorted(k for k in config.columns if k.count(".") == 2 and k not in known)
        if unknown:
            raise ValueError(f"privacy.columns names {unknown}, which no published model declares personal")
        by_table: dict[tuple[str, str], dict[str, PersonalColumn]] = {}
        for col in declared:
            by_table.setdefault((col.schema, col.table), {})[col.column] = col
        return cls(config, by_table, pseudonym_key(home))

    def prepare(self, con: duckdb.DuckDBPyConnection) -> None:
        set_key(con, self.key)

    def select(self, con: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str) -> str:
        """The SELECT list publishing copies one table with: every column, personal ones rendered
        by their treatment. Column names come from the catalog of the attached warehouse (quoted)."""
        personal = self.columns.get((schema, table), {})
        if not personal:
            return "*"
        names = [
            r[0]
            for r in con.execute(
                "select column_name from duckdb_columns() where database_name = ? and schema_name = ? "
                "and table_name = ? order by column_index",
                [catalog, schema, table],
            ).fetchall()
        ]
        parts = []
        for name in names:
            quoted = '"' + name.replace('"', '""') + '"'
            col = personal.get(name)
            if col is None:
                parts.append(quoted)
            else:
                treatment = self.config.treatment(schema, table, name, col.origin)
                parts.append(f"{shown_sql(quoted, col.kind, treatment, KEY_SQL)} as {quoted}")
        return ", ".join(parts)


def key_path(home: Path) -> Path:
    return home / "secrets" / "pseudonym.key"


def pseudonym_key(home: Path) -> str:
    """The home's secret key for keyed hashes, pseudonyms and tombstones: 32 random bytes (hex),
    made on first use in ``secrets/pseudonym.key``, readable by its owner only. Losing it breaks
    the match of tombstones with new exports: back it up with the home."""
    path = key_path(home)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
        pending = path.with_name(f"{path.name}.{os.getpid()}.new")
        fd = os.open(pending, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_hex(32))
        try:
            os.link(pending, path)  # atomic, and never replaces a key another process made first
        except FileExistsError:
            pass
        finally:
            pending.unlink()
    return path.read_text(encoding="ascii").strip()


def set_key(con: duckdb.DuckDBPyConnection, key: str) -> None:
    """Make the key available to statements as :data:`KEY_SQL` (a parameter, never SQL text)."""
    con.execute(f"set variable {KEY_VARIABLE} = ?", [key])
