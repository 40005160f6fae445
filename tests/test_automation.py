"""Inflow running by itself: schedules from the configuration, the file sensor (one run per drop,
only once a file has settled), and the failure notice (one line; a webhook on loopback)."""

from __future__ import annotations

import http.server
import json
import os
import threading
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml

from orchestration.config import SAMPLE_CONFIG, ConfigError, load_config
from orchestration.defs.automation import (
    DAILY_JOB,
    MAIN_JOB,
    build_automation,
    build_failure_hook,
    failure_line,
    file_fingerprints,
    settled_changes,
)
from orchestration.settings import Settings
from tests.test_writeback_commands import write_config


def company_settings(tmp_path: Path, automation: dict | None = None) -> Settings:
    """The sample company's configuration (its files copied, so files can be dropped into it)."""
    import shutil

    folder = tmp_path / "company"
    shutil.copytree(SAMPLE_CONFIG.parent, folder)
    raw = yaml.safe_load((folder / "inflow.yml").read_text())
    if automation is not None:
        raw["automation"] = automation
    (folder / "inflow.yml").write_text(yaml.safe_dump(raw))
    return Settings.load(folder / "inflow.yml", tmp_path / "home")


def test_schedules_come_from_the_configuration(tmp_path: Path) -> None:
    settings = company_settings(
        tmp_path, {"daily_refresh": {"cron": "30 4 * * 1-5", "timezone": "Europe/Paris", "enabled": True}}
    )
    defs = build_automation(settings)
    daily = defs.resolve_schedule_def("inflow_daily_refresh_schedule")
    weekly = defs.resolve_schedule_def("inflow_weekly_monday")
    assert (daily.cron_schedule, daily.execution_timezone) == ("30 4 * * 1-5", "Europe/Paris")
    assert daily.default_status == dg.DefaultScheduleStatus.RUNNING
    assert weekly.cron_schedule == "0 6 * * 1" and weekly.default_status == dg.DefaultScheduleStatus.STOPPED
    context = dg.build_schedule_context(scheduled_execution_time=None)
    assert isinstance(daily.evaluate_tick(context).run_requests[0], dg.RunRequest)


@pytest.mark.parametrize(
    ("automation", "expected"),
    [
        ({"daily_refresh": {"cron": "0 5 * *"}}, "five fields"),
        ({"daily_refresh": {"cron": "0 5 * * *", "timezone": "Mars/Olympus"}}, "unknown time zone"),
        ({"failure_webhook_env": "https://hooks.example/x"}, "failure_webhook_env"),
    ],
)
def test_bad_automation_settings_name_the_key(tmp_path: Path, automation: dict, expected: str) -> None:
    path = write_config(tmp_path, {})
    raw = yaml.safe_load(path.read_text())
    raw["automation"] = automation
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=expected):
        load_config(path)


def test_a_file_counts_only_once_it_has_settled() -> None:
    now = 10_000 * 1_000_000_000
    seen = {"a.csv": [10, 1]}
    current = {"a.csv": [10, 1], "b.csv": [20, now - 120 * 1_000_000_000], "c.csv": [5, now - 5 * 1_000_000_000]}
    assert settled_changes(now, seen, current, debounce_seconds=60) == {"b.csv": current["b.csv"]}
    assert settled_changes(now, seen, current, debounce_seconds=0) == {
        "b.csv": current["b.csv"],
        "c.csv": current["c.csv"],
    }


def test_a_file_dropped_is_one_run_and_the_same_drop_never_a_second(tmp_path: Path) -> None:
    settings = company_settings(tmp_path, {"debounce_seconds": 0})
    sensor = build_automation(settings).resolve_sensor_def("inflow_new_files")
    with dg.instance_for_test() as instance:
        first = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
        assert len(first.run_requests) == 1, "the files already there are new to a fresh sensor"
        assert first.run_requests[0].job_name == MAIN_JOB, "a home that never published has no model to score with"
        folder = settings.home / "publications" / "p1"
        folder.mkdir(parents=True)
        (folder / "manifest.json").write_text("{}")
        (settings.home / "published").symlink_to(folder)
        quiet = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=first.cursor))
        assert quiet.run_requests == [] and quiet.skip_message
        drop = settings.config_path.parent / "erp" / "invoices" / "invoices_2026-12.csv"
        drop.write_text((settings.config_path.parent / "erp" / "invoices" / "invoices_2026-11.csv").read_text())
        past = time.time() - 120
        os.utime(drop, (past, past))
        new = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=quiet.cursor))
        assert len(new.run_requests) == 1 and "invoices_2026-12.csv" in new.run_requests[0].tags["inflow/files"]
        assert new.run_requests[0].job_name == DAILY_JOB, "a home that has published refreshes daily"
        again = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=new.cursor))
        assert again.run_requests == [], "the same drop starts no second run"
        replay = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=quiet.cursor))
        assert replay.run_requests[0].run_key == new.run_requests[0].run_key, "a lost cursor reuses the run key"
    assert str(drop) in file_fingerprints(settings.config)


def test_a_fresh_sensor_over_a_published_home_starts_no_run_for_what_it_landed(tmp_path: Path) -> None:
    """The UI opened over a home `inflow run` built: the files older than that run's start are not
    new; a file changed after it is."""
    settings = company_settings(tmp_path, {"debounce_seconds": 0})
    sensor = build_automation(settings).resolve_sensor_def("inflow_new_files")
    files = sorted(file_fingerprints(settings.config))
    past = time.time() - 3600
    for path in files:
        os.utime(path, (past, past))

    @dg.asset
    def stand_in() -> None:
        """Stands for the run that built the current publication."""

    with dg.instance_for_test() as instance:
        run = dg.materialize([stand_in], instance=instance)
        folder = settings.home / "publications" / "p1"
        folder.mkdir(parents=True)
        (folder / "manifest.json").write_text(json.dumps({"run_id": run.run_id}))
        (settings.home / "published").symlink_to(folder)
        quiet = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
        assert quiet.run_requests == [] and quiet.skip_message, "everything there was landed by that run"
        changed = Path(files[0])
        later = time.time()
        os.utime(changed, (later, later))  # modified after the run started (debounce 0: settled at once)
        new = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
        assert len(new.run_requests) == 1 and changed.name in new.run_requests[0].tags["inflow/files"]


class _Receiver(http.server.BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_failed_step_leaves_one_line_and_calls_the_webhook(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("INFLOW_TEST_WEBHOOK", f"http://127.0.0.1:{server.server_port}/hook")
    settings = company_settings(tmp_path, {"failure_webhook_env": "INFLOW_TEST_WEBHOOK"})
    hook = build_failure_hook(settings.config.automation)

    @dg.op
    def breaks() -> None:
        raise ValueError("No space left on device\nmore detail")

    @dg.job(hooks={hook})
    def broken() -> None:
        breaks()

    try:
        result = broken.execute_in_process(raise_on_error=False)
    finally:
        server.shutdown()
    assert not result.success
    assert _Receiver.received == [
        {
            "text": "inflow: broken step breaks failed: No space left on device",
            "run_id": result.run_id,
            "job": "broken",
            "step": "breaks",
        }
    ]
    assert failure_line("j", "s", None) == "inflow: j step s failed: failed"
    assert failure_line("j", "s", " \n") == "inflow: j step s failed: failed"
    assert failure_line("j", "s", "bad thing\ntraceback") == "inflow: j step s failed: bad thing"
    rejected = "1 batch(es) of erp__invoices rejected:\n- a.csv: quarantine_share_exceeded"
    assert failure_line("j", "s", rejected) == (
        "inflow: j step s failed: 1 batch(es) of erp__invoices rejected: a.csv: quarantine_share_exceeded"
    )
    detailed = "1 batch(es) of erp__invoices rejected:\n- a.csv: date_order_mismatch: a.csv: column x is ..."
    assert failure_line("j", "s", detailed) == (
        "inflow: j step s failed: 1 batch(es) of erp__invoices rejected: a.csv: date_order_mismatch"
    ), "the file and the rule; the detail is the summary's"
    assert failure_line("j", "s", rejected + "\n- b.csv: unparseable_file\n") == (
        "inflow: j step s failed: 1 batch(es) of erp__invoices rejected: a.csv: quarantine_share_exceeded "
        "(and 1 more line(s))"
    )
