"""The dbt CLI resource and the dbt files around it: dagster-dbt's per-command warm-up is skipped
(safely), run artifacts live in INFLOW_HOME with a retention, and dbt's output is not watched as code."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import yaml
from dagster_dbt import DbtCliResource

from orchestration.defs.transform.dbt import (
    AS_OF_ENV,
    DBT_DIR,
    DBT_GUARD,
    DBT_RUNS_KEPT,
    PARTIAL_PARSE,
    InflowDbtCli,
    _project_sources,
    as_of_for_dbt,
    dbt_cli,
    dbt_project,
    keep_parse,
    reuse_parse,
    run_target_path,
    vars_args,
)
from orchestration.defs.transform.dbt_guard import enter_profile_folder
from orchestration.settings import Settings


def test_overridden_hooks_still_exist_in_dagster_dbt() -> None:
    """An upgrade that renames them would silently bring the warm-up back: fail here instead."""
    assert "_cli_version" in vars(DbtCliResource)
    assert callable(vars(DbtCliResource)["_initialize_dbt_core_adapter"])


def test_version_is_the_executables_own(tmp_path: Path) -> None:
    """dagster-dbt branches on the version (dbt Core or Fusion): it must be what `dbt --version` says
    (dbt started the way dagster-dbt starts it: through the guard)."""
    output = subprocess.run(
        [sys.executable, *DBT_GUARD, "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert "Core:" in output
    installed = re.search(r"(\d+\.\d+\.\d+)", output)
    assert installed is not None
    cli = dbt_cli(dbt_project(Settings.load(home=tmp_path)))
    assert isinstance(cli, InflowDbtCli)
    assert str(cli._cli_version) == installed.group(1)


def test_commands_run_without_an_in_process_adapter(tmp_path: Path) -> None:
    invocation = dbt_cli(dbt_project(Settings.load(home=tmp_path))).cli(["--version"], target_path=tmp_path)
    invocation.wait()
    assert invocation.is_successful()
    assert invocation.adapter is None


def test_run_artifacts_are_kept_for_the_last_runs_only(tmp_path: Path) -> None:
    settings = Settings.load(home=tmp_path)
    runs = tmp_path / "dbt"
    for n in range(DBT_RUNS_KEPT + 3):
        folder = runs / f"run-{n:02d}"
        folder.mkdir(parents=True)
        os.utime(folder, (1_000_000 + n, 1_000_000 + n))
    target = run_target_path(settings, "run-new")
    assert target == runs / "run-new"
    kept = sorted(p.name for p in runs.iterdir())
    assert kept == [f"run-{n:02d}" for n in range(4, DBT_RUNS_KEPT + 3)], "the newest ones, leaving room for this run"


def test_dbt_output_folders_are_not_project_sources(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "a.sql").write_text("select 1")
    for output in ("target/run-1/compiled", "logs", "dbt_packages/pkg"):
        (tmp_path / output).mkdir(parents=True)
        (tmp_path / output / "b.sql").write_text("select 2")
    (tmp_path / "dbt_project.yml").write_text("name: x")
    assert sorted(p.relative_to(tmp_path).as_posix() for p in _project_sources(tmp_path)) == [
        "dbt_project.yml",
        "models/a.sql",
    ]


def test_a_moved_model_makes_the_manifest_stale(tmp_path: Path) -> None:
    """Moving a file keeps its mtime: the manifest must be re-parsed anyway."""
    from orchestration.defs.transform.dbt import source_fingerprint

    (tmp_path / "models" / "a").mkdir(parents=True)
    model = tmp_path / "models" / "a" / "m.sql"
    model.write_text("select 1")
    before = source_fingerprint(tmp_path)
    (tmp_path / "models" / "b").mkdir()
    model.rename(tmp_path / "models" / "b" / "m.sql")
    assert source_fingerprint(tmp_path) != before
    assert source_fingerprint(tmp_path) == source_fingerprint(tmp_path)


def _compiled_as_of(home: Path, target: Path, *extra: str) -> str:
    """The messages of a dbt compile of ``as_of_date()``, dbt started the way a run starts it."""
    invocation = dbt_cli(dbt_project(Settings.load(home=home))).cli(
        ["compile", "--inline", "select {{ as_of_date() }} as d", *extra], target_path=target
    )
    return " ".join(str(e.raw_event["info"]["msg"]) for e in invocation.stream_raw_events())


def test_the_macro_reads_the_runs_date_from_the_environment_else_the_var(tmp_path: Path) -> None:
    with as_of_for_dbt(dt.date(2026, 2, 28)):
        assert "2026-02-28" in _compiled_as_of(tmp_path, tmp_path / "a", "--vars", '{"as_of_date": "2025-12-31"}')
    by_hand = _compiled_as_of(tmp_path, tmp_path / "b", "--vars", '{"as_of_date": "2025-12-31"}')
    assert "2025-12-31" in by_hand and "2026-02-28" not in by_hand


def test_the_date_is_in_the_environment_only_inside_the_block(monkeypatch) -> None:
    monkeypatch.delenv(AS_OF_ENV, raising=False)
    with as_of_for_dbt(dt.date(2026, 1, 31)):
        assert os.environ[AS_OF_ENV] == "2026-01-31"
    assert AS_OF_ENV not in os.environ
    monkeypatch.setenv(AS_OF_ENV, "2020-01-01")
    try:
        with as_of_for_dbt(dt.date(2026, 1, 31)):
            raise RuntimeError("dbt failed")
    except RuntimeError:
        pass
    assert os.environ[AS_OF_ENV] == "2020-01-01", "restored after a failure too"


def test_dbt_parse_is_handed_from_run_to_run(tmp_path: Path) -> None:
    settings = Settings.load(home=tmp_path)
    first = run_target_path(settings, "run-1")
    reuse_parse(settings, first)
    project_parse = (DBT_DIR / "target" / PARTIAL_PARSE).read_bytes()
    assert (first / PARTIAL_PARSE).read_bytes() == project_parse, "the first run starts from the code's parse"
    (first / PARTIAL_PARSE).write_bytes(b"parse of run 1")
    keep_parse(settings, first)
    second = run_target_path(settings, "run-2")
    reuse_parse(settings, second)
    assert (second / PARTIAL_PARSE).read_bytes() == b"parse of run 1"
    (second / PARTIAL_PARSE).write_bytes(b"parse of run 2")
    keep_parse(settings, second)
    assert (settings.dbt_runs_dir / PARTIAL_PARSE).read_bytes() == b"parse of run 2"
    assert [p.name for p in settings.dbt_runs_dir.iterdir() if p.is_file()] == [PARTIAL_PARSE]
    assert (DBT_DIR / "target" / PARTIAL_PARSE).read_bytes() == project_parse, "a home never writes the code's"


def _parse(settings: Settings, target: Path, as_of: dt.date) -> list[str]:
    """dbt parse with a run's vars and date, the way a run starts dbt; dbt's messages."""
    with as_of_for_dbt(as_of):
        invocation = dbt_cli(dbt_project(settings)).cli(["parse", *vars_args(settings)], target_path=target)
        return [str(e.raw_event["info"]["msg"]) for e in invocation.stream_raw_events()]


def _reused_parse(settings: Settings, target: Path, as_of: dt.date) -> None:
    """Asserts that dbt started a command from the parse it was given: no full parse, and no model
    (re)parsed after the command started."""
    started = time.time()
    messages = _parse(settings, target, as_of)
    assert not [m for m in messages if "Unable to do partial parsing" in m], messages
    nodes = json.loads((target / "manifest.json").read_text())["nodes"].values()
    assert max(n["created_at"] for n in nodes if n["resource_type"] == "model") < started


def test_the_next_days_run_reuses_the_parse_of_the_last(tmp_path: Path) -> None:
    """A run for the next day starts from the last run's parse (the date is not a dbt var, R1)."""
    settings = Settings.load(home=tmp_path)
    first = run_target_path(settings, "run-1")
    reuse_parse(settings, first)
    _parse(settings, first, dt.date(2026, 11, 26))
    keep_parse(settings, first)
    second = run_target_path(settings, "run-2")
    reuse_parse(settings, second)
    _reused_parse(settings, second, dt.date(2026, 11, 27))


def test_a_new_homes_first_run_starts_from_the_codes_parse(tmp_path: Path) -> None:
    """The profile names the warehouse relative to its folder, so it is the same text in every home
    and the parse the definitions made (with the configuration's vars) is valid in a new home."""
    settings = Settings.load(home=tmp_path / "a new home")
    dbt_project(settings)  # as the definitions do, before any run
    first = run_target_path(settings, "run-1")
    reuse_parse(settings, first)
    _reused_parse(settings, first, dt.date(2026, 11, 27))


def test_dbt_runs_in_its_profiles_folder(tmp_path: Path, monkeypatch) -> None:
    """The guard makes the profile's folder dbt's working folder (the warehouse path in the profile
    is relative to it), and leaves the folder alone when dbt is started without a profiles dir."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DBT_PROFILES_DIR", raising=False)
    enter_profile_folder()
    assert Path.cwd() == tmp_path
    folder = Settings.load(home=tmp_path / "home").write_dbt_profile()
    monkeypatch.setenv("DBT_PROFILES_DIR", str(folder))
    enter_profile_folder()
    assert Path.cwd() == folder
    profile = yaml.safe_load((folder / "profiles.yml").read_text(encoding="utf-8"))
    warehouse = folder / profile["inflow"]["outputs"]["warehouse"]["path"]
    assert warehouse.resolve() == tmp_path / "home" / "warehouse.duckdb"
