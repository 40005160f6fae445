"""The dbt CLI of this venv run by hand against one warehouse, for tests that need dbt itself
(not a Dagster run): its own target and log folders, the repository's profile pointed at the
warehouse through INFLOW_WAREHOUSE."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestration.config import REPO_ROOT

DBT = Path(sys.executable).with_name("dbt")
PROJECT = REPO_ROOT / "dbt_project"


@dataclass(frozen=True)
class DbtRun:
    returncode: int
    output: str


def dbt(path: Path, work: Path, command: list[str], run_vars: dict[str, Any]) -> DbtRun:
    """Run the dbt CLI of this venv against one warehouse, with its own target and log folders."""
    work.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            str(DBT),
            *command,
            "--project-dir",
            str(PROJECT),
            "--profiles-dir",
            str(PROJECT),
            "--target-path",
            str(work / "target"),
            "--log-path",
            str(work / "logs"),
            "--vars",
            json.dumps(run_vars),
        ],
        env={**os.environ, "INFLOW_WAREHOUSE": str(path), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    return DbtRun(result.returncode, result.stdout + result.stderr)
