"""Inflow's configuration file (``inflow.yml``): company settings and sources by role.

The file is validated completely when Dagster loads the definitions, so a mistake fails at start
with a message naming the exact key (``sources.erp.tables.invoices.columns.amount``) rather than
half-way through a run. Relative paths are resolved against the directory of the file.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from expectations.contracts import ENTITIES, entity

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CONFIG = REPO_ROOT / "seeds" / "sample" / "inflow.yml"
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
_CADENCE = re.compile(r"^(\d+)\s*([hd])$")


class ConfigError(ValueError):
    """The configuration file is invalid; the message names the file and the offending key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReaderOptions(_Strict):
    """How to read a file drop. Every option has the default a plain UTF-8 CSV needs."""

    delimiter: str = ","
    quote: str = '"'
    encoding: Literal["utf-8", "utf-16", "latin-1"] = "utf-8"
    header_row: int = Field(1, ge=1, description="1-based row holding the header (XLSX title rows)")
    decimal: Literal[".", ","] = "."
    thousands: Literal["", ",", ".", " ", "'"] = ""
    date_formats: tuple[str, ...] = ("%Y-%m-%d",)
    timestamp_formats: tuple[str, ...] = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d")
    sheet: str | None = None

    @model_validator(mode="after")
    def _separators_differ(self) -> "ReaderOptions":
        if self.thousands and self.thousands == self.decimal:
            raise ValueError("thousands separator must differ from the decimal separator")
        return self


class TableConfig(_Strict):
    """One source table: where it comes from and how its columns map onto a canonical entity."""

    entity: str
    format: Literal["csv", "xlsx", "parquet", "jsonl", "query"]
    path: str | None = None
    query: str | None = None
    options: ReaderOptions = ReaderOptions()
    columns: dict[str, str] = Field(description="canonical column -> source column")
    credit_memo_sign: Literal["negative", "positive"] = "negative"
    row_count_drop_threshold: float = Field(0.5, ge=0, le=1)

    @field_validator("entity")
    @classmethod
    def _known_entity(cls, value: str) -> str:
        if value not in ENTITIES:
            raise ValueError(f"unknown canonical entity {value!r}; known: {', '.join(sorted(ENTITIES))}")
        return value

    @model_validator(mode="after")
    def _mapping_covers_contract(self) -> "TableConfig":
        ent = entity(self.entity)
        unknown = sorted(set(self.columns) - set(ent.column_names))
        if unknown:
            raise ValueError(
                f"columns maps unknown canonical column(s) {unknown} of entity {self.entity!r}; "
                f"allowed: {ent.column_names}"
            )
        missing = [c for c in ent.required if c not in self.columns]
        if missing:
            raise ValueError(f"columns must map the required column(s) {missing} of {self.entity!r}")
        if self.format == "query" and not self.query:
            raise ValueError("format 'query' needs a 'query'")
        if self.format != "query" and not self.path:
            raise ValueError(f"format {self.format!r} needs a 'path' (a file or glob)")
        return self


class Cadence(_Strict):
    """Expected refresh cadence of a source, which drives its freshness check."""

    expected_every: str = "1d"
    block_publish_when_stale: bool = False

    @field_validator("expected_every")
    @classmethod
    def _parse(cls, value: str) -> str:
        if not _CADENCE.match(value.strip()):
            raise ValueError("expected_every must look like '6h' or '1d'")
        return value.strip()

    @property
    def max_age(self) -> dt.timedelta:
        count, unit = _CADENCE.match(self.expected_every).groups()  # type: ignore[union-attr]
        return dt.timedelta(hours=int(count)) if unit == "h" else dt.timedelta(days=int(count))


class SourceConfig(_Strict):
    """A source system, by role, with its transport, exception owner and tables."""

    system: Literal["erp", "crm", "billing", "payments", "bank", "workflow"]
    role: Literal["system_of_record", "context", "timing", "payments", "workflow"]
    transport: Literal["file", "database"]
    owner: str = Field(min_length=1, description="who fixes this source's exceptions")
    url: str | None = None
    cadence: Cadence = Cadence()
    tables: dict[str, TableConfig]

    @model_validator(mode="after")
    def _transport_fits_tables(self) -> "SourceConfig":
        for name, table in self.tables.items():
            if not _IDENTIFIER.match(name):
                raise ValueError(f"table name {name!r} must be lowercase letters, digits, underscores")
            if (self.transport == "database") != (table.format == "query"):
                raise ValueError(
                    f"table {name!r}: transport {self.transport!r} needs "
                    f"{'format: query' if self.transport == 'database' else 'a file format'}"
                )
        if self.transport == "database" and not self.url:
            raise ValueError("transport 'database' needs a SQLAlchemy 'url'")
        return self


Bucket = Annotated[int, Field(gt=0)]


class AgingConfig(_Strict):
    """Aging rules; the decision log explains each."""

    basis: Literal["due_date", "invoice_date"] = "due_date"
    buckets: tuple[Bucket, ...] = (30, 60, 90, 120)
    missing_due_date_terms_days: int = Field(30, ge=0)
    history_days: int = Field(400, gt=0, description="days of daily aging history a full refresh builds")

    @field_validator("buckets")
    @classmethod
    def _ascending(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if list(value) != sorted(set(value)):
            raise ValueError("buckets must be strictly ascending day counts")
        return value


class EngineConfig(_Strict):
    """How much of the machine the embedded DuckDB engine may take.

    DuckDB's own default is 80% of RAM per process; on a shared machine, or next to a BI tool,
    that is too much. Past ``memory_limit`` DuckDB spills to a temporary folder beside the
    warehouse file instead of growing. The same limit goes to the dbt build's connection. 6GB
    keeps a 10M-invoice run under 8 GiB; at 4GB the widest marts spilled and took twice as long.
    """

    memory_limit: str = Field("6GB", pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$")


class InflowConfig(_Strict):
    """The whole ``inflow.yml``."""

    company: str
    reporting_currency: str = Field(pattern=r"^[A-Z]{3}$")
    as_of_date: dt.date | None = None
    aging: AgingConfig = AgingConfig()
    engine: EngineConfig = EngineConfig()
    sources: dict[str, SourceConfig]
    base_dir: Path = Field(default=Path("."), exclude=True)

    @model_validator(mode="after")
    def _source_names(self) -> "InflowConfig":
        for name in self.sources:
            if not _IDENTIFIER.match(name):
                raise ValueError(f"source name {name!r} must be lowercase letters, digits, underscores")
        return self

    def tables(self) -> list[tuple[str, str, SourceConfig, TableConfig]]:
        """Every (source, table, source config, table config), in file order."""
        return [(s, t, src, tbl) for s, src in self.sources.items() for t, tbl in src.tables.items()]

    def tables_of(self, entity_name: str) -> list[str]:
        """Raw table names (``<source>__<table>``) that land rows of one canonical entity."""
        return [f"{s}__{t}" for s, t, _, tbl in self.tables() if tbl.entity == entity_name]

    def resolve(self, path: str) -> Path:
        p = Path(os.path.expandvars(path)).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    def effective_as_of(self, override: dt.date | None = None) -> dt.date:
        """The as-of date of a run: explicit override, then the config, then today."""
        return override or self.as_of_date or dt.date.today()


def _location(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc if part not in ("function-after", "function-before"))


def load_config(path: str | os.PathLike[str]) -> InflowConfig:
    """Read and validate a configuration file, failing with the file and key that are wrong."""
    path = Path(path).resolve()
    if not path.is_file():
        raise ConfigError(f"{path}: configuration file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: top level must be a mapping of keys")
    try:
        return InflowConfig.model_validate({**raw, "base_dir": path.parent})
    except ValidationError as exc:
        lines = [f"{path}: invalid configuration"]
        for err in exc.errors():
            lines.append(f"  - {_location(err['loc']) or '(top level)'}: {err['msg']}")
        raise ConfigError("\n".join(lines)) from None


def config_path_from_env() -> Path:
    return Path(os.environ.get("INFLOW_CONFIG") or SAMPLE_CONFIG)


def home_from_env() -> Path:
    return Path(os.environ.get("INFLOW_HOME") or REPO_ROOT / ".inflow").resolve()


__all__ = ["ConfigError", "InflowConfig", "load_config", "ENTITIES"]
