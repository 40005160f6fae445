"""Run options: the as-of date and a full refresh are chosen per run (CLI or UI launchpad), not
fixed when the definitions load; dbt is called with the run's own vars."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import dagster as dg
import pytest

from orchestration.cli import run_config
from orchestration.config import future_as_of
from orchestration.defs.transform.dbt import build_args
from orchestration.resources import RunOptions
from orchestration.settings import Settings

CONFIGURED = dt.date(2026, 11, 27)


def test_launch_date_wins_over_the_configuration_and_today() -> None:
    assert RunOptions(as_of_date="2026-06-30").as_of(CONFIGURED) == dt.date(2026, 6, 30)
    assert RunOptions().as_of(CONFIGURED) == CONFIGURED
    assert RunOptions().as_of(None) == dt.date.today()


def test_a_mistyped_date_fails_naming_it() -> None:
    with pytest.raises(dg.Failure, match="'2026-02-30' is not an ISO date"):
        RunOptions(as_of_date="2026-02-30").as_of(CONFIGURED)
    with pytest.raises(dg.Failure, match="not an ISO date"):
        RunOptions(as_of_date="30/06/2026").setup_for_execution(dg.build_init_resource_context())


def test_an_as_of_date_after_today_is_refused_whoever_chose_it(tmp_path) -> None:
    """Today is allowed, tomorrow is not: from the launchpad (before any step), the configuration
    (at the first step asking for the date) and the CLI (before the run starts, exit code 2)."""
    today = dt.date.today()
    tomorrow = today + dt.timedelta(days=1)
    assert future_as_of(today, today) is None
    assert future_as_of(today - dt.timedelta(days=1), today) is None
    assert future_as_of(tomorrow, today) == (
        f"as-of date {tomorrow} is after today ({today}): a run computes what is known at the end of a day "
        "that has happened; choose today or an earlier day"
    )
    assert RunOptions(as_of_date=today.isoformat()).as_of(None) == today
    with pytest.raises(dg.Failure, match=f"as-of date {tomorrow} is after today"):
        RunOptions(as_of_date=tomorrow.isoformat()).setup_for_execution(dg.build_init_resource_context())
    options = RunOptions()
    options.setup_for_execution(dg.build_init_resource_context())
    assert options.as_of(today) == today
    with pytest.raises(dg.Failure, match=f"as-of date {tomorrow} is after today"):
        options.as_of(tomorrow)
    home = tmp_path / "home"
    proc = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "run", "--home", str(home), "--as-of", tomorrow.isoformat()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.strip() == f"inflow: {future_as_of(tomorrow, today)}"
    assert not (home / "warehouse.duckdb").exists() and not (home / "serving.duckdb").exists()


def test_today_is_fixed_once_when_the_run_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    options = RunOptions()
    options.setup_for_execution(dg.build_init_resource_context())

    class Tomorrow(dt.date):
        @classmethod
        def today(cls) -> dt.date:
            return dt.date(2099, 1, 2)

    monkeypatch.setattr(dt, "date", Tomorrow)
    assert options.as_of(None) != dt.date(2099, 1, 2), "a run that crosses midnight keeps its first day"


def test_a_partial_launch_config_keeps_the_configured_date() -> None:
    """The launchpad replaces the resource's config: setting only full_refresh must not lose the date."""
    assert RunOptions(full_refresh=True).as_of(CONFIGURED) == CONFIGURED


def test_dbt_is_built_with_the_configured_vars_and_full_refresh(tmp_path) -> None:
    """The date is not among the vars: dbt arguments that differ by day would make dbt re-parse the
    project on every daily run (DECISIONS.md R1); it goes in the environment."""
    settings = Settings.load(home=tmp_path)
    args = build_args(settings, RunOptions(as_of_date="2026-03-31"))
    default = build_args(settings, RunOptions())
    assert args == default
    sent = json.loads(args[args.index("--vars") + 1])
    assert "as_of_date" not in sent and sent["reporting_currency"] == settings.config.reporting_currency
    assert "--full-refresh" not in args
    assert "--full-refresh" in build_args(settings, RunOptions(full_refresh=True))


def test_cli_run_config_is_what_the_launchpad_takes() -> None:
    assert run_config(dt.date(2026, 6, 30), True) == {
        "resources": {
            "run": {
                "config": {"as_of_date": "2026-06-30", "full_refresh": True, "allow_shrink": False, "promote": False}
            }
        }
    }
    assert run_config(None, allow_shrink=True, promote=True) == {
        "resources": {"run": {"config": {"full_refresh": False, "allow_shrink": True, "promote": True}}}
    }


def test_the_profile_is_written_as_data_for_any_home_path(tmp_path) -> None:
    import yaml

    home = tmp_path / 'it\'s a "home" ü'
    folder = Settings.load(home=home).write_dbt_profile()
    profile = yaml.safe_load((folder / "profiles.yml").read_text(encoding="utf-8"))
    outputs = profile["inflow"]["outputs"]
    assert (folder / outputs["warehouse"]["path"]).resolve() == home.resolve() / "warehouse.duckdb"
    spark_warehouse = outputs["spark"]["server_side_parameters"]["spark.sql.warehouse.dir"]
    assert spark_warehouse == str(home.resolve() / "spark" / "warehouse")
