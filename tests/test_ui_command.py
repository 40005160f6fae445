"""``inflow ui`` stops on SIGTERM, as a supervisor (systemd, ``docker stop``) or a script asks it to.

A shell starts a background job with SIGINT ignored, and ``dagster dev`` gives SIGTERM whatever
SIGINT does: launched with ``&`` or ``nohup``, the UI used to ignore both and keep its webserver,
daemon and code server up until SIGKILL. The test launches it the same way (both signals ignored
in the child before the exec) and checks that one SIGTERM takes down the whole process group.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from orchestration.config import SAMPLE_CONFIG

pytestmark = pytest.mark.slow

#: How long the UI may take to stop after SIGTERM (it stops in 3-11 s on the 2-core machine).
STOP_SECONDS = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serving(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _like_a_background_job() -> None:
    """What ``cmd &`` in a non-interactive shell does to the job it starts."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _live_members(group: int) -> list[str]:
    """The processes of a process group that have not exited (zombies are exited)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # exited while we looked
        fields = text.rsplit(")", 1)[1].split()
        state, pgrp = fields[0], int(fields[2])
        if pgrp == group and state != "Z":
            members.append(text.split(" ", 1)[0] + " " + text.split("(", 1)[1].split(")", 1)[0])
    return members


def _config_without_sensor(folder: Path) -> Path:
    """The sample company with its file sensor off: the daemon starts no run while the UI is up."""
    shutil.copytree(SAMPLE_CONFIG.parent, folder)
    config = folder / SAMPLE_CONFIG.name
    raw = yaml.safe_load(config.read_text())
    raw["automation"] = {**raw.get("automation", {}), "file_sensor": False}
    config.write_text(yaml.safe_dump(raw))
    return config


def test_a_ui_started_in_the_background_stops_on_sigterm(tmp_path: Path) -> None:
    config = _config_without_sensor(tmp_path / "company")
    port = _free_port()
    log = tmp_path / "ui.log"
    env = {**os.environ, "DAGSTER_DISABLE_TELEMETRY": "1"}
    with log.open("w") as out:
        ui = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "orchestration.cli",
                "ui",
                "--config",
                str(config),
                "--home",
                str(tmp_path / "home"),
                "--port",
                str(port),
            ],  # fmt: skip
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_like_a_background_job,  # noqa: PLW1509 (no threads in this process yet)
        )
    try:
        deadline = time.time() + 180
        while not _serving(f"http://127.0.0.1:{port}/server_info"):
            if ui.poll() is not None or time.time() > deadline:
                pytest.fail(f"inflow ui did not start:\n{log.read_text()[-3000:]}")
            time.sleep(1)
        assert len(_live_members(ui.pid)) >= 3, "expected dagster dev, its webserver, daemon and code server"
        ui.send_signal(signal.SIGTERM)
        try:
            code = ui.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            pytest.fail(f"inflow ui ignored SIGTERM for {STOP_SECONDS} s:\n{log.read_text()[-3000:]}")
        assert code == 0, log.read_text()[-3000:]
        deadline = time.time() + 30
        while _live_members(ui.pid) and time.time() < deadline:
            time.sleep(0.5)
        assert _live_members(ui.pid) == [], "processes of the UI outlived it"
        assert "Dagster services shut down." in log.read_text()
        assert not _serving(f"http://127.0.0.1:{port}/server_info")
    finally:
        if ui.poll() is None or _live_members(ui.pid):
            os.killpg(ui.pid, signal.SIGKILL)
