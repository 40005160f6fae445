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

from expectations.contracts import ENTITIES, Entity, entity
from models.forecast import parse_scenarios
from orchestration.defs.writeback.settings import WritebackConfig
from orchestration.paths import PathOutsideRoots, PathsConfig, check_configured
from orchestration.privacy import PrivacyConfig
from orchestration.secret_refs import refuse_literal_password

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CONFIG = REPO_ROOT / "seeds" / "sample" / "inflow.yml"
#: The dbt vars, declared once in dbt_project.yml with their defaults and meaning; the sections
#: below take their defaults from there and validate what a configuration sets.
DBT_VARS: dict[str, Any] = yaml.safe_load((REPO_ROOT / "dbt_project" / "dbt_project.yml").read_text("utf-8"))["vars"]
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
_CADENCE = re.compile(r"^(\d+)\s*([hd])$")


class ConfigError(ValueError):
    """The configuration file is invalid; the message names the file and the offending key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReaderOptions(_Strict):
    """How to read a file drop. Every option has the default a plain UTF-8 CSV needs."""

    header: bool = Field(True, description="false for a headerless file: columns are then mapped by position (1-based)")
    ignore_columns: tuple[str, ...] = Field(
        (), description="source columns dropped on reading (not kept in _extra), e.g. report-only totals"
    )
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
    def _separators_differ(self) -> ReaderOptions:
        if self.thousands and self.thousands == self.decimal:
            raise ValueError("thousands separator must differ from the decimal separator")
        return self


class ColumnSpec(_Strict):
    """Where one canonical column's value comes from: a source column (by name, by the n-th
    occurrence of a repeated header name, or by position in a headerless file) or a constant;
    optionally translated through a value map, prefixed, or read from number-like text.

    A plain string in ``columns:`` is shorthand for ``{column: <string>}``.
    """

    column: str | None = Field(None, description="source column (header name)")
    occurrence: int = Field(1, ge=1, description="which column of a header name the file repeats (1 = first)")
    position: int | None = Field(None, ge=1, description="1-based column position, for headerless files")
    value: str | None = Field(None, description="a constant for every row, e.g. USD or invoice")
    map: dict[str, str] | None = Field(
        None, description="source code -> canonical value (e.g. RV: invoice); unmapped codes are quarantined"
    )
    prefix: str = Field("", description="text put before the value (ids derived from another entity's key)")
    number_text: bool = Field(
        False,
        description="the value is written as a number by the export (1928000000.0, 20190405.0): "
        "a trailing .0 is dropped before the value is read",
    )
    formats: tuple[str, ...] | None = Field(
        None,
        description="date/timestamp formats of this column (strftime, or 'iso' for ISO dates and "
        "timestamps), instead of the table's date_formats/timestamp_formats",
    )

    @model_validator(mode="after")
    def _one_origin(self) -> ColumnSpec:
        origins = [o for o in (self.column, self.position, self.value) if o is not None]
        if len(origins) != 1:
            raise ValueError("give exactly one of column, position or value")
        if self.value is not None and (self.map or self.prefix or self.number_text):
            raise ValueError("a constant value takes no map, prefix or number_text")
        if self.map is not None and not self.map:
            raise ValueError("map must list at least one code")
        return self

    @property
    def is_constant(self) -> bool:
        return self.value is not None

    def label(self) -> str:
        """How messages name the source of this column."""
        if self.value is not None:
            return f"constant {self.value!r}"
        if self.position is not None:
            return f"column #{self.position}"
        return repr(self.column) + (f" (occurrence {self.occurrence})" if self.occurrence > 1 else "")


class RowFilter(_Strict):
    """Rows of a file that a table takes; the others are not landed for it (not quarantined).

    Used by derived tables: the payments derived from an invoice list take only the rows with a
    paid date and a positive amount, so open items and credit memos make no exception noise.
    """

    present: tuple[str, ...] = Field((), description="source columns that must be non-empty")
    not_negative: tuple[str, ...] = Field((), description="source columns whose value must not start with '-'")


class DeriveConfig(_Strict):
    """An "invoice list with paid date": one line-item file with a clearing or paid date yields
    invoices, payments (one per paid document, on its paid date) and payment applications."""

    shape: Literal["invoice_with_paid_date"] = "invoice_with_paid_date"
    paid_date: ColumnSpec = Field(description="the date the document was paid or cleared (empty while open)")
    paid_amount: ColumnSpec | None = Field(None, description="the amount paid; default: the document amount")
    payment_id_prefix: str = Field("PAID-", description="derived payment ids are this prefix + the document id")


#: Sensible quarantine limits (documented in docs/configuration.md and the README): the sample
#: company's seeded defects reach 9 of 164 rows (5.5 %) of one file and about 2 % of a table; a
#: wholesale mapping mistake quarantines far more.
DEFAULT_MAX_QUARANTINE_SHARE = 0.10
DEFAULT_MAX_QUARANTINE_SHARE_PER_LOAD = 0.15
DEFAULT_QUARANTINE_FLOOR_ROWS = 5


class WatermarkConfig(_Strict):
    """Incremental reading of a query table (decision L2): only rows whose ``column`` is on or after
    the day of the latest value landed, and the whole table every ``full_every_days`` days, which
    is what catches deleted rows and rows written late with an earlier value."""

    column: str = Field(description="canonical date or timestamp column, mapped to a column of the query")
    full_every_days: int = Field(7, ge=1, description="days after which the next run reads the whole table again")


class TableConfig(_Strict):
    """One source table: where it comes from and how its columns map onto a canonical entity."""

    entity: str
    format: Literal["csv", "xlsx", "parquet", "jsonl", "query"]
    path: str | None = None
    query: str | None = None
    options: ReaderOptions = ReaderOptions()
    columns: dict[str, ColumnSpec] = Field(
        description="canonical column -> source column (a header name, or a mapping: column / position / "
        "value / map / prefix / number_text / formats)"
    )
    credit_memo_sign: Literal["negative", "positive"] = "negative"
    load: Literal["snapshot", "delta"] | None = Field(
        None,
        description="snapshot: each file is the whole table (a file far smaller than the last is rejected "
        "as truncated); delta: each file adds or restates rows. Default: delta for a glob of files, "
        "snapshot for one file or a query",
    )
    row_count_drop_threshold: float = Field(0.5, ge=0, le=1, description="snapshot loads only")
    max_quarantine_share: float | None = Field(
        None, ge=0, le=1, description="override of quality.max_quarantine_share for this table"
    )
    max_quarantine_share_per_load: float | None = Field(
        None, ge=0, le=1, description="override of quality.max_quarantine_share_per_load for this table"
    )
    rows: RowFilter | None = Field(None, description="take only some rows of the file (derived tables)")
    derive: DeriveConfig | None = Field(
        None, description="derive payments and payment applications from this invoice list"
    )
    watermark: WatermarkConfig | None = Field(
        None, description="query tables: read only new and changed rows, the whole table every few days"
    )

    @field_validator("columns", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: {"column": v} if isinstance(v, str) else v for k, v in value.items()}
        return value

    @property
    def load_mode(self) -> Literal["snapshot", "delta"]:
        """The declared load mode, else delta for a glob of files and snapshot otherwise."""
        if self.load:
            return self.load
        return "delta" if self.path and any(ch in self.path for ch in "*?[") else "snapshot"

    @property
    def may_be_empty(self) -> bool:
        """Whether a file of this table may hold no data rows: a delta file adds rows and may add
        none (the new month's file on its first day), and a derived table takes only some rows of
        a file. An empty snapshot is never "nothing is owed": landing rejects it, and ``inflow
        check`` reports it as a problem that would stop a run (one rule for both)."""
        return self.rows is not None or self.load_mode == "delta"

    def source_columns(self) -> list[str]:
        """Source header names the mapping reads (constants and positions excluded)."""
        return [spec.column for spec in self.columns.values() if spec.column is not None]

    def read_specs(self) -> list[ColumnSpec]:
        """Every column spec that reads the file: the mapping's, and what ``derive`` reads."""
        derived = [self.derive.paid_date, self.derive.paid_amount] if self.derive else []
        return [*self.columns.values(), *(spec for spec in derived if spec is not None)]

    @field_validator("entity")
    @classmethod
    def _known_entity(cls, value: str) -> str:
        if value not in ENTITIES:
            raise ValueError(f"unknown canonical entity {value!r}; known: {', '.join(sorted(ENTITIES))}")
        return value

    @model_validator(mode="after")
    def _mapping_covers_contract(self) -> TableConfig:
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
        if not self.options.header and any(s.column is not None for s in self.columns.values()):
            raise ValueError("a headerless file (options.header: false) maps columns by position, not by name")
        if self.options.header and any(s.position is not None for s in self.columns.values()):
            raise ValueError("columns by position need options.header: false")
        for name, spec in self.columns.items():
            if spec.formats is not None and ent.column(name).type not in ("date", "timestamp"):
                raise ValueError(f"columns.{name}: formats apply only to date and timestamp columns")
        if self.derive and self.entity != "invoices":
            raise ValueError("derive: invoice_with_paid_date applies to a table of entity 'invoices'")
        if self.format == "query" and not self.query:
            raise ValueError("format 'query' needs a 'query'")
        if self.format != "query" and not self.path:
            raise ValueError(f"format {self.format!r} needs a 'path' (a file or glob)")
        if self.watermark:
            self._check_watermark(ent, self.watermark)
        return self

    def _check_watermark(self, ent: Entity, watermark: WatermarkConfig) -> None:
        """A watermark is compared in the source database as ISO text, so it must be a mapped date
        or timestamp column read in year-month-day order (then text order is time order)."""
        where = f"watermark.column {watermark.column!r}"
        if self.format != "query":
            raise ValueError("watermark applies to format 'query' (files already land only when new or changed)")
        if watermark.column not in ent.column_names or ent.column(watermark.column).type not in ("date", "timestamp"):
            raise ValueError(f"{where} must be a date or timestamp column of entity {self.entity!r}")
        spec = self.columns.get(watermark.column)
        if spec is None or spec.column is None:
            raise ValueError(f"{where} must be mapped to a column of the query")
        kind = ent.column(watermark.column).type
        formats = spec.formats or (self.options.date_formats if kind == "date" else self.options.timestamp_formats)
        if not all(f.startswith("%Y-%m-%d") for f in formats):
            raise ValueError(f"{where}: every declared format must start with %Y-%m-%d (text order is then time order)")


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
    url: str | None = Field(
        None,
        description="SQLAlchemy URL of a database source; a password is named as an environment variable "
        "(postgresql+psycopg2://reader:${WORKFLOW_DB_PASSWORD}@db/collections), never written here",
    )
    cadence: Cadence = Cadence()
    tables: dict[str, TableConfig]

    @field_validator("url")
    @classmethod
    def _no_literal_password(cls, value: str | None) -> str | None:
        return refuse_literal_password(value) if value is not None else None

    @model_validator(mode="after")
    def _derived_tables(self) -> SourceConfig:
        """Add the tables an ``invoice_with_paid_date`` table derives (``<table>_payments`` and
        ``<table>_applications``), so everything downstream sees ordinary tables."""
        added: dict[str, TableConfig] = {}
        for name, table in self.tables.items():
            if table.derive:
                for suffix, derived in derived_tables(table).items():
                    if f"{name}_{suffix}" in self.tables:
                        raise ValueError(f"table {name!r} derives {name}_{suffix}, which is also configured")
                    added[f"{name}_{suffix}"] = derived
        if added:
            object.__setattr__(self, "tables", {**self.tables, **added})
        return self

    @model_validator(mode="after")
    def _transport_fits_tables(self) -> SourceConfig:
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


def derived_tables(table: TableConfig) -> dict[str, TableConfig]:
    """The payments and payment applications an invoice list with a paid date yields: one payment
    per paid document (id: prefix + document id) of its paid amount (default its amount) on its
    paid date, applied to that document. Only rows with a paid date and a non-negative amount
    count: open items and credit memos derive nothing."""
    derive = table.derive
    assert derive is not None
    cols = table.columns
    amount = derive.paid_amount or cols["amount"]
    document = cols["document_id"]
    payment_id = document.model_copy(update={"prefix": derive.payment_id_prefix + document.prefix})
    rows = RowFilter(
        present=tuple(s.column for s in (derive.paid_date,) if s.column),
        not_negative=tuple(s.column for s in (amount,) if s.column),
    )
    common = {"format": table.format, "path": table.path, "query": table.query, "options": table.options}
    common |= {"load": table.load, "rows": rows}
    payments = {"payment_id": payment_id, "payment_date": derive.paid_date, "currency": cols["currency"]}
    payments |= {"amount": amount} | {k: cols[k] for k in ("customer_id",) if k in cols}
    applications = {
        "payment_id": payment_id,
        "document_id": document,
        "applied_amount": amount,
        "applied_date": derive.paid_date,
    }
    return {
        "payments": TableConfig(entity="payments", columns=payments, **common),
        "applications": TableConfig(entity="payment_applications", columns=applications, **common),
    }


class QualityConfig(_Strict):
    """Gates that judge a load, or the run, as a whole (README "Quality gates"; each fails the run
    and leaves the serving file as last published)."""

    max_quarantine_share: float = Field(
        DEFAULT_MAX_QUARANTINE_SHARE,
        ge=0,
        le=1,
        description="largest share of a table's rows landed in one run that may be quarantined",
    )
    max_quarantine_share_per_load: float = Field(
        DEFAULT_MAX_QUARANTINE_SHARE_PER_LOAD,
        ge=0,
        le=1,
        description="largest share of one file (or query result) that may be quarantined",
    )
    quarantine_floor_rows: int = Field(
        DEFAULT_QUARANTINE_FLOOR_ROWS,
        ge=0,
        description="a load or table never fails the share gate with this many quarantined rows or fewer",
    )
    fx_rate_missing: Literal["block", "warn"] = Field(
        "block",
        description="open documents in a currency without an FX rate to the reporting currency on or "
        "before the as-of date: block publish, or only warn",
    )
    erp_open_balance_tolerance: float = Field(
        DBT_VARS["erp_open_balance_tolerance"],
        ge=0,
        le=1,
        description="where the ERP exports its own open balance: the largest share of it (per currency, "
        "customers' differences added) by which Inflow's open AR may differ before the run fails",
    )

    @model_validator(mode="after")
    def _per_load_not_tighter(self) -> QualityConfig:
        if self.max_quarantine_share_per_load < self.max_quarantine_share:
            raise ValueError("max_quarantine_share_per_load must be at least max_quarantine_share")
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


class SparkConfig(_Strict):
    """The local Spark session dbt-spark starts for a Spark build (``method: session``: pyspark in
    the dbt process, Java from the machine). A cluster (dbt-spark's ``thrift`` method, or
    Databricks) is not configured here: the README ("Running beyond one machine") says what it
    would take."""

    master: str = Field(
        "local[2]", pattern=r"^local(\[(\d+|\*)\])?$", description="Spark master of the local session (local[N])"
    )
    driver_memory: str = Field(
        "4g", pattern=r"^\d+[mg]$", description="heap of the Spark driver, which does all the work in local mode"
    )
    shuffle_partitions: int = Field(
        4, ge=1, description="partitions of every join and aggregation (Spark's default 200 suits clusters)"
    )


class WarehouseConfig(_Strict):
    """Which engine builds the dbt models. ``duckdb`` (the default) builds them in the home's
    warehouse file. ``spark`` builds the same models with dbt-spark from the landed batches
    written as Parquet, keeps them as Parquet tables in the Spark catalog under the home, and
    copies them into the warehouse file, so serving.duckdb, the exports and everything after
    the models are the same either way (README, "Running beyond one machine")."""

    engine: Literal["duckdb", "spark"] = Field("duckdb", description="engine of the dbt build: duckdb or spark")
    spark: SparkConfig = SparkConfig()


class RetentionConfig(_Strict):
    """How much history a home keeps (README, "When things go wrong")."""

    runs_kept: int = Field(
        30, ge=1, description="finished Dagster runs whose event logs are kept (about 3.5 MB each); older are deleted"
    )
    backups_kept: int = Field(
        3, ge=1, description="Parquet backups of the landed raw tables, one per successful run, newest kept"
    )
    publications_kept: int = Field(
        3, ge=1, description="publications (serving file and exports) kept on disk, the current one included"
    )


class ServingConfig(_Strict):
    """How the published ``serving.duckdb`` is written for the tools that read it.

    DuckDB 2.0 writes storage version 69 by default, which DuckDB 1.x readers (the PyPI
    ``duckdb-cli`` 1.5.6 and most BI drivers) refuse to open. The serving file is therefore
    written in an older storage format every 1.x reader from 1.5 on opens; ``latest`` writes the
    engine's own newest format instead (only 2.x readers open it).
    """

    storage_version: str = Field(
        "v1.5.0",
        pattern=r"^(v\d+\.\d+\.\d+|latest)$",
        description="DuckDB storage version of serving.duckdb (v1.5.0: DuckDB 1.5+ readers; latest: the engine's own)",
    )

    group_read: bool = Field(
        False,
        description="let the owner's group read the publication (serving.duckdb, exports/, reports/) after each "
        "publish; everything else Inflow writes stays readable by its owner only",
    )

    @field_validator("storage_version")
    @classmethod
    def _known_to_duckdb(cls, value: str) -> str:
        """Ask the engine itself, so a version it cannot write fails at start, not at publish."""
        import duckdb

        con = duckdb.connect()
        try:
            con.execute(f"attach ':memory:' as probe (storage_version '{value}')")
        except duckdb.Error as exc:
            raise ValueError(str(exc).split(", valid options")[0]) from None
        finally:
            con.close()
        return value


class DagsterConfig(_Strict):
    """Where the Dagster instance of a home (``INFLOW_HOME/dagster``) keeps its runs, event log
    and schedules.

    ``sqlite`` (the default) keeps them in files under the home: right for one machine. ``postgres``
    keeps them in a PostgreSQL database (dagster-postgres), which a webserver, a daemon and run
    workers on other machines or pods share. The database URL carries a password, so it is never
    written into ``inflow.yml`` or the generated ``dagster.yaml``: Dagster reads it from the
    environment variable named here when the instance opens, and a run stops at start, naming that
    variable, when it is unset.
    """

    storage: Literal["sqlite", "postgres"] = Field(
        "sqlite", description="sqlite: files under the home; postgres: the database at $postgres_url_env"
    )
    postgres_url_env: str = Field(
        "INFLOW_DAGSTER_PG_URL",
        pattern=r"^[A-Z_][A-Z0-9_]*$",
        description="name of the environment variable holding the PostgreSQL URL "
        "(postgresql://user:password@host:5432/db) when storage is postgres",
    )


class KpiConfig(_Strict):
    """KPI windows and thresholds (dbt vars ``kpi_*``; DECISIONS.md K1-K9, D8)."""

    dso_months: int = Field(DBT_VARS["kpi_dso_months"], ge=1, le=24)
    cei_months: int = Field(DBT_VARS["kpi_cei_months"], ge=1, le=24)
    countback_max_months: int = Field(DBT_VARS["kpi_countback_max_months"], ge=1, le=60)
    at_risk_days: int = Field(DBT_VARS["kpi_at_risk_days"], ge=1)
    cohort_max_months: int = Field(DBT_VARS["kpi_cohort_max_months"], ge=1, le=60)
    max_history_months: int = Field(DBT_VARS["kpi_max_history_months"], ge=1)


class PromiseConfig(_Strict):
    """How promises to pay are judged (dbt var ``promise_grace_days``; DECISIONS.md P5)."""

    grace_days: int = Field(DBT_VARS["promise_grace_days"], ge=0, le=60)


_KEYWORD = re.compile(r"^[a-z0-9][a-z0-9 .:/-]*$")


class CollectionStage(_Strict):
    """One dunning level (DECISIONS.md C1): reached ``days_past_due`` days after the due date, or
    earlier on the day a workflow ``stage_change`` activity names it."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="stage name sent to the ERP (not current or closed)")
    days_past_due: int = Field(ge=1, le=3650, description="days after the due date the stage is reached")
    activity_keywords: tuple[str, ...] = Field(
        (), description="text a stage_change activity holds when it names this stage (lowercase, any case matches)"
    )

    @field_validator("activity_keywords")
    @classmethod
    def _plain_keywords(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [k for k in value if not _KEYWORD.match(k)]
        if bad:
            raise ValueError(f"keywords are lowercase letters, digits, spaces and . : / - only: {bad}")
        return value


class CollectionsConfig(_Strict):
    """Collection (dunning) stages per invoice and customer (dbt var ``collection_stages``)."""

    stages: tuple[CollectionStage, ...] = Field(
        tuple(CollectionStage(**stage) for stage in DBT_VARS["collection_stages"]),
        min_length=1,
        max_length=9,
        description="levels in ascending order of days_past_due",
    )

    @model_validator(mode="after")
    def _ascending_and_named_once(self) -> CollectionsConfig:
        names = [s.name for s in self.stages]
        if len(set(names)) != len(names) or {"current", "closed"} & set(names):
            raise ValueError(f"stage names must be distinct and not 'current' or 'closed': {names}")
        days = [s.days_past_due for s in self.stages]
        if any(b <= a for a, b in zip(days, days[1:], strict=False)):
            raise ValueError(f"days_past_due must be strictly ascending: {days}")
        return self


class EclConfig(_Strict):
    """The IFRS 9 provision matrix (dbt vars ``ecl_*``; DECISIONS.md E1-E4)."""

    lookback_months: int = Field(DBT_VARS["ecl_lookback_months"], ge=1, le=120)
    loss_rate_floor: float = Field(DBT_VARS["ecl_loss_rate_floor"], ge=0, le=1)
    loss_rate_ceiling: float = Field(DBT_VARS["ecl_loss_rate_ceiling"], gt=0, le=1)

    @model_validator(mode="after")
    def _floor_below_ceiling(self) -> EclConfig:
        if self.loss_rate_floor > self.loss_rate_ceiling:
            raise ValueError("loss_rate_floor must not exceed loss_rate_ceiling")
        return self


class ForecastSettings(_Strict):
    """The 13-week cash forecast (models/README.md, "Cash forecast"; decisions F1-F17)."""

    horizon_weeks: int = Field(13, ge=1, le=52, description="weeks forecast ahead of the as-of date")
    n_sims: int = Field(1000, ge=100, le=100_000, description="Monte Carlo paths of the published forecast")
    backtest_sims: int = Field(100, ge=20, le=10_000, description="paths per backtest origin")
    every_weeks: int = Field(4, ge=1, le=13, description="weeks between backtest origins")
    span_weeks: int = Field(52, ge=4, le=260, description="how far back the backtest origins reach")
    gate_margin: float = Field(
        1.0,
        gt=0,
        le=1,
        description="publish the forecast only when its backtest WAPE is below this times the due-date baseline's",
    )
    seed: int = 20261127
    scenarios: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="named what-ifs: delay, haircut, default"
    )

    @field_validator("scenarios")
    @classmethod
    def _scenarios(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        try:
            parse_scenarios(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(str(exc).removeprefix("forecast.scenarios.")) from None
        return value


#: The risk settings dbt reads too (as ``risk_<name>``): one setting for the labels and the features.
RISK_DBT_VARS = (
    "grace_days",
    "severe_days",
    "snapshot_step_days",
    "history_days",
    "training_invoices",
    "customer_trend_days",
    "write_off_min_share",
)


class RiskSettings(_Strict):
    """Risk labels, features and training (models/README.md; dbt vars ``risk_*``)."""

    grace_days: int = Field(DBT_VARS["risk_grace_days"], ge=0, le=60, description="paid later than due + this: late")
    severe_days: int = Field(
        DBT_VARS["risk_severe_days"], ge=1, le=365, description="later than this, or written off: severe"
    )
    snapshot_step_days: int = Field(DBT_VARS["risk_snapshot_step_days"], ge=7, le=91)
    history_days: int = Field(DBT_VARS["risk_history_days"], ge=90)
    training_invoices: int = Field(DBT_VARS["risk_training_invoices"], ge=1000)
    customer_trend_days: int = Field(DBT_VARS["risk_customer_trend_days"], ge=7)
    write_off_min_share: float = Field(DBT_VARS["risk_write_off_min_share"], gt=0, le=1)
    min_paid_invoices: int = Field(5, ge=1, description="fewer paid invoices: insufficient_history, segment prior")
    min_history_days: int = Field(84, ge=0, description="a shorter history: insufficient_history, segment prior")
    training_days: int = Field(540, ge=90, description="the model learns from rows scored this far back")
    backtest_origins: int = Field(4, ge=2, le=24, description="rolling-origin backtest origins")

    @model_validator(mode="after")
    def _grace_below_severe(self) -> RiskSettings:
        if self.severe_days <= self.grace_days:
            raise ValueError("severe_days must exceed grace_days")
        return self


class WorklistSettings(_Strict):
    """The collector queue (models/worklist.py)."""

    capacity_per_collector: int = Field(25, ge=0, description="rows a collector works in a day")
    horizon_days: int = Field(30, ge=1, le=120, description="value at risk looks this far ahead")
    dispute_owner: str | None = Field(None, description="who works disputed invoices (else their collector)")


class ScheduleConfig(_Strict):
    """One schedule: a cron expression in a time zone, on or off when the UI first shows it."""

    cron: str
    timezone: str = "UTC"
    enabled: bool = False

    @field_validator("cron")
    @classmethod
    def _five_fields(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError("cron must have five fields: minute hour day-of-month month day-of-week")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Paris)") from None
        return value


class AutomationConfig(_Strict):
    """How Inflow runs by itself in Dagster (orchestration/defs/automation.py)."""

    daily_refresh: ScheduleConfig = ScheduleConfig(cron="0 5 * * *")
    weekly_forecast: ScheduleConfig = ScheduleConfig(cron="0 6 * * 1")
    file_sensor: bool = Field(
        True,
        description="start the daily refresh when a file source gets a new file (the main job while the home has "
        "never published)",
    )
    sensor_interval_seconds: int = Field(300, ge=30)
    debounce_seconds: int = Field(60, ge=0, description="a file counts once unchanged for this long")
    failure_webhook_env: str | None = Field(
        None,
        pattern=r"^[A-Z_][A-Z0-9_]*$",
        description="name of the environment variable holding a webhook URL that failed steps are posted to",
    )


class PublishConfig(_Strict):
    """Guards of the publication (orchestration/defs/publish/guard.py)."""

    max_open_invoice_drop: float = Field(
        0.5,
        ge=0,
        le=1,
        description="refuse a publication that lost more than this share of the published "
        "open invoices, unless run with --allow-shrink",
    )


class InflowConfig(_Strict):
    """The whole ``inflow.yml``."""

    company: str
    reporting_currency: str = Field(pattern=r"^[A-Z]{3}$")
    as_of_date: dt.date | None = None
    aging: AgingConfig = AgingConfig()
    kpis: KpiConfig = KpiConfig()
    promises: PromiseConfig = PromiseConfig()
    collections: CollectionsConfig = CollectionsConfig()
    ecl: EclConfig = EclConfig()
    forecast: ForecastSettings = ForecastSettings()
    risk: RiskSettings = RiskSettings()
    worklist: WorklistSettings = WorklistSettings()
    writeback: WritebackConfig = WritebackConfig()
    automation: AutomationConfig = AutomationConfig()
    publish: PublishConfig = PublishConfig()
    engine: EngineConfig = EngineConfig()
    warehouse: WarehouseConfig = WarehouseConfig()
    retention: RetentionConfig = RetentionConfig()
    serving: ServingConfig = ServingConfig()
    dagster: DagsterConfig = DagsterConfig()
    quality: QualityConfig = QualityConfig()
    privacy: PrivacyConfig = PrivacyConfig()
    paths: PathsConfig = PathsConfig()
    sources: dict[str, SourceConfig]
    base_dir: Path = Field(default=Path("."), exclude=True)

    @model_validator(mode="after")
    def _source_names(self) -> InflowConfig:
        for name in self.sources:
            if not _IDENTIFIER.match(name):
                raise ValueError(f"source name {name!r} must be lowercase letters, digits, underscores")
        return self

    @model_validator(mode="after")
    def _a_system_of_record(self) -> InflowConfig:
        """A configuration that lands no invoices from a system of record can only publish empty
        tables, dated as if they were true: refused at start."""
        if not self.sources:
            raise ValueError("sources: configure at least one source")
        if not any(src.role == "system_of_record" and tbl.entity == "invoices" for _, _, src, tbl in self.tables()):
            raise ValueError("no system-of-record table lands invoices (role: system_of_record, entity: invoices)")
        return self

    @model_validator(mode="after")
    def _paths_confined(self) -> InflowConfig:
        """Every file path and SQLite database stays inside this file's folder or ``paths.roots``."""
        try:
            for source, table, src, tbl in self.tables():
                if tbl.path:
                    check_configured(self.resolve(tbl.path), f"sources.{source}.tables.{table}.path", *self._roots())
                database = sqlite_path(src.url or "")
                if database is not None:
                    check_configured(self.resolve(database), f"sources.{source}.url", *self._roots())
        except PathOutsideRoots as exc:
            raise ValueError(str(exc)) from None
        return self

    def _roots(self) -> tuple[Path, PathsConfig]:
        return self.base_dir, self.paths

    def secret_references(self, area: Literal["sources", "writeback"] | None = None) -> list[tuple[str, str]]:
        """(setting, configured text) of every secret-bearing setting that names variables; with
        ``area``, of that section only (a run lands sources; only ``inflow outbox send`` needs the
        writeback targets')."""
        refs = [(f"sources.{name}.url", src.url) for name, src in self.sources.items() if src.url]
        for name, target in self.writeback.targets.items():
            where = f"writeback.targets.{name}"
            refs += [(f"{where}.url", target.url)] if getattr(target, "url", None) else []
            refs += [(f"{where}.headers.{h}", v) for h, v in (getattr(target, "headers", None) or {}).items()]
        return [(where, text) for where, text in refs if area is None or where.startswith(f"{area}.")]

    def missing_entities(self) -> list[str]:
        """Entities the marts use that no table lands, and that Inflow then derives (warned at start)."""
        return [name for name in ("customers",) if not self.tables_of(name)]

    def quarantine_limits(self, tbl: TableConfig) -> tuple[float, float, int]:
        """(per table in a run, per load, floor rows) of one table: its overrides, else the quality section."""
        q = self.quality
        table = q.max_quarantine_share if tbl.max_quarantine_share is None else tbl.max_quarantine_share
        per_load = (
            q.max_quarantine_share_per_load
            if tbl.max_quarantine_share_per_load is None
            else tbl.max_quarantine_share_per_load
        )
        return table, max(per_load, table), q.quarantine_floor_rows

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

    def dbt_vars(self, as_of: dt.date | None = None) -> dict[str, Any]:
        """Every dbt var the configuration sets; the rest of ``DBT_VARS`` are project constants.

        With ``as_of``, also ``as_of_date``: the vars of dbt run by hand. Inflow's own runs hand
        the date over in the environment instead, so dbt's parse survives a new day
        (``dbt_project/DECISIONS.md`` R1)."""
        kpis, ecl = self.kpis, self.ecl
        return {
            **({"as_of_date": as_of.isoformat()} if as_of else {}),
            "reporting_currency": self.reporting_currency,
            "aging_basis": self.aging.basis,
            "erp_open_balance_tolerance": self.quality.erp_open_balance_tolerance,
            "customers_landed": "customers" not in self.missing_entities(),
            "aging_buckets": list(self.aging.buckets),
            "missing_due_date_terms_days": self.aging.missing_due_date_terms_days,
            "aging_history_days": self.aging.history_days,
            "kpi_dso_months": kpis.dso_months,
            "kpi_cei_months": kpis.cei_months,
            "kpi_countback_max_months": kpis.countback_max_months,
            "kpi_at_risk_days": kpis.at_risk_days,
            "kpi_cohort_max_months": kpis.cohort_max_months,
            "kpi_max_history_months": kpis.max_history_months,
            "promise_grace_days": self.promises.grace_days,
            "collection_stages": [stage.model_dump(mode="json") for stage in self.collections.stages],
            "ecl_lookback_months": ecl.lookback_months,
            "ecl_loss_rate_floor": ecl.loss_rate_floor,
            "ecl_loss_rate_ceiling": ecl.loss_rate_ceiling,
            **{f"risk_{name}": getattr(self.risk, name) for name in RISK_DBT_VARS},
        }


def sqlite_path(url: str) -> str | None:
    """The database file of a ``sqlite:///`` URL as written (None for other URLs, memory, or a
    URL naming environment variables, judged once they are resolved)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or "${" in url:
        return None
    path = url[len(prefix) :].split("?")[0]
    return None if path in ("", ":memory:") else path


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
            message = err["msg"].removeprefix("Value error, ")
            lines.append(f"  - {_location(err['loc']) or '(top level)'}: {message}")
        raise ConfigError("\n".join(lines)) from None


def future_as_of(as_of: dt.date, today: dt.date) -> str | None:
    """Why a run may not compute as of ``as_of`` when it starts on ``today``, or None.

    A run publishes what was known at the end of its as-of day. A day that has not happened would
    be published as current (BI keeps it until a run is promoted over it), age every invoice
    into days still to come, call the running month complete, and queue ERP changes worked out
    for that day; so it is refused, whoever asks (the CLI, the launchpad or the configuration)."""
    if as_of <= today:
        return None
    return (
        f"as-of date {as_of} is after today ({today}): a run computes what is known at the end of a day "
        "that has happened; choose today or an earlier day"
    )


__all__ = ["ColumnSpec", "ConfigError", "InflowConfig", "load_config", "ENTITIES"]
