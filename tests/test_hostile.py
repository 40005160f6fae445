"""Hostile input, end to end: a home whose path holds a quote, a space and non-ASCII letters, and
a company whose ids, names and column names hold quotes, semicolons and ``--``; and a database
password that appears in no file a run writes and in none of its output."""

from __future__ import annotations

import csv
import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa
import yaml

SAMPLE = Path(__file__).resolve().parent.parent / "seeds" / "sample"
#: Appended to every ERP key: a quote of each kind, a statement separator and a comment.
KEY_SUFFIX = "'\";--x"
NAME_SUFFIX = "'; drop table raw.erp__customers; --"
#: Hostile source header names, mapped in the configuration.
HEADERS = {"CustNo": "Cust'No; --", "DocNo": 'Doc"No;'}
KEY_COLUMNS = ("CustNo", "ParentCustNo", "DocNo", "PmtNo")


def _inflow(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "orchestration.cli", *args],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, **(env or {})},
    )


def _hostile_csv(path: Path) -> None:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header = rows[0]
    for row in rows[1:]:
        for i, name in enumerate(header):
            if name in KEY_COLUMNS and row[i]:
                row[i] += KEY_SUFFIX
            if name == "CustName":
                row[i] += NAME_SUFFIX
    rows[0] = [HEADERS.get(name, name) for name in header]
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)


def _hostile_company(folder: Path) -> Path:
    """A generated company's ERP exports (the other sources dropped) made hostile."""
    proc = _inflow(
        "generate", "--out", str(folder), "--customers", "40", "--invoices", "800", "--seed", "3",
        "--as-of", "2026-06-30", "--quiet",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    for path in (folder / "erp").rglob("*.csv"):
        _hostile_csv(path)
    raw = yaml.safe_load((folder / "inflow.yml").read_text())
    raw["sources"] = {"erp": raw["sources"]["erp"]}
    for table in raw["sources"]["erp"]["tables"].values():
        cols = table["columns"]
        for canonical, source in list(cols.items()):
            if source in HEADERS:
                cols[canonical] = HEADERS[source]
    (folder / "inflow.yml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return folder / "inflow.yml"


@pytest.mark.pipeline
def test_a_hostile_home_and_company_land_everything_as_data(tmp_path: Path) -> None:
    config = _hostile_company(tmp_path / "company")
    home = tmp_path / "in'flow hömé дом"
    proc = _inflow("run", "--config", str(config), "--home", str(home))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    with (config.parent / "erp" / "customers.csv").open(newline="", encoding="utf-8") as handle:
        exported = {(r[HEADERS["CustNo"]], r["CustName"]) for r in csv.DictReader(handle)}
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        landed = set(con.execute("select customer_id, name from raw.erp__customers").fetchall())
        invoices = con.execute("select count(*), min(document_id), min(customer_id) from raw.erp__invoices").fetchone()
    finally:
        con.close()
    assert landed == exported and all(cid.endswith(KEY_SUFFIX) for cid, _ in landed)
    assert invoices[0] > 0 and invoices[1].endswith(KEY_SUFFIX) and invoices[2].endswith(KEY_SUFFIX)
    con = duckdb.connect(str(home / "serving.duckdb"), read_only=True)
    try:
        published = con.execute(
            "select count(*) from marts.dim_customers where name like ?", ["%" + NAME_SUFFIX]
        ).fetchone()
    finally:
        con.close()
    assert published[0] == len(exported)
    # Owner-only: nothing under the home is readable by the group or others (serving.group_read off).
    shared = [
        f"{p.relative_to(home)} {oct(p.stat().st_mode & 0o777)}"
        for p in [home, *home.rglob("*")]
        if not p.is_symlink() and p.stat().st_mode & 0o077
    ]
    assert shared == []


def _workflow_in_postgres(url: str, schema: str) -> None:
    """The sample company's workflow tables, copied into a PostgreSQL schema."""
    engine = sa.create_engine(url)
    with closing(sqlite3.connect(SAMPLE / "workflow" / "workflow.sqlite")) as source, engine.begin() as target:
        target.execute(sa.text(f'create schema "{schema}"'))
        for (table,) in source.execute("select name from sqlite_master where type = 'table'").fetchall():
            rows = source.execute(f"select * from {table}")  # noqa: S608 (names from the sample file's schema)
            names = [d[0] for d in rows.description]
            target.execute(sa.text(f'create table "{schema}".{table} ({", ".join(f"{n} text" for n in names)})'))
            target.execute(
                sa.text(f'insert into "{schema}".{table} values ({", ".join(f":{n}" for n in names)})'),
                [dict(zip(names, (None if v is None else str(v) for v in row), strict=True)) for row in rows],
            )
    engine.dispose()


SENTINEL = "Sentinel7f3c9a2bPassword"


@pytest.mark.slow
@pytest.mark.pipeline
@pytest.mark.postgres
def test_a_database_password_reaches_no_file_and_no_output(tmp_path: Path, postgres_url: str) -> None:
    """The sample company with its workflow database on PostgreSQL, its password named as
    ``${INFLOW_TEST_WF_PASSWORD}``: a full run, then a failing ``inflow check``; the password is in
    no file under the home or the configuration folder and in none of their output."""
    company = tmp_path / "company"
    shutil.copytree(SAMPLE, company)
    _workflow_in_postgres(postgres_url, "wf")
    base = sa.make_url(postgres_url)
    url = f"postgresql+psycopg2://{base.username}:${{INFLOW_TEST_WF_PASSWORD}}@{base.host}:{base.port}/{base.database}"
    raw = yaml.safe_load((company / "inflow.yml").read_text())
    wf = raw["sources"]["workflow"]
    wf["url"] = url
    wf["tables"]["activities"]["query"] = (
        "select activity_no, cust_no, doc_no, activity_on, activity_type, body, created_by from wf.activities"
    )
    wf["tables"]["promises"]["query"] = (
        "select ptp_no, cust_no, doc_no, promise_date, to_char(amount_cents::numeric / 100, 'FM999999990.00') "
        "as promised_amount, created_at, ptp_status from wf.promises"
    )
    wf["tables"]["disputes"]["query"] = (
        "select case_no, doc_no, opened_at, to_char(disputed_cents::numeric / 100, 'FM999999990.00') "
        "as disputed_amount, reason_code, resolved_at, resolution from wf.disputes"
    )
    config = company / "inflow.yml"
    config.write_text(yaml.safe_dump(raw, sort_keys=False))
    home = tmp_path / "home"
    env = {"INFLOW_TEST_WF_PASSWORD": SENTINEL}
    run = _inflow("run", "--config", str(config), "--home", str(home), "--verbose", env=env)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert "raw__workflow__promises" in run.stderr  # the database source did land
    # A failing check: the same URL on a port nobody listens on.
    wf["url"] = url.replace(f":{base.port}/", ":1/")
    config.write_text(yaml.safe_dump(raw, sort_keys=False))
    check = _inflow("check", "--config", str(config), env=env)
    assert check.returncode == 1 and "query_failed" in check.stdout, check.stdout
    unset = _inflow("check", "--config", str(config))
    assert unset.returncode == 2  # `inflow run` refuses an unset variable before starting too
    assert "INFLOW_TEST_WF_PASSWORD (named by sources.workflow.url) is not set" in unset.stdout
    outputs = run.stdout + run.stderr + check.stdout + check.stderr
    assert SENTINEL not in outputs
    holding = [
        str(p)
        for folder in (home, company)
        for p in folder.rglob("*")
        if p.is_file() and not p.is_symlink() and SENTINEL.encode() in p.read_bytes()
    ]
    assert holding == []
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        files = {f for (f,) in con.execute("select distinct file from quality.source_loads").fetchall()}
    finally:
        con.close()
    assert any(f.startswith("postgresql+psycopg2://") and "***" in f for f in files), files
