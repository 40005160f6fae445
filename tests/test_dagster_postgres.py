"""The Dagster instance on PostgreSQL (``dagster: {storage: postgres}``), against the real server
the suite starts (``postgres_url`` in conftest.py).

Kills: a URL (password included) written into dagster.yaml; a postgres setting that silently
falls back to SQLite files under the home; an unset variable surfacing as Dagster's config-schema dump from
inside Dagster instead of a message naming the setting and the variable; a second open of an
instance whose tables already exist failing; runs and materializations that never reach the
database.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
import yaml

from orchestration.config import SAMPLE_CONFIG, ConfigError, DagsterConfig, load_config
from orchestration.settings import Settings

VARIABLE = "INFLOW_DAGSTER_PG_URL"


def settings_with(home: Path, dagster: dict) -> Settings:
    """The sample company's settings with another ``dagster:`` section, as inflow.yml would give."""
    base = Settings.load(SAMPLE_CONFIG, home)
    config = base.config.model_copy(update={"dagster": DagsterConfig.model_validate(dagster)})
    return Settings(config=config, config_path=base.config_path, home=base.home)


def instance_sqlite_files(settings: Settings) -> list[Path]:
    """Every SQLite database in the home's Dagster instance folder, by file header rather than name
    (Inflow's own SQLite files elsewhere in the home, such as the write-back outbox, are not
    Dagster's)."""
    folder = settings.dagster_home
    return [p for p in folder.rglob("*") if p.is_file() and p.read_bytes()[:16] == b"SQLite format 3\x00"]


@pytest.fixture
def dagster_pg(postgres_url: str) -> Iterator[str]:
    """A fresh, empty database on the test server for one Dagster instance; dropped afterwards."""
    name = f"dagster_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as con:
        con.execute(sa.text(f'create database "{name}"'))
    try:
        yield sa.engine.make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as con:
            con.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


def query(url: str, sql: str, **params) -> list[sa.Row]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as con:
            return list(con.execute(sa.text(sql), params))
    finally:
        engine.dispose()


# --- the generated dagster.yaml ---------------------------------------------------------------


def test_postgres_storage_names_the_variable_and_never_the_url(tmp_path: Path, monkeypatch) -> None:
    secret_url = "postgresql://dagster:s3cret-pw@db.internal:5432/dagster"
    monkeypatch.setenv("ACME_DAGSTER_DB", secret_url)
    settings = settings_with(tmp_path, {"storage": "postgres", "postgres_url_env": "ACME_DAGSTER_DB"})
    text = (settings.write_dagster_instance() / "dagster.yaml").read_text(encoding="utf-8")
    instance = yaml.safe_load(text)
    assert instance["storage"] == {"postgres": {"postgres_url": {"env": "ACME_DAGSTER_DB"}}}
    for leak in ("s3cret-pw", "db.internal", "postgresql://"):
        assert leak not in text
    # The rest of the instance stays as on one machine.
    assert instance["concurrency"] == {"runs": {"max_concurrent_runs": 1}}
    assert instance["telemetry"] == {"enabled": False}


def test_sqlite_is_the_default_and_switching_back_rewrites_the_file(tmp_path: Path, monkeypatch) -> None:
    assert load_config(SAMPLE_CONFIG).dagster.storage == "sqlite"
    monkeypatch.setenv(VARIABLE, "postgresql://x@localhost/x")
    target = settings_with(tmp_path, {"storage": "postgres"}).write_dagster_instance() / "dagster.yaml"
    assert "storage" in yaml.safe_load(target.read_text(encoding="utf-8"))
    settings_with(tmp_path, {}).write_dagster_instance()
    assert "storage" not in yaml.safe_load(target.read_text(encoding="utf-8"))


@pytest.mark.parametrize("value", [None, ""])
def test_an_unset_variable_stops_at_start_naming_the_setting_and_the_variable(
    tmp_path: Path, monkeypatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv(VARIABLE, raising=False)
    else:
        monkeypatch.setenv(VARIABLE, value)
    settings = settings_with(tmp_path, {"storage": "postgres"})
    with pytest.raises(ConfigError) as raised:
        settings.write_dagster_instance()
    message = str(raised.value)
    assert "dagster.storage" in message and VARIABLE in message and "dagster.postgres_url_env" in message
    assert not (tmp_path / "dagster" / "dagster.yaml").exists()


@pytest.mark.parametrize(
    "section, key",
    [({"storage": "mysql"}, "storage"), ({"storage": "postgres", "postgres_url_env": "postgresql://a@b/c"}, "env")],
)
def test_a_bad_dagster_section_is_refused_by_the_schema(section: dict, key: str) -> None:
    with pytest.raises(ValueError, match=key):
        DagsterConfig.model_validate(section)


# --- against the real PostgreSQL ----------------------------------------------------------------


@dg.asset
def probe() -> int:
    return 1


@pytest.mark.postgres
def test_runs_and_materializations_land_in_postgres_and_a_reopen_reads_them(
    tmp_path: Path, dagster_pg: str, monkeypatch
) -> None:
    """Fast guard of the instance itself (one trivial asset): the run and its materialization are
    rows in PostgreSQL, no SQLite file appears in the instance folder (where the default storage
    puts them: checked first, so the check can fail), and a second instance over the now populated
    database (the webserver's, the next run's) reads them back."""
    on_sqlite = settings_with(tmp_path / "sqlite-home", {})
    with dg.DagsterInstance.from_config(str(on_sqlite.write_dagster_instance())) as instance:
        assert dg.materialize([probe], instance=instance).success
    assert instance_sqlite_files(on_sqlite) != []

    monkeypatch.setenv(VARIABLE, dagster_pg)
    settings = settings_with(tmp_path / "home", {"storage": "postgres"})
    with dg.DagsterInstance.from_config(str(settings.write_dagster_instance())) as instance:
        result = dg.materialize([probe], instance=instance)
    assert result.success
    [(status,)] = query(dagster_pg, "select status from runs where run_id = :run_id", run_id=result.run_id)
    assert status == "SUCCESS"
    keys = query(
        dagster_pg,
        "select asset_key from event_logs where run_id = :run_id and dagster_event_type = 'ASSET_MATERIALIZATION'",
        run_id=result.run_id,
    )
    assert [dg.AssetKey.from_db_string(k) for (k,) in keys] == [dg.AssetKey("probe")]
    assert instance_sqlite_files(settings) == []

    with dg.DagsterInstance.from_config(str(settings.write_dagster_instance())) as reopened:
        assert reopened.get_run_by_id(result.run_id).is_success
        second = dg.materialize([probe], instance=reopened)
        latest = reopened.get_latest_materialization_event(dg.AssetKey("probe"))
    assert latest is not None and latest.run_id == second.run_id != result.run_id
    assert len(query(dagster_pg, "select run_id from runs")) == 2
    assert instance_sqlite_files(settings) == []


@pytest.mark.slow
@pytest.mark.pipeline
@pytest.mark.postgres
def test_the_main_job_on_the_sample_is_recorded_in_postgres(tmp_path: Path, dagster_pg: str, monkeypatch) -> None:
    """``inflow run``'s own path (execute_main_job) on the embedded sample, instance on PostgreSQL:
    the run succeeds and publishes; every asset it materialized is an event in PostgreSQL, the
    run row says SUCCESS, and the home's instance folder holds no SQLite file."""
    from orchestration.cli import execute_main_job
    from orchestration.defs.keys import SERVING_KEY

    monkeypatch.setenv(VARIABLE, dagster_pg)
    settings = settings_with(tmp_path / "home", {"storage": "postgres"})
    result, _, _ = execute_main_job(settings, verbose=False)
    assert result.success
    assert settings.serving_path.exists()

    [(status,)] = query(dagster_pg, "select status from runs where run_id = :run_id", run_id=result.run_id)
    assert status == "SUCCESS"
    rows = query(
        dagster_pg,
        "select asset_key from event_logs where run_id = :run_id and dagster_event_type = 'ASSET_MATERIALIZATION'",
        run_id=result.run_id,
    )
    recorded = {dg.AssetKey.from_db_string(k) for (k,) in rows}
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert SERVING_KEY in materialized
    assert recorded == materialized
    assert instance_sqlite_files(settings) == []


@pytest.mark.pipeline
def test_inflow_run_without_the_variable_exits_2_naming_it(tmp_path: Path, monkeypatch, capsys) -> None:
    """The same refusal as the CLI shows it: exit code 2, the setting and variable named, no run."""
    from orchestration.cli import main

    company = tmp_path / "company"
    shutil.copytree(SAMPLE_CONFIG.parent, company)
    config = company / "inflow.yml"
    config.write_text(config.read_text(encoding="utf-8") + "dagster:\n  storage: postgres\n", encoding="utf-8")
    monkeypatch.delenv(VARIABLE, raising=False)
    assert main(["run", "--config", str(config), "--home", str(tmp_path / "home")]) == 2
    err = capsys.readouterr().err
    assert "dagster.storage is 'postgres'" in err and VARIABLE in err
    assert not (tmp_path / "home" / "serving.duckdb").exists()
