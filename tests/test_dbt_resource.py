"""The dbt CLI resource: dagster-dbt's per-command warm-up is skipped, and skipping it is safe."""

from __future__ import annotations

import re
import subprocess

from dagster_dbt import DbtCliResource

from orchestration.defs.transform.dbt import DBT_EXECUTABLE, InflowDbtCli, dbt_cli, dbt_project
from orchestration.settings import Settings


def test_overridden_hooks_still_exist_in_dagster_dbt() -> None:
    """An upgrade that renames them would silently bring the warm-up back: fail here instead."""
    assert "_cli_version" in vars(DbtCliResource)
    assert callable(vars(DbtCliResource)["_initialize_dbt_core_adapter"])


def test_version_is_the_executables_own() -> None:
    """dagster-dbt branches on the version (dbt Core or Fusion): it must be what `dbt --version` says."""
    output = subprocess.run([DBT_EXECUTABLE, "--version"], capture_output=True, text=True, check=True).stdout
    installed = re.search(r"(\d+\.\d+\.\d+)", output)
    assert installed is not None
    cli = dbt_cli(dbt_project(Settings.from_env()))
    assert isinstance(cli, InflowDbtCli)
    assert str(cli._cli_version) == installed.group(1)


def test_commands_run_without_an_in_process_adapter() -> None:
    invocation = dbt_cli(dbt_project(Settings.from_env())).cli(["--version"])
    invocation.wait()
    assert invocation.is_successful()
    assert invocation.adapter is None
