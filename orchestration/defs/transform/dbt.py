"""The dbt project as Dagster assets, with the one translator of the project.

Asset keys are ``<schema>/<table>`` (``marts/fct_ar_invoices``) and groups are the layers, so the
UI shows raw → staging → intermediate → marts. dbt tests become asset checks; ``dbt build`` skips
everything downstream of a failing error-severity test and fails the step, so a broken key or an
unreconciled balance blocks publishing in the same run.
"""


import importlib.metadata
import json
import os
import shutil
import sys
from collections.abc import Iterator, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets
from packaging import version

from orchestration.config import REPO_ROOT
from orchestration.settings import Settings

DBT_DIR = REPO_ROOT / "dbt_project"
#: dbt from this interpreter's environment, so a venv that is not on PATH still works.
DBT_EXECUTABLE = str(Path(sys.executable).parent / "dbt")
#: Files whose change needs a new manifest, and folders of dbt's own output that hold none.
_WATCHED = (".sql", ".yml", ".md")
_NOT_SOURCE = frozenset({"target", "dbt_packages", "logs"})
#: The dbt artifacts (compiled SQL, run_results.json, dbt.log) of this many recent runs are kept
#: under INFLOW_HOME/dbt; a run's artifacts take about 9 MB.
DBT_RUNS_KEPT = 10


class InflowDbtTranslator(DagsterDbtTranslator):
    """Keys are schema/table; groups are layers; sources point at the landing assets."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        meta_key = dbt_resource_props.get("meta", {}).get("dagster", {}).get("asset_key")
        if meta_key:
            return dg.AssetKey(meta_key)
        schema = dbt_resource_props.get("config", {}).get("schema") or dbt_resource_props["schema"]
        return dg.AssetKey([schema, dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return "raw"
        return dbt_resource_props.get("config", {}).get("schema") or dbt_resource_props["schema"]


def dbt_vars(settings: Settings) -> dict[str, Any]:
    """The run's settings as dbt vars: everything is computed as of one date."""
    aging = settings.config.aging
    return {
        "as_of_date": settings.as_of_date.isoformat(),
        "reporting_currency": settings.config.reporting_currency,
        "aging_basis": aging.basis,
        "aging_buckets": list(aging.buckets),
        "missing_due_date_terms_days": aging.missing_due_date_terms_days,
        "aging_history_days": aging.history_days,
    }


def _project_sources(project_dir: Path) -> Iterator[Path]:
    """The project's own SQL, YAML and docs files; dbt's output folders are not walked."""
    for root, dirs, files in os.walk(project_dir):
        dirs[:] = [d for d in dirs if d not in _NOT_SOURCE]
        yield from (Path(root, name) for name in files if name.endswith(_WATCHED))


def _manifest_is_stale(project: DbtProject) -> bool:
    manifest = project.manifest_path
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    return any(p.stat().st_mtime > built for p in _project_sources(Path(project.project_dir)))


def run_target_path(settings: Settings, run_id: str) -> Path:
    """Where a run's dbt artifacts go: beside the warehouse they describe, not in the checkout.

    Older runs' folders beyond the newest ``DBT_RUNS_KEPT`` are removed first, so a scheduled
    deployment does not fill its disk with them.
    """
    runs = settings.home / "dbt"
    if runs.is_dir():
        previous = sorted((p for p in runs.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in previous[DBT_RUNS_KEPT - 1:]:
            shutil.rmtree(old, ignore_errors=True)
    return runs / run_id


def dbt_project(settings: Settings) -> DbtProject:
    """The dbt project, parsed into a manifest when the manifest is missing or older than the code."""
    os.environ["INFLOW_WAREHOUSE"] = str(settings.warehouse_path)
    os.environ["INFLOW_DUCKDB_MEMORY_LIMIT"] = settings.config.engine.memory_limit
    project = DbtProject(project_dir=DBT_DIR)
    if _manifest_is_stale(project):
        dbt_cli(project).cli(["parse", "--quiet"], target_path=project.target_path).wait()
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
    return InflowDbtCli(project_dir=project, dbt_executable=DBT_EXECUTABLE)


def build_dbt_assets(settings: Settings) -> tuple[dg.AssetsDefinition, InflowDbtCli]:
    project = dbt_project(settings)
    translator = InflowDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))
    run_vars = json.dumps(dbt_vars(settings))

    @dbt_assets(manifest=project.manifest_path, project=project, dagster_dbt_translator=translator,
                name="dbt_models")
    def _dbt_models(context: dg.AssetExecutionContext, dbt: InflowDbtCli) -> Iterator[Any]:
        """Builds and tests every dbt model as of the run's date. dbt unit tests check SQL logic on
        mocked rows, not data: they run in the test suite, not in every production run."""
        yield from dbt.cli(["build", "--vars", run_vars, "--exclude-resource-type", "unit_test"],
                           context=context, target_path=run_target_path(settings, context.run_id)).stream()

    return _dbt_models, dbt_cli(project)
