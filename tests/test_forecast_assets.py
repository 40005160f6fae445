"""The forecast's Dagster step on a warehouse holding a generated company's forecast inputs."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

import dagster as dg
import duckdb
import pytest

import models.forecast as forecast_module
from models.forecast_state import ForecastInputs
from orchestration.config import SAMPLE_CONFIG, ConfigError, ForecastSettings, load_config
from orchestration.defs.forecast.assets import GATE_CHECK, build_forecast_assets
from orchestration.resources import RunOptions, WarehouseResource
from orchestration.settings import Settings
from tests.forecast_fixtures import DATE_COLUMNS, synthetic_company

AS_OF = dt.date(2026, 6, 30)
TABLES = {
    "invoices": "intermediate.int_forecast_invoices",
    "events": "intermediate.int_forecast_invoice_events",
    "cash_ledger": "intermediate.int_forecast_cash_ledger",
    "promises": "intermediate.int_forecast_promises",
    "plan_lines": "intermediate.int_forecast_plan_lines",
    "customers": "marts.dim_customers",
    "fx_rates": "intermediate.int_fx_rates_daily",
}
OPTIONS = ForecastSettings(
    n_sims=200,
    backtest_sims=100,
    span_weeks=24,
    scenarios={
        "late_10": {"kind": "delay", "days": 10},
        "smb_cut": {"kind": "haircut", "segment": "smb", "percent": 25},
    },
)


def settings_with(options: ForecastSettings, home: Path) -> Settings:
    """The sample company's settings with these forecast options, writing under ``home``."""
    config = load_config(SAMPLE_CONFIG).model_copy(update={"forecast": options})
    return Settings(config=config, config_path=SAMPLE_CONFIG, home=home)


def write_inputs(path: Path, data: ForecastInputs) -> None:
    """The frames as the dbt models would leave them: dates DATE, money DECIMAL(18,2)."""
    con = duckdb.connect(str(path))
    try:
        for schema in ("forecast", "marts", "intermediate"):
            con.execute(f"create schema if not exists {schema}")
        for field, table in TABLES.items():
            frame = getattr(data, field)
            con.register("frame", frame)
            cols = ", ".join(
                f"cast({c} as date) as {c}"
                if c in DATE_COLUMNS
                else f"cast({c} as decimal(18,2)) as {c}"
                if c in ("amount", "promised_amount")
                else f"cast({c} as decimal(18,8)) as {c}"
                if c == "rate_to_reporting"
                else f"cast({c} as varchar) as {c}"
                for c in frame.columns
            )
            con.execute(f"create or replace table {table} as select {cols} from frame")
            con.unregister("frame")
    finally:
        con.close()


@pytest.fixture(scope="module")
def company() -> ForecastInputs:
    return synthetic_company(3, customers=60, invoices=2500)


@pytest.fixture
def warehouse(tmp_path: Path, company: ForecastInputs) -> Path:
    path = tmp_path / "warehouse.duckdb"
    write_inputs(path, company)
    return path


def run_step(path: Path, as_of: dt.date) -> dg.ExecuteInProcessResult:
    step = build_forecast_assets(settings_with(OPTIONS, path.parent))
    defs = dg.Definitions(
        assets=[step],
        resources={"warehouse": WarehouseResource(path=str(path)), "run": RunOptions(as_of_date=as_of.isoformat())},
    )
    return defs.resolve_implicit_global_asset_job_def().execute_in_process()


def query(path: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def test_step_writes_the_three_tables_with_money_as_decimal(warehouse: Path, tmp_path: Path) -> None:
    result = run_step(warehouse, AS_OF)
    assert result.success
    [check] = result.get_asset_check_evaluations()
    assert check.check_name == GATE_CHECK and check.passed
    weekly = query(
        warehouse,
        "select series, currency, count(*), min(model), bool_or(is_baseline_fallback) "
        "from forecast.cash_forecast_weekly group by all order by all",
    )
    assert weekly == [
        ("currency", "EUR", 13, "forecast", False),
        ("currency", "USD", 13, "forecast", False),
        ("total", "USD", 13, "forecast", False),
    ]
    types = dict(
        query(
            warehouse,
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'forecast' and table_name = 'cash_forecast_weekly'",
        )
    )
    assert types["p50"] == "DECIMAL(18,2)" and types["late_10__p50_reporting"] == "DECIMAL(18,2)"
    assert types["fx_rate"] == "DECIMAL(18,8)" and types["week_start"] == "DATE"
    history_types = dict(
        query(
            warehouse,
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'forecast' and table_name = 'cash_forecast_history'",
        )
    )
    assert history_types["p90_reporting"] == "DECIMAL(18,2)"
    methods = query(
        warehouse,
        "select method, scenario, bool_and(is_published), count(*) from "
        "forecast.cash_forecast_history group by all order by all",
    )
    assert methods == [
        ("due_date", "base", False, 39),
        ("forecast", "base", True, 39),
        ("forecast", "late_10", True, 39),
        ("forecast", "smb_cut", True, 39),
    ]
    overall = query(
        warehouse,
        "select method, wape, coverage_p10_p90 from forecast.forecast_accuracy "
        "where grain = 'overall' and series = 'total' order by method",
    )
    assert [m for m, _, _ in overall] == ["customer_mean", "due_date", "forecast"]
    assert overall[2][1] < overall[1][1] and 0.6 < overall[2][2] < 0.95
    chart = warehouse.parent / "reports" / AS_OF.isoformat() / "cash_forecast_fan_chart.png"
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    materialization = result.asset_materializations_for_node("cash_forecast")
    weekly_meta = next(m.metadata for m in materialization if m.asset_key.path[-1] == "cash_forecast_weekly")
    embedded = weekly_meta["fan_chart"].value
    assert embedded.startswith("![fan chart](data:image/png;base64,")
    assert base64.b64decode(embedded.split(",", 1)[1].rstrip(")")) == chart.read_bytes()


def test_history_keeps_old_forecasts_and_a_rerun_replaces_only_its_own_date(warehouse: Path) -> None:
    later = AS_OF + dt.timedelta(days=7)
    assert run_step(warehouse, AS_OF).success
    first = query(warehouse, "select * from forecast.cash_forecast_history where as_of_date = ? order by all", [AS_OF])
    assert run_step(warehouse, later).success
    assert run_step(warehouse, AS_OF).success  # the same as-of date again
    rows = dict(query(warehouse, "select as_of_date, count(*) from forecast.cash_forecast_history group by 1"))
    assert rows == {AS_OF: 156, later: 156}
    again = query(warehouse, "select * from forecast.cash_forecast_history where as_of_date = ? order by all", [AS_OF])
    strip = [tuple(v for i, v in enumerate(r) if i != len(r) - 1) for r in first]  # all but run_id
    assert [tuple(v for i, v in enumerate(r) if i != len(r) - 1) for r in again] == strip
    weekly_as_of = query(warehouse, "select distinct as_of_date from forecast.cash_forecast_weekly")
    assert weekly_as_of == [(AS_OF,)]


def test_a_broken_forecast_is_blocked_and_the_baseline_published_flagged(
    warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = forecast_module.conditional_quantiles

    def late(tables, rows, open_from_lag):
        p, lags = real(tables, rows, open_from_lag)
        return p, lags + 45.0

    monkeypatch.setattr(forecast_module, "conditional_quantiles", late)
    result = run_step(warehouse, AS_OF)
    assert result.success  # the run goes on: the AR marts still publish
    [check] = result.get_asset_check_evaluations()
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert "does not beat" in check.description
    published = query(warehouse, "select distinct model, is_baseline_fallback from forecast.cash_forecast_weekly")
    assert published == [("due_date", True)]
    scenario_nulls = query(
        warehouse, "select count(*) from forecast.cash_forecast_weekly where late_10__p50 is not null"
    )
    assert scenario_nulls == [(0,)]
    flags = query(
        warehouse, "select method, bool_and(is_published) from forecast.cash_forecast_history group by 1 order by 1"
    )
    assert flags == [("due_date", True), ("forecast", False)]


def test_invalid_options_fail_when_the_configuration_loads(tmp_path: Path) -> None:
    import yaml

    for section, expected in (
        ({"scenarios": {"x": {"kind": "nope"}}}, r"forecast\.scenarios.*x\.kind"),
        ({"horizon_weeks": 0}, r"forecast\.horizon_weeks"),
    ):
        raw = yaml.safe_load(SAMPLE_CONFIG.read_text())
        raw["forecast"] = section
        path = tmp_path / "inflow.yml"
        path.write_text(yaml.safe_dump(raw))
        with pytest.raises(ConfigError, match=expected):
            load_config(path)
