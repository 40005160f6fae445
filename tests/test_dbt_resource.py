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

from dagster_dbt import DbtCliResource

from orchestration.defs.transform.dbt import (
    AS_OF_ENV,
    DBT_GUARD,
    DBT_RUNS_KEPT,
    PARTIAL_PARSE,
    InflowDbtCli,
    _project_sources,
    as_of_for_dbt,
    build_args,
    dbt_cli,
    dbt_project,
    keep_parse,
    reuse_parse,
    run_target_path,
)
from orchestration.resources import RunOptions
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
    assert not (first / PARTIAL_PARSE).exists(), "nothing to hand over before the first run"
    first.mkdir(parents=True, exist_ok=True)
    (first / PARTIAL_PARSE).write_bytes(b"parse of run 1")
    keep_parse(settings, first)
    second = run_target_path(settings, "run-2")
    reuse_parse(settings, second)
    assert (second / PARTIAL_PARSE).read_bytes() == b"parse of run 1"
    (second / PARTIAL_PARSE).write_bytes(b"parse of run 2")
    keep_parse(settings, second)
    assert (settings.dbt_runs_dir / PARTIAL_PARSE).read_bytes() == b"parse of run 2"
    assert [p.name for p in settings.dbt_runs_dir.iterdir() if p.is_file()] == [PARTIAL_PARSE]


def _parse(settings: Settings, target: Path, as_of: dt.date) -> list[str]:
    """dbt parse with a run's vars and date, the way a run starts dbt; dbt's messages."""
    args = build_args(settings, RunOptions(as_of_date=as_of.isoformat()))
    with as_of_for_dbt(as_of):
        invocation = dbt_cli(dbt_project(settings)).cli(
            ["parse", *args[args.index("--vars") : args.index("--vars") + 2]], target_path=target
        )
        return [str(e.raw_event["info"]["msg"]) for e in invocation.stream_raw_events()]


def test_the_next_days_run_reuses_the_parse_of_the_last(tmp_path: Path) -> None:
    """The home stays where it is (dbt's profile check includes the warehouse path, so a moved home
    parses once in full): a run for the next day starts from the last run's parse."""
    settings = Settings.load(home=tmp_path)
    first = run_target_path(settings, "run-1")
    reuse_parse(settings, first)
    _parse(settings, first, dt.date(2026, 11, 26))
    keep_parse(settings, first)
    second = run_target_path(settings, "run-2")
    reuse_parse(settings, second)
    started = time.time()
    messages = _parse(settings, second, dt.date(2026, 11, 27))
    assert not [m for m in messages if "Unable to do partial parsing" in m]
    nodes = json.loads((second / "manifest.json").read_text())["nodes"].values()
    assert max(n["created_at"] for n in nodes if n["resource_type"] == "model") < started
