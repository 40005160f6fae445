"""Shared fixtures: a PostgreSQL server for database-view sources, and a small published company."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def _main_module_looks_started() -> None:
    """An xdist worker's ``__main__`` (execnet's) has neither ``__spec__`` nor ``__file__``, which
    pyspark's Spark Connect module takes for a doctest run, and then calls ``sys.exit(0)`` when the
    Connect extras are absent. Great Expectations imports that module through its pyspark
    compatibility layer, so without this a worker dies collecting the GX oracle tests. Inflow's own
    processes (``inflow``, ``python -m``, ``dagster api grpc``) always have a started ``__main__``."""
    import __main__

    if getattr(__main__, "__spec__", None) is None and not hasattr(__main__, "__file__"):
        __main__.__file__ = "<pytest-xdist worker>"


_main_module_looks_started()


def pytest_configure(config: pytest.Config) -> None:
    """Parse the dbt project once, before xdist starts its workers (``-n 2``): two workers that
    find the manifest stale at the same moment would both write ``dbt_project/target``."""
    if hasattr(config, "workerinput"):  # a worker: the controller has parsed it
        return
    import tempfile

    from orchestration.config import SAMPLE_CONFIG
    from orchestration.defs.transform.dbt import dbt_project
    from orchestration.settings import Settings

    with tempfile.TemporaryDirectory(prefix="inflow-parse-") as home:
        dbt_project(Settings.load(SAMPLE_CONFIG, Path(home)))


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """With ``--dist loadfile``, one module per worker at a time, except that the modules reading
    the session's published company run on one worker (:mod:`tests.module_groups`)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from tests.module_groups import ModuleGroupScheduling

    return ModuleGroupScheduling(config, log)


def _pg_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the postgres user when we are root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL URL: $INFLOW_TEST_PG_URL if given, else a throwaway server started here."""
    given = os.environ.get("INFLOW_TEST_PG_URL")
    if given:
        yield given
        return
    initdb, pg_ctl = _pg_binary("initdb"), _pg_binary("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.fail("PostgreSQL server binaries not found: install the Debian package 'postgresql' (.ci/run does)")
    data = Path(f"/tmp/inflow-test-pg-{os.getpid()}")
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
    subprocess.run(
        _as_postgres([initdb, "-D", str(data), "-U", "inflow", "--auth=trust", "-E", "UTF8"]),
        check=True,
        capture_output=True,
    )
    port = _free_port()
    subprocess.run(
        _as_postgres(
            [
                pg_ctl,
                "-D",
                str(data),
                "-l",
                str(data / "server.log"),
                "-w",
                "-o",
                f"-p {port} -k {data} -c listen_addresses=127.0.0.1",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    deadline = time.time() + 30
    while not _port_open(port):
        if time.time() > deadline:
            pytest.fail(f"PostgreSQL did not start on port {port}; see {data / 'server.log'}")
        time.sleep(0.2)
    try:
        yield f"postgresql+psycopg2://inflow@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-m", "fast", "stop"]), capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


# A generated company published once per session (tests/published_home.py).
from tests.published_home import published_home  # noqa: E402, F401
