"""Where a run reads its configuration and writes its outputs.

Everything under ``INFLOW_HOME``: the working warehouse, the published serving file, exports and
the Dagster instance. Resolved once when the definitions load, from the environment that the
``inflow`` CLI, ``make`` and the tests set.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from orchestration.config import InflowConfig, config_path_from_env, home_from_env, load_config


@dataclass(frozen=True)
class Settings:
    config: InflowConfig
    config_path: Path
    home: Path
    as_of_date: dt.date

    @property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def serving_path(self) -> Path:
        return self.home / "serving.duckdb"

    @property
    def exports_dir(self) -> Path:
        return self.home / "exports"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @classmethod
    def from_env(cls) -> "Settings":
        """Build settings from INFLOW_CONFIG, INFLOW_HOME and INFLOW_AS_OF (all optional)."""
        path = config_path_from_env()
        config = load_config(path)
        override = os.environ.get("INFLOW_AS_OF")
        as_of = config.effective_as_of(dt.date.fromisoformat(override) if override else None)
        return cls(config=config, config_path=path.resolve(), home=home_from_env(), as_of_date=as_of)
