"""The forecast on a company from the project's generator, through the whole pipeline (slow).

Generation, landing and dbt (the models of schema ``forecast`` included) run through the
``inflow`` CLI; the forecast's backtest then runs on the warehouse it built. What only a
realistic company can show: the p10-p90 bands of the weekly total hold 75-85 % of the actuals
give or take the sampling noise of 182 weekly cells, and the forecast's WAPE is well under
the due-date baseline's.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from models.backtest_forecast import accuracy_table, backtest, beats_due_date_baseline
from models.forecast import ForecastConfig
from models.forecast_state import prepare
from orchestration.defs.forecast.warehouse_io import day_number, read_inputs

REPO = Path(__file__).resolve().parent.parent
AS_OF = dt.date(2026, 11, 27)

pytestmark = [pytest.mark.pipeline, pytest.mark.slow]


def inflow(*args: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert proc.returncode == 0, f"inflow {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("forecast-company")
    inflow(
        "generate",
        "--out",
        str(root / "company"),
        "--customers",
        "300",
        "--invoices",
        "8000",
        "--seed",
        "5",
        "--as-of",
        AS_OF.isoformat(),
        "--quiet",
    )
    inflow(
        "run",
        "--config",
        str(root / "company" / "inflow.yml"),
        "--home",
        str(root / "home"),
        "--as-of",
        AS_OF.isoformat(),
    )
    return root / "home" / "warehouse.duckdb"


def test_generated_company_coverage_and_accuracy(warehouse: Path) -> None:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        prepared = prepare(read_inputs(con, "USD"))
    finally:
        con.close()
    accuracy = accuracy_table(backtest(prepared, day_number(AS_OF), ForecastConfig(n_sims=200)))
    total = accuracy[(accuracy["grain"] == "overall") & (accuracy["series"] == "total")].set_index("method")
    assert total.loc["forecast", "n_cells"] == 14 * 13
    assert 0.70 <= total.loc["forecast", "coverage_p10_p90"] <= 0.90
    assert total.loc["forecast", "wape"] <= 0.7 * total.loc["due_date", "wape"]
    assert beats_due_date_baseline(accuracy).passed
