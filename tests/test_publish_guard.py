"""Publishing is guarded, tested from Dagster's API as the UI launches it: a publish-only launch
republishes a state whose build passed and refuses after a failed or partial build; a build that
lost most open invoices is refused unless allowed; serving stays byte-identical whenever refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest
import yaml

from orchestration.cli import run_config
from orchestration.config import ConfigError, load_config
from orchestration.definitions import build_definitions
from orchestration.defs.automation import DAILY_JOB, MAIN_JOB
from orchestration.defs.keys import SERVING_KEY, raw_table_key
from orchestration.settings import Settings
from tests.published_home import PublishedHome
from tests.test_pipeline import AS_OF, digest, inflow, query

pytestmark = pytest.mark.pipeline


@pytest.fixture(scope="module")
def built(published_home: PublishedHome) -> tuple[Path, Path]:
    """The session's published company and its home (tests/published_home.py); tests launch on copies."""
    return published_home.config.parent, published_home.home


def launch(
    company: Path,
    home: Path,
    selection: list[dg.AssetKey] | None = None,
    allow_shrink: bool = False,
    job: str = MAIN_JOB,
) -> dg.ExecuteInProcessResult:
    """What the UI does: launch a job (or a selection of it) on the home's instance."""
    settings = Settings.load(company / "inflow.yml", home)
    defs = build_definitions(settings)
    with dg.DagsterInstance.from_config(str(settings.write_dagster_instance())) as instance:
        return defs.resolve_job_def(job).execute_in_process(
            run_config=run_config(None, allow_shrink=allow_shrink),
            instance=instance,
            asset_selection=selection,
            raise_on_error=False,
        )


def failure_text(result: dg.ExecuteInProcessResult) -> str:
    return "\n".join(e.step_failure_data.error.message for e in result.all_events if e.is_step_failure)


def copy_of(company: Path, home: Path, tmp_path: Path) -> tuple[Path, Path]:
    shutil.copytree(company, tmp_path / "company")
    shutil.copytree(home, tmp_path / "home")
    return tmp_path / "company", tmp_path / "home"


def test_a_publish_only_launch_republishes_a_build_that_passed(built: tuple[Path, Path], tmp_path: Path) -> None:
    company, home = copy_of(*built, tmp_path)
    result = launch(company, home, [SERVING_KEY])
    assert result.success, failure_text(result)


def test_the_daily_refresh_publishes_and_keeps_the_last_forecast(built: tuple[Path, Path], tmp_path: Path) -> None:
    """As the schedule and the file sensor launch it: it leaves out the forecast and the training,
    yet builds every dbt model the publish guard asks for (the forecast's dbt inputs included)."""
    company, home = copy_of(*built, tmp_path)
    forecast = "select * from forecast.cash_forecast_weekly order by all"
    before, published_before = query(home / "serving.duckdb", forecast), (home / "published").resolve()
    result = launch(company, home, job=DAILY_JOB)
    assert result.success, failure_text(result)
    assert (home / "published").resolve() != published_before, "a new publication"
    assert query(home / "serving.duckdb", forecast) == before, "the forecast of the last full run, kept"


def test_a_publish_only_launch_after_a_failed_build_refuses_and_names_it(
    built: tuple[Path, Path], tmp_path: Path
) -> None:
    company, home = copy_of(*built, tmp_path)
    newest = sorted((company / "erp" / "invoices").glob("invoices_*.csv"))[-1]
    # Not an invoice export at all (an empty file would be a legitimate empty delta): the batch is rejected.
    (newest.parent / "invoices_9999-01.csv").write_text("report,generated\naging,2026-11-27\n")
    failed = launch(company, home)
    assert not failed.success
    before = digest(home / "serving.duckdb")
    refused = launch(company, home, [SERVING_KEY])
    assert not refused.success
    message = failure_text(refused)
    assert f"run {failed.run_id}" in message and "did not pass" in message
    assert "step raw__erp__invoices failed" in message
    assert digest(home / "serving.duckdb") == before


def test_a_partial_build_does_not_publish(built: tuple[Path, Path], tmp_path: Path) -> None:
    company, home = copy_of(*built, tmp_path)
    before = digest(home / "serving.duckdb")
    partial = launch(company, home, [raw_table_key("erp__invoices"), SERVING_KEY])
    assert not partial.success
    assert "changed the warehouse without building" in failure_text(partial)
    assert digest(home / "serving.duckdb") == before
    again = launch(company, home, [SERVING_KEY])
    assert not again.success and f"run {partial.run_id}" in failure_text(again), "nor can it be published later"


def test_a_build_that_lost_most_open_invoices_needs_allow_shrink(built: tuple[Path, Path], tmp_path: Path) -> None:
    """The same home fed an export under half the size (a truncated ERP extract looks like this)."""
    _, home = built
    small = tmp_path / "small"
    inflow(
        "generate",
        "--out",
        str(small),
        "--customers",
        "60",
        "--invoices",
        "700",
        "--seed",
        "7",
        "--as-of",
        AS_OF.isoformat(),
        "--quiet",
    )
    config = yaml.safe_load((small / "inflow.yml").read_text())
    for source in config["sources"].values():  # monthly files of a tiny company vary more than the collapse rule allows
        for table in source["tables"].values():
            table["row_count_drop_threshold"] = 1.0
    config["publish"] = {"max_open_invoice_drop": 0.3}
    (small / "inflow.yml").write_text(yaml.safe_dump(config))
    fresh = tmp_path / "fresh_home"
    fresh.mkdir()
    shutil.copy(home / "serving.duckdb", fresh / "serving.duckdb")
    before = digest(fresh / "serving.duckdb")
    shrunk = launch(small, fresh)
    assert not shrunk.success and "open invoices fell from" in failure_text(shrunk)
    assert digest(fresh / "serving.duckdb") == before
    allowed = launch(small, fresh, [SERVING_KEY], allow_shrink=True)
    assert allowed.success, failure_text(allowed)
    assert digest(fresh / "serving.duckdb") != before


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda cfg: cfg.update(sources={}), "at least one source"),
        (lambda cfg: cfg["sources"].pop("erp"), "no system-of-record table lands invoices"),
    ],
)
def test_configs_that_could_only_publish_empty_tables_are_refused(tmp_path: Path, change, expected: str) -> None:
    from orchestration.config import SAMPLE_CONFIG

    raw = yaml.safe_load(SAMPLE_CONFIG.read_text())
    change(raw)
    path = tmp_path / "inflow.yml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=expected):
        load_config(path)
