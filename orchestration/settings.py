"""Where Inflow reads its configuration and writes its outputs, built once and passed explicitly.

Everything a run writes lives under the home (``INFLOW_HOME``): the working warehouse, the
published serving file, exports, dbt artifacts and the Dagster instance. ``inflow`` builds the
settings from its options (whose defaults are ``$INFLOW_CONFIG`` / ``$INFLOW_HOME``); the Dagster
code location (``make ui``) builds them once, from the environment it is started in
(:meth:`Settings.from_environment`). Nothing is handed from one part of Inflow to another through
environment variables; what may change from run to run (the as-of date, a full refresh) is run
configuration (:class:`orchestration.resources.RunOptions`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from orchestration.config import REPO_ROOT, SAMPLE_CONFIG, ConfigError, InflowConfig, load_config

DEFAULT_HOME = REPO_ROOT / ".inflow"
#: The dbt profile's target of each engine (``warehouse.engine``).
DBT_TARGETS = {"duckdb": "warehouse", "spark": "spark"}
#: The folder of a home holding its dbt profile, where dbt runs.
PROFILE_FOLDER = "dbt_profile"


@dataclass(frozen=True)
class HomeLayout:
    """Every path under one ``INFLOW_HOME``, named once.

    ``serving.duckdb`` and the schema folders of ``exports/`` are links into the current
    publication (``published`` -> ``publications/<id>``), so one rename switches all of them
    together (:mod:`orchestration.defs.publish.publication`).
    """

    home: Path

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def serving(self) -> Path:
        return self.home / "serving.duckdb"

    @property
    def exports(self) -> Path:
        return self.home / "exports"

    @property
    def dagster(self) -> Path:
        return self.home / "dagster"

    @property
    def lock(self) -> Path:
        """The run lock: one writer per home (:mod:`orchestration.home.lock`)."""
        return self.home / "run.lock"

    @property
    def publications(self) -> Path:
        """Complete publications, one folder each: ``serving.duckdb``, ``exports/``, ``manifest.json``."""
        return self.home / "publications"

    @property
    def published(self) -> Path:
        """The link to the current publication's folder."""
        return self.home / "published"

    @property
    def dated(self) -> Path:
        """Links to publications of past days, one per as-of date (``dated/<as_of>``), beside the
        current one: a rebuild of an earlier day never replaces what BI reads as current."""
        return self.home / "dated"

    @property
    def spark(self) -> Path:
        """What a Spark build keeps (``warehouse.engine: spark``): ``lake/`` (the landed batches as
        Parquet), ``warehouse/`` (the models as Parquet tables) and ``metastore_db/`` (the catalog
        naming them). All derived: removing the folder costs the next Spark run nothing but time."""
        return self.home / "spark"

    @property
    def backups(self) -> Path:
        """Parquet backups of the landed raw tables, one folder per successful run."""
        return self.home / "backups"

    def not_written(self, path: Path) -> str | None:
        """Why a command that only reads ``path`` (a file a run writes under this home) cannot, or
        None when it can. The one check every read-only command makes before opening anything:
        opening a store creates it, so a mistyped --home would get an empty store and an answer
        that looks like an empty home instead of a refusal."""
        if path.exists():
            return None
        return (
            f"{path} does not exist: no run has written it in {self.home} yet (or that folder is not an "
            "Inflow home); run `inflow run` first"
        )


@dataclass(frozen=True)
class Settings:
    config: InflowConfig
    config_path: Path
    home: Path

    @classmethod
    def load(cls, config_path: Path | None = None, home: Path | None = None) -> Settings:
        """Validate the configuration (default: the sample company) and fix the home (default ``.inflow/``)."""
        path = Path(config_path or SAMPLE_CONFIG).resolve()
        return cls(config=load_config(path), config_path=path, home=Path(home or DEFAULT_HOME).resolve())

    @classmethod
    def from_environment(cls) -> Settings:
        """The code location's settings, from ``INFLOW_CONFIG`` and ``INFLOW_HOME`` where it is started."""
        config, home = os.environ.get("INFLOW_CONFIG"), os.environ.get("INFLOW_HOME")
        return cls.load(Path(config) if config else None, Path(home) if home else None)

    @property
    def layout(self) -> HomeLayout:
        return HomeLayout(self.home)

    @property
    def warehouse_path(self) -> Path:
        return self.layout.warehouse

    @property
    def serving_path(self) -> Path:
        return self.layout.serving

    @property
    def exports_dir(self) -> Path:
        return self.layout.exports

    @property
    def dagster_home(self) -> Path:
        return self.layout.dagster

    @property
    def dbt_runs_dir(self) -> Path:
        """Per-run dbt artifacts (compiled SQL, run_results.json, dbt.log)."""
        return self.home / "dbt"

    def write_dagster_instance(self) -> Path:
        """The Dagster instance of this home (``dagster/dagster.yaml``): telemetry off, one run at a
        time (DuckDB takes one writer; queued runs wait their turn), and runs whose process died
        marked failed by run monitoring instead of staying STARTED. Its storage is SQLite files
        under the folder, or PostgreSQL (``dagster.storage``), whose URL the file names only by its
        environment variable. Returns the instance folder.

        Raises :class:`ConfigError` naming the setting and the variable when PostgreSQL storage is
        chosen and the variable is unset, rather than the config-schema dump Dagster raises when it
        opens the instance.
        """
        self.dagster_home.mkdir(parents=True, exist_ok=True)
        instance = {
            "telemetry": {"enabled": False},
            "concurrency": {"runs": {"max_concurrent_runs": 1}},
            "run_monitoring": {
                "enabled": True,
                "start_timeout_seconds": 180,
                "max_resume_run_attempts": 0,
                "poll_interval_seconds": 60,
            },
        } | self._dagster_storage()
        text = "# Written by Inflow for this home; edit inflow.yml, not this file.\n" + yaml.safe_dump(instance)
        target = self.dagster_home / "dagster.yaml"
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
        return self.dagster_home

    def _dagster_storage(self) -> dict[str, Any]:
        """The storage blocks of dagster.yaml. SQLite: Dagster's default files under the instance
        folder (``history/``, ``history/runs/``, ``schedules/``), the event log through
        :class:`~orchestration.home.event_log.PooledSqliteEventLogStorage`, which keeps its
        connections open. PostgreSQL: dagster-postgres reading its URL from the environment at
        open time."""
        dagster = self.config.dagster
        if dagster.storage == "sqlite":
            history = self.dagster_home / "history"
            return {
                "run_storage": _storage("dagster._core.storage.runs", "SqliteRunStorage", history),
                "event_log_storage": _storage(
                    "orchestration.home.event_log", "PooledSqliteEventLogStorage", history / "runs"
                ),
                "schedule_storage": _storage(
                    "dagster._core.storage.schedules", "SqliteScheduleStorage", self.dagster_home / "schedules"
                ),
            }
        variable = dagster.postgres_url_env
        if not os.environ.get(variable):
            raise ConfigError(
                f"{self.config_path}: dagster.storage is 'postgres' but the environment variable {variable} "
                f"(dagster.postgres_url_env) is not set; set it to the PostgreSQL URL of the Dagster "
                f"instance, e.g. postgresql://user:password@host:5432/dagster"
            )
        return {"storage": {"postgres": {"postgres_url": {"env": variable}}}}

    def with_engine(self, engine: str | None) -> Settings:
        """These settings with another dbt engine (``inflow run --engine``); None keeps the configured one."""
        if engine is None or engine == self.config.warehouse.engine:
            return self
        warehouse = self.config.warehouse.model_copy(update={"engine": engine})
        return replace(self, config=self.config.model_copy(update={"warehouse": warehouse}))

    def write_dbt_profile(self) -> Path:
        """The dbt profile of this home, written to ``home/dbt_profile``; returns the folder to give
        dbt as its profiles dir. Two targets: ``warehouse`` (DuckDB: the home's warehouse, the
        engine's memory limit) and ``spark`` (:meth:`_spark_output`); the configured engine's is
        the default. Written as YAML data, so any path (quotes and spaces included) stays a path.

        The warehouse is named relative to this folder, where Inflow runs dbt
        (:mod:`orchestration.defs.transform.dbt_guard`): the DuckDB profile is then the same text
        in every home, and dbt, which checks the profile's connection values before it reuses a
        saved parse, can start a home's first run from a parse made for another home
        (``dbt_project/DECISIONS.md`` R1)."""
        folder = self.home / PROFILE_FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        duckdb_output = {
            "type": "duckdb",
            "path": os.path.relpath(self.warehouse_path, folder),
            # Two models or tests at a time: the Python side of one overlaps the SQL of the other.
            "threads": 2,
            "settings": {
                "memory_limit": self.config.engine.memory_limit,
                # Models are sets: their row order means nothing, so DuckDB may write them in parallel.
                "preserve_insertion_order": False,
            },
        }
        target = DBT_TARGETS[self.config.warehouse.engine]
        outputs = {DBT_TARGETS["duckdb"]: duckdb_output, DBT_TARGETS["spark"]: self._spark_output()}
        profile = {"inflow": {"target": target, "outputs": outputs}}
        text = yaml.safe_dump(profile, sort_keys=False)
        written = folder / "profiles.yml"
        if not written.exists() or written.read_text(encoding="utf-8") != text:
            written.write_text(text, encoding="utf-8")
        return folder

    def _spark_output(self) -> dict[str, Any]:
        """dbt-spark in session mode: a local Spark inside the dbt process. Its catalog (Derby) and
        its tables live under ``home/spark``, never in the working directory (the dbt project)."""
        spark, root = self.config.warehouse.spark, self.layout.spark
        metastore = f"jdbc:derby:;databaseName={root / 'metastore_db'};create=true"
        return {
            "type": "spark",
            "method": "session",
            "host": "localhost",
            "schema": "main",
            "threads": 1,
            "server_side_parameters": {
                "spark.master": spark.master,
                "spark.driver.memory": spark.driver_memory,
                "spark.sql.shuffle.partitions": str(spark.shuffle_partitions),
                "spark.sql.warehouse.dir": str(root / "warehouse"),
                "spark.hadoop.javax.jdo.option.ConnectionURL": metastore,
                "spark.driver.extraJavaOptions": f"-Dderby.system.home={root}",
                # Dates and timestamps are wall-clock values, as in DuckDB; Parquet timestamps in
                # the standard microsecond type DuckDB reads back unchanged.
                "spark.sql.session.timeZone": "UTC",
                "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
                "spark.ui.enabled": "false",
                # dbt's structured events and Spark's console share the dbt process' output: a
                # progress bar or a warning written into an event's line loses the event.
                "spark.ui.showConsoleProgress": "false",
                "spark.log.level": "ERROR",
            },
        }


def _storage(module: str, cls: str, base_dir: Path) -> dict[str, Any]:
    """One storage block of dagster.yaml: a class and the folder of its SQLite files."""
    return {"module": module, "class": cls, "config": {"base_dir": str(base_dir)}}
