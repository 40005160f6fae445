"""The dbt project as Dagster assets, with the one translator of the project.

Asset keys are ``<schema>/<table>`` (``marts/fct_ar_invoices``): the layer a table lives in. Groups
are the areas the folders declare in ``dbt_project.yml`` (``+meta: {dagster: {group: ...}}``), in
the order data flows, so the UI reads left to right: staging → ar → collections → kpis. dbt tests
become asset checks; ``dbt build`` skips everything downstream of a failing error-severity test
and fails the step, so a broken key or an unreconciled balance blocks publishing in the same run.
The run's as-of date (and a full refresh) come from the run's :class:`RunOptions`, so the UI can
rebuild any past day. The date reaches dbt in the environment, not as a var, and dbt's parse of
the project is kept between runs, so a daily run does not re-parse it (``DECISIONS.md`` R1).
What dbt prints goes to a file in the run's dbt folder, and a few lines about it to the run's log
(:mod:`orchestration.defs.transform.dbt_console`). With ``warehouse.engine: spark`` the same build
runs on Spark, between the lake written before it and the copy into the warehouse after it
(:func:`build_on_spark`, :mod:`orchestration.defs.transform.spark`).
"""

import contextlib
import datetime as dt
import hashlib
import importlib.metadata
import json
import os
import shutil
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets
from packaging import version

from orchestration.config import REPO_ROOT
from orchestration.defs.transform.dbt_console import quiet_events, quiet_wait
from orchestration.defs.transform.metadata import with_table_metadata
from orchestration.defs.transform.spark import LAKE_ENV, copy_models_to_warehouse, lake_dir, write_lake
from orchestration.permissions import restrict_tree
from orchestration.resources import RunOptions
from orchestration.settings import DBT_TARGETS, Settings

DBT_DIR = REPO_ROOT / "dbt_project"
#: dbt from this interpreter's environment (a venv need not be on PATH), started through the guard
#: that kills it when the run's process dies (``dbt_guard``): ``python -m ...dbt_guard <dbt args>``.
DBT_EXECUTABLE = sys.executable
DBT_GUARD = ["-m", "orchestration.defs.transform.dbt_guard"]
#: Files whose change needs a new manifest, and folders of dbt's own output that hold none.
_WATCHED = (".sql", ".yml", ".md")
_NOT_SOURCE = frozenset({"target", "dbt_packages", "logs"})
#: The dbt artifacts (compiled SQL, run_results.json, dbt.log) of this many recent runs are kept
#: under INFLOW_HOME/dbt; a run's artifacts take about 9 MB.
DBT_RUNS_KEPT = 10
#: The environment variable the macro ``as_of_date()`` reads the run's date from.
AS_OF_ENV = "INFLOW_DBT_AS_OF_DATE"
#: dbt's saved parse of the project, which it reads from and writes to the target path.
PARTIAL_PARSE = "partial_parse.msgpack"


class InflowDbtTranslator(DagsterDbtTranslator):
    """Keys are schema/table; groups are layers; sources point at the landing assets."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        meta_key = dbt_resource_props.get("meta", {}).get("dagster", {}).get("asset_key")
        if meta_key:
            return dg.AssetKey(meta_key)
        schema = dbt_resource_props.get("config", {}).get("schema") or dbt_resource_props["schema"]
        return dg.AssetKey([schema, dbt_resource_props["name"]])

    def get_asset_check_spec(
        self, asset_spec: dg.AssetSpec, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetCheckSpec | None:
        """dagster-dbt's check, with a description a person can read when the test has none."""
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None or spec.description:
            return spec
        return spec._replace(description=describe_test(manifest["nodes"][unique_id]))

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return "raw"
        group = dbt_resource_props.get("config", {}).get("meta", {}).get("dagster", {}).get("group")
        if not group:
            raise ValueError(
                f"dbt model {dbt_resource_props['name']} is in a folder without a Dagster group "
                "(+meta: {dagster: {group: ...}} in dbt_project.yml)"
            )
        return group


def describe_test(test: Mapping[str, Any]) -> str:
    """A sentence for a generic dbt test, from its name and arguments, and whether it blocks."""
    metadata = test.get("test_metadata") or {}
    kwargs = metadata.get("kwargs", {})
    column = kwargs.get("column_name")
    blocks = "blocks publishing" if test.get("config", {}).get("severity", "error").lower() == "error" else "warns"
    sentences = {
        "unique": f"every {column} appears once",
        "not_null": f"no {column} is null",
        "accepted_values": f"{column} is one of {', '.join(map(str, kwargs.get('values', [])))}",
        "relationships": f"every {column} is a {kwargs.get('field')} of {str(kwargs.get('to', '')).strip()}",
        "unique_combination_of_columns": f"each ({', '.join(kwargs.get('combination_of_columns', []))}) appears once",
        "expression_is_true": f"every row satisfies {kwargs.get('expression')}",
    }
    what = sentences.get(metadata.get("name", ""), metadata.get("name") or test.get("name", "a data test"))
    return f"{what} ({blocks} when it fails)."


def _project_sources(project_dir: Path) -> Iterator[Path]:
    """The project's own SQL, YAML and docs files; dbt's output folders are not walked."""
    for root, dirs, files in os.walk(project_dir):
        dirs[:] = [d for d in dirs if d not in _NOT_SOURCE]
        yield from (Path(root, name) for name in files if name.endswith(_WATCHED))


def source_fingerprint(project_dir: Path) -> str:
    """A digest of every project file's path, size and modification time: it changes when a file
    is edited, added, removed or moved (a move keeps the file's mtime, so comparing times with the
    manifest's would miss it)."""
    entries = sorted(
        f"{p.relative_to(project_dir).as_posix()}|{p.stat().st_size}|{p.stat().st_mtime_ns}"
        for p in _project_sources(project_dir)
    )
    return hashlib.sha256("\n".join(entries).encode()).hexdigest()


def _fingerprint_path(project: DbtProject) -> Path:
    return project.manifest_path.parent / "inflow_sources.sha256"


def _manifest_is_stale(project: DbtProject) -> bool:
    recorded = _fingerprint_path(project)
    if not project.manifest_path.exists() or not recorded.exists():
        return True
    return recorded.read_text() != source_fingerprint(Path(project.project_dir))


def run_target_path(settings: Settings, run_id: str) -> Path:
    """Where a run's dbt artifacts go: beside the warehouse they describe, not in the checkout.

    Older runs' folders beyond the newest ``DBT_RUNS_KEPT`` are removed first, so a scheduled
    deployment does not fill its disk with them.
    """
    runs = settings.dbt_runs_dir
    if runs.is_dir():
        previous = sorted((p for p in runs.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in previous[DBT_RUNS_KEPT - 1 :]:
            shutil.rmtree(old, ignore_errors=True)
    return runs / run_id


@contextmanager
def environment_for_dbt(name: str, value: str) -> Iterator[None]:
    """Hand a value to the dbt processes started inside the block, in the environment (dagster-dbt
    passes this process' environment on); the previous value is restored after it."""
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


def as_of_for_dbt(as_of: dt.date) -> contextlib.AbstractContextManager[None]:
    """The run's date for the dbt processes started inside the block (macro ``as_of_date()``)."""
    return environment_for_dbt(AS_OF_ENV, as_of.isoformat())


def reuse_parse(settings: Settings, target: Path) -> None:
    """Give a run's dbt the parse the previous run of this home saved, else (a home's first run)
    the one :func:`dbt_project` made for the code. dbt checks it (versions, vars, profile, every
    file's checksum) and re-parses whatever changed, so a stale one only costs a full parse."""
    for saved in (settings.dbt_runs_dir / PARTIAL_PARSE, DBT_DIR / "target" / PARTIAL_PARSE):
        if saved.is_file():
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(saved, target / PARTIAL_PARSE)
            return


def keep_parse(settings: Settings, target: Path) -> None:
    """Keep the parse a run's dbt saved, for the next run (replaced whole, never half-written)."""
    written = target / PARTIAL_PARSE
    if written.is_file():
        partial = settings.dbt_runs_dir / f".{PARTIAL_PARSE}.partial"
        shutil.copyfile(written, partial)
        partial.replace(settings.dbt_runs_dir / PARTIAL_PARSE)


def run_manifest(settings: Settings, run_id: str) -> Path:
    """The manifest of the dbt build of one run (its docs as built), else the project's parsed one."""
    built = settings.dbt_runs_dir / run_id / "manifest.json"
    return built if built.is_file() else DBT_DIR / "target" / "manifest.json"


def dbt_project(settings: Settings) -> DbtProject:
    """The dbt project with this home's profile, parsed into a manifest when the manifest is
    missing or older than the code. The parse has the configuration's vars, as a run's build has,
    so a new home's first build can start from it (:func:`reuse_parse`)."""
    project = DbtProject(project_dir=DBT_DIR, profiles_dir=settings.write_dbt_profile())
    if _manifest_is_stale(project):
        fingerprint = source_fingerprint(Path(project.project_dir))
        dbt_cli(project).cli(["parse", "--quiet", *vars_args(settings)], target_path=project.target_path).wait()
        _fingerprint_path(project).write_text(fingerprint)
    return project


class InflowDbtCli(DbtCliResource):
    """dagster-dbt's dbt CLI resource without its warm-up before every dbt command.

    Before each command dagster-dbt runs ``dbt --version`` in a subprocess and builds a dbt adapter
    inside the Dagster process. Both only serve ``fetch_row_counts()`` and
    ``fetch_column_metadata()``, which Inflow does not call (row counts break the next DuckDB
    connection). Skipping both took the sample company's dbt step from 20.2 s to 16.4 s (one run
    each). The executable is this environment's dbt, so its version is the installed dbt-core's.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(importlib.metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        return None


def dbt_cli(project: DbtProject) -> InflowDbtCli:
    """The dbt CLI resource: dbt as a guarded child (``DBT_GUARD`` goes before dbt's own arguments)."""
    return InflowDbtCli(
        project_dir=project,
        profiles_dir=str(project.profiles_dir),
        dbt_executable=DBT_EXECUTABLE,
        global_config_flags=DBT_GUARD,
    )


def vars_args(settings: Settings) -> list[str]:
    """The configuration's dbt vars as dbt arguments; every command of a home passes the same, so
    dbt's saved parse stays valid between them (``dbt_project/DECISIONS.md`` R1)."""
    return ["--vars", json.dumps(settings.config.dbt_vars())]


def build_args(settings: Settings, run: RunOptions) -> list[str]:
    """``dbt build`` for one run: the configuration's vars (the date goes in the environment,
    :func:`as_of_for_dbt`). dbt unit tests check SQL logic on mocked rows, not data: they run in
    the test suite, not in every production run."""
    args = [
        "build",
        *vars_args(settings),
        "--exclude-resource-type",
        "unit_test",
    ]
    return [*args, "--full-refresh"] if run.full_refresh else args


def view_args(settings: Settings) -> list[str]:
    """``dbt run`` of the models that are views, on DuckDB: after a Spark build they are created
    in the warehouse file over the tables copied from Spark (:mod:`.spark`)."""
    return [
        "run",
        "--target",
        DBT_TARGETS["duckdb"],
        "--select",
        "config.materialized:view",
        *vars_args(settings),
    ]


def build_on_spark(
    settings: Settings, run: RunOptions, dbt: InflowDbtCli, context: dg.AssetExecutionContext, target: Path
) -> list[Any]:
    """The dbt build on Spark (``warehouse.engine: spark``): the landed batches to the lake, dbt
    build from it, then the built tables and the views into the warehouse file. The build's
    events are returned only once all three are done, so a model whose copy failed is never
    reported materialized; a failing build or test raises before anything is copied."""
    context.log.info("dbt on Spark: writing the landed batches to the lake")
    write_lake(settings)
    with environment_for_dbt(LAKE_ENV, str(lake_dir(settings))):
        events = list(quiet_events(dbt.cli(build_args(settings, run), context=context, target_path=target), context))
    copied = copy_models_to_warehouse(settings, target / "manifest.json")
    context.log.info(f"dbt on Spark: {copied} tables copied into the warehouse; creating the views on DuckDB")
    quiet_wait(dbt.cli(view_args(settings), target_path=target / "duckdb_views"))
    return events


def build_dbt_assets(settings: Settings) -> tuple[dg.AssetsDefinition, InflowDbtCli]:
    project = dbt_project(settings)
    translator = InflowDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))

    @dbt_assets(manifest=project.manifest_path, project=project, dagster_dbt_translator=translator, name="dbt_models")
    def _dbt_models(context: dg.AssetExecutionContext, dbt: InflowDbtCli, run: RunOptions) -> Iterator[Any]:
        """Builds and tests every dbt model as of the run's date."""
        target = run_target_path(settings, context.run_id)
        reuse_parse(settings, target)
        try:
            with as_of_for_dbt(run.as_of(settings.config.as_of_date)):
                if settings.config.warehouse.engine == "spark":
                    events = build_on_spark(settings, run, dbt, context, target)
                else:
                    events = quiet_events(
                        dbt.cli(build_args(settings, run), context=context, target_path=target), context
                    )
            yield from with_table_metadata(
                events,
                context.asset_key_for_output,
                settings.warehouse_path,
                settings.config.reporting_currency,
                settings.config.engine.memory_limit,
            )
            keep_parse(settings, target)
        finally:
            restrict_tree(target)

    return _dbt_models, dbt_cli(project)
