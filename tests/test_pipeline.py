"""The whole pipeline, through the `inflow` CLI, on the session's published company (copies of its
home wherever a test runs again).

Covers: definitions load; a full run publishes open balances; a second run over the same files
changes nothing; a new file is picked up incrementally; a defective company conserves every row and
keeps quarantined rows out of the marts; a rejected batch and a failing blocking check each leave
serving.duckdb byte-identical.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

from tests.published_home import PUBLISHED_AS_OF, PublishedHome

pytestmark = pytest.mark.pipeline

AS_OF = dt.date.fromisoformat(PUBLISHED_AS_OF)


def inflow(*args: str, home: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ}
    if home is not None:
        env["INFLOW_HOME"] = str(home)
    proc = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", *args], env=env, capture_output=True, text=True, timeout=900
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"inflow {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def query(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def company(published_home: PublishedHome) -> Path:
    """The session's published company (tests/published_home.py: 1,500 invoices, 2 % defects)."""
    return published_home.config.parent


@pytest.fixture(scope="module")
def first_run_output(published_home: PublishedHome) -> tuple[Path, subprocess.CompletedProcess]:
    """The home after the company's first run, and what that run printed. Tests change copies only."""
    return published_home.home, published_home.run


@pytest.fixture(scope="module")
def first_run(first_run_output: tuple[Path, subprocess.CompletedProcess]) -> Path:
    return first_run_output[0]


def workspace(company: Path, first_run: Path, tmp_path: Path) -> tuple[Path, Path, dict]:
    """Private copies of the company and of the home after the first run, plus the parsed config."""
    work, home = tmp_path / "company", tmp_path / "home"
    shutil.copytree(company, work)
    shutil.copytree(first_run, home)
    return work, home, yaml.safe_load((work / "inflow.yml").read_text())


def test_definitions_load(company: Path, tmp_path: Path) -> None:
    from orchestration.definitions import build_definitions
    from orchestration.defs.automation import MAIN_JOB
    from orchestration.settings import Settings

    defs = build_definitions(Settings.load(company / "inflow.yml", tmp_path))
    job = defs.resolve_job_def(MAIN_JOB)
    keys = {k.to_user_string() for k in defs.resolve_all_asset_keys()}
    assert {
        "raw/invoices",
        "raw/erp__customers",
        "marts/fct_ar_invoices",
        "marts/dim_customers",
        "serving/published",
        "quality/exception_report",
    } <= keys
    assert job.name == MAIN_JOB


def test_run_publishes_open_balances(first_run: Path) -> None:
    serving = first_run / "serving.duckdb"
    assert serving.exists()
    rows, open_total, as_of = query(
        serving, "select count(*), sum(open_amount_reporting), max(as_of_date) from marts.fct_ar_invoices"
    )[0]
    assert rows > 1000 and open_total > 0 and as_of == AS_OF
    buckets = {b for (b,) in query(serving, "select distinct aging_bucket from marts.fct_ar_invoices")}
    assert {"current", "1-30"} <= buckets
    assert (first_run / "exports" / "marts" / "fct_ar_invoices.parquet").exists()


def test_the_terminal_shows_dbts_progress_and_warnings_not_its_lines(
    first_run_output: tuple[Path, subprocess.CompletedProcess],
) -> None:
    """dbt's own lines (a START and a result per node, coloured) go to console.log in the run's dbt
    folder; the terminal says where, each warning once, and a closing count."""
    home, proc = first_run_output
    printed = proc.stdout + proc.stderr
    assert "\x1b" not in printed
    assert not re.search(r"^\d+ of \d+ (START|OK|PASS|WARN)", printed, re.M), "no per-node dbt line"
    assert "dbt command:" not in printed and "subsetted" not in printed, "dagster-dbt's own lines only with --verbose"
    (console,) = (home / "dbt").glob("*/console.log")
    assert f"dbt_models: dbt: building; its whole output goes to {console}" in proc.stderr
    closing = re.search(r"dbt_models: dbt: (\d+) of (\d+) nodes done in [\d.]+s: (\d+) warned, 0 failed", proc.stderr)
    assert closing and closing[1] == closing[2], proc.stderr
    assert proc.stderr.count("dbt_models: dbt: Warning in test ") == int(closing[3])
    text = console.read_text()
    assert re.search(r"^1 of \d+ START", text, re.M) and "\x1b" not in text


def test_every_load_is_conserved_and_exceptions_have_owners(first_run: Path) -> None:
    serving = first_run / "serving.duckdb"
    loads = query(
        serving,
        "select file, rows_landed, rows_accepted, rows_quarantined from quality.source_loads where status = 'loaded'",
    )
    assert loads
    for file, landed, accepted, quarantined in loads:
        assert landed == accepted + quarantined, file
    assert query(serving, "select count(*) from quality.exceptions where owner is null or rule is null")[0][0] == 0
    assert query(serving, "select count(*) from quality.exceptions")[0][0] > 0
    assert list((first_run / "exports" / "exceptions").glob("*.csv"))


def test_marts_hold_no_quarantined_row(first_run: Path) -> None:
    warehouse = first_run / "warehouse.duckdb"
    leaked = query(
        warehouse,
        """
        select count(*) from marts.fct_ar_invoices f
        join raw.invoices r on r.document_id = f.invoice_id and r._status = 'quarantined'
        where not exists (select 1 from raw.invoices a where a.document_id = f.invoice_id and a._status = 'accepted')
    """,
    )[0][0]
    assert leaked == 0


def test_second_run_changes_nothing(company: Path, first_run: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(first_run, home)
    before = query(home / "serving.duckdb", "select invoice_id, open_amount from marts.fct_ar_invoices order by 1")
    raw_before = query(home / "warehouse.duckdb", "select count(*) from raw.invoices")[0][0]
    inflow("run", "--config", str(company / "inflow.yml"), "--home", str(home))
    assert query(home / "warehouse.duckdb", "select count(*) from raw.invoices")[0][0] == raw_before
    assert (
        query(home / "serving.duckdb", "select invoice_id, open_amount from marts.fct_ar_invoices order by 1") == before
    )


def test_new_file_is_picked_up_incrementally(company: Path, first_run: Path, tmp_path: Path) -> None:
    """A late drop (the newest month again, under new document numbers) lands alone and reaches the marts."""
    work, home, config = workspace(company, first_run, tmp_path)
    invoice_loads = (
        "select count(*) from quality.source_loads where status = 'loaded' and source_table = 'erp__invoices'"
    )
    files_before = query(home / "warehouse.duckdb", invoice_loads)[0][0]
    invoices = config["sources"]["erp"]["tables"]["invoices"]
    newest = sorted(work.glob(invoices["path"]))[-1]
    with newest.open(newline="") as handle:
        header, *rows = list(csv.reader(handle))
    doc_col = header.index(invoices["columns"]["document_id"])
    # New invoices nothing has paid: the ERP's open amount of the originals would not tie (D10).
    open_col = header.index(invoices["columns"]["external_open_amount"])
    late_drop = newest.parent / invoices["path"].split("/")[-1].replace("*", "late-drop")
    with late_drop.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for i, row in enumerate(rows):
            row[doc_col], row[open_col] = f"LATE-{i}", ""
            writer.writerow(row)
    inflow("run", "--config", str(work / "inflow.yml"), "--home", str(home))
    assert query(home / "warehouse.duckdb", invoice_loads)[0][0] == files_before + 1
    expected = query(
        home / "warehouse.duckdb",
        "select count(*) from raw.invoices where _file = ? and _status = 'accepted' "
        "and document_type in ('invoice', 'debit_memo')".replace("?", f"'{late_drop}'"),
    )[0][0]
    published = query(
        home / "serving.duckdb", "select count(*) from marts.fct_ar_invoices where invoice_id like 'LATE-%'"
    )[0][0]
    assert published == expected > 0


def test_rejected_batch_fails_the_run_and_leaves_serving_identical(
    company: Path, first_run: Path, tmp_path: Path
) -> None:
    work, home, config = workspace(company, first_run, tmp_path)
    newest = sorted(work.glob(config["sources"]["erp"]["tables"]["invoices"]["path"]))[-1]
    text = newest.read_text()
    (newest.parent / (newest.stem + "_truncated.csv")).write_text(text[: len(text) // 2].rsplit(",", 3)[0])
    before = digest(home / "serving.duckdb")
    proc = inflow("run", "--config", str(work / "inflow.yml"), "--home", str(home), check=False)
    assert proc.returncode == 1
    assert "left as last published" in proc.stderr and "_truncated.csv" in proc.stderr
    assert digest(home / "serving.duckdb") == before


def test_failing_blocking_check_leaves_serving_identical(company: Path, first_run: Path, tmp_path: Path) -> None:
    work, home, config = workspace(company, first_run, tmp_path)
    config["sources"]["erp"]["cadence"] = {"expected_every": "1h", "block_publish_when_stale": True}
    (work / "inflow.yml").write_text(yaml.safe_dump(config))
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    con.execute("update quality.source_loads set loaded_at = loaded_at - interval 2 day")
    con.close()
    before = digest(home / "serving.duckdb")
    proc = inflow("run", "--config", str(work / "inflow.yml"), "--home", str(home), check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert digest(home / "serving.duckdb") == before
    stale = query(home / "warehouse.duckdb", "select count(*) from quality.source_loads where status = 'stale'")[0][0]
    assert stale >= 1


def test_forecast_and_evaluate_read_what_the_run_left(company: Path, first_run: Path, tmp_path: Path) -> None:
    from orchestration.commands import evaluate
    from orchestration.settings import Settings

    printed = inflow("forecast", "--config", str(company / "inflow.yml"), "--home", str(first_run)).stdout
    weeks = [line for line in printed.splitlines() if line.strip()[:2].strip().isdigit()]
    assert printed.startswith(f"Cash receipts forecast as of {AS_OF}") and len(weeks) == 13
    unknown = inflow(
        "forecast", "--config", str(company / "inflow.yml"), "--home", str(first_run), "--currency", "XYZ", check=False
    )
    assert unknown.returncode == 1 and unknown.stdout == ""
    assert "no forecast rows for currency 'XYZ'; available: " in unknown.stderr
    settings = Settings.load(company / "inflow.yml", first_run)
    metrics = evaluate(settings, AS_OF - dt.timedelta(days=180), tmp_path / "eval", bootstrap_samples=20)
    assert {"auc", "mae_days", "weekly_receipts_wape"} == set(metrics["metric"])
    assert {"baseline_due_date", "baseline_customer_late_rate"} <= set(metrics["model"])
    predictions = (tmp_path / "eval" / "predictions.csv").read_text().splitlines()
    assert predictions[0].startswith("invoice_id,") and len(predictions) > 100


def test_dbt_assets_carry_their_row_counts_and_plots(first_run: Path) -> None:
    import dagster as dg

    with dg.DagsterInstance.from_config(str(first_run / "dagster")) as instance:

        def latest(path: list[str]) -> dict:
            records = instance.fetch_materializations(dg.AssetKey(path), limit=1).records
            return records[0].asset_materialization.metadata

        invoices = latest(["marts", "fct_ar_invoices"])
        (rows,) = query(first_run / "serving.duckdb", "select count(*) from marts.fct_ar_invoices")[0]
        assert invoices["dagster/row_count"].value == rows
        assert latest(["marts", "fct_ar_aging_daily"])["aging_stack"].value.startswith("![aging stack](data:image/png")
        assert latest(["marts", "ar_kpis_monthly"])["kpi_trend"].value.startswith("![DSO and CEI trend](data:image/png")
