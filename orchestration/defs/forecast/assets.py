"""The cash forecast as Dagster assets: forecast, backtest, gate, history and the fan chart.

One step reads the forecast's inputs once (dbt models of schema ``forecast``), backtests the
forecast against its baselines at rolling origins, decides whether it beats the due-date
baseline, and writes three tables:

* ``forecast.forecast_accuracy``: the backtest's metrics (replaced each run);
* ``forecast.cash_forecast_weekly``: the forecast of the run's as-of date, or, when it did not
  beat the due-date baseline, that baseline in its place, flagged (replaced each run);
* ``forecast.cash_forecast_history``: every run's forecast and due-date baseline, keyed by
  as-of date; a run replaces the rows of its own as-of date only, older forecasts are kept as
  they were made and never recomputed.

The gate is an asset check on the weekly table that fails (severity WARN) when the baseline had
to be published: the model's forecast is blocked, the run and the AR marts still publish.
"""

import base64
import datetime as dt

import dagster as dg
import duckdb
import pandas as pd

from models.backtest_forecast import (
    BacktestConfig,
    GateDecision,
    accuracy_table,
    backtest,
    beats_due_date_baseline,
    past_receipts,
    publishable_weekly,
)
from models.forecast import ForecastConfig, forecast_at, parse_scenarios
from models.forecast_baselines import baseline_weekly
from models.forecast_render import fan_chart_png
from models.forecast_state import prepare
from orchestration.config import ForecastSettings
from orchestration.defs.forecast.warehouse_io import day_number, read_inputs
from orchestration.resources import RunOptions, WarehouseResource
from orchestration.settings import Settings

WEEKLY_KEY = dg.AssetKey(["forecast", "cash_forecast_weekly"])
HISTORY_KEY = dg.AssetKey(["forecast", "cash_forecast_history"])
ACCURACY_KEY = dg.AssetKey(["forecast", "forecast_accuracy"])
GATE_CHECK = "forecast_beats_due_date_baseline"
#: The dbt models (asset keys) the forecast reads.
INPUT_KEYS = [
    dg.AssetKey(["intermediate", name])
    for name in (
        "int_forecast_invoices",
        "int_forecast_invoice_events",
        "int_forecast_cash_ledger",
        "int_forecast_promises",
        "int_forecast_plan_lines",
    )
] + [dg.AssetKey(["marts", "dim_customers"]), dg.AssetKey(["intermediate", "int_fx_rates_daily"])]

_MONEY = (
    "p10",
    "p50",
    "p90",
    "expected",
    "expected_open_invoices",
    "expected_promises",
    "expected_planned_billing",
    "p10_reporting",
    "p50_reporting",
    "p90_reporting",
    "expected_reporting",
    "actual",
    "forecast",
    "error",
    "abs_error",
)
HISTORY_DDL = """
create table if not exists forecast.cash_forecast_history (
    as_of_date date not null,
    method varchar not null,
    is_published boolean not null,
    scenario varchar not null,
    series varchar not null,
    currency varchar not null,
    week_index integer not null,
    week_start date not null,
    week_end date not null,
    p10 decimal(18,2),
    p50 decimal(18,2),
    p90 decimal(18,2),
    expected decimal(18,2),
    expected_open_invoices decimal(18,2),
    expected_promises decimal(18,2),
    expected_planned_billing decimal(18,2),
    fx_rate decimal(18,8),
    reporting_currency varchar not null,
    p10_reporting decimal(18,2),
    p50_reporting decimal(18,2),
    p90_reporting decimal(18,2),
    expected_reporting decimal(18,2),
    run_id varchar not null
)
"""
HISTORY_COLUMNS = [
    "as_of_date",
    "method",
    "is_published",
    "scenario",
    "series",
    "currency",
    "week_index",
    "week_start",
    "week_end",
    "p10",
    "p50",
    "p90",
    "expected",
    "expected_open_invoices",
    "expected_promises",
    "expected_planned_billing",
    "fx_rate",
    "reporting_currency",
    "p10_reporting",
    "p50_reporting",
    "p90_reporting",
    "expected_reporting",
    "run_id",
]


def forecast_config(options: ForecastSettings, n_sims: int) -> ForecastConfig:
    """The models' configuration of a forecast with ``n_sims`` paths."""
    return ForecastConfig(
        horizon_weeks=options.horizon_weeks,
        n_sims=n_sims,
        seed=options.seed,
        scenarios=parse_scenarios(options.scenarios),
    )


def _typed_select(frame_name: str, columns: list[str]) -> str:
    """A select over a registered frame with money as DECIMAL(18,2), rates DECIMAL(18,8), dates DATE."""
    out = []
    for c in columns:
        base = c.split("__")[-1]
        if base in _MONEY:
            out.append(f'cast(round("{c}", 2) as decimal(18,2)) as "{c}"')
        elif base == "fx_rate":
            out.append(f'cast("{c}" as decimal(18,8)) as "{c}"')
        elif c in ("as_of_date", "week_start", "week_end", "origin_date"):
            out.append(f'cast("{c}" as date) as "{c}"')
        elif c == "week_index":
            out.append(f'cast("{c}" as integer) as "{c}"')
        else:
            out.append(f'"{c}"')
    return f"select {', '.join(out)} from {frame_name}"  # noqa: S608 (column names quoted, from the frame registered here)


def replace_table(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    """Replace a forecast table with a frame (typed as above)."""
    con.register("forecast_frame", frame)
    try:
        con.execute(f"create or replace table {table} as {_typed_select('forecast_frame', list(frame.columns))}")
    finally:
        con.unregister("forecast_frame")


def record_history(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, as_of: dt.date) -> None:
    """Replace the history rows of one as-of date, in one transaction; other dates stay untouched."""
    con.execute(HISTORY_DDL)
    con.register("history_frame", frame[HISTORY_COLUMNS])
    try:
        con.execute("begin transaction")
        con.execute("delete from forecast.cash_forecast_history where as_of_date = ?", [as_of])
        con.execute(f"insert into forecast.cash_forecast_history {_typed_select('history_frame', HISTORY_COLUMNS)}")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    finally:
        con.unregister("history_frame")


def _markdown(frame: pd.DataFrame) -> str:
    head = "| " + " | ".join(frame.columns) + " |\n|" + "---|" * len(frame.columns) + "\n"
    return head + "\n".join(
        "| " + " | ".join(f"{v:,.3f}" if isinstance(v, float) else str(v) for v in row) + " |"
        for row in frame.itertuples(index=False)
    )


def _accuracy_summary(accuracy: pd.DataFrame) -> pd.DataFrame:
    total = accuracy[(accuracy["grain"] == "overall") & (accuracy["series"] == "total")]
    return total[["method", "n_origins", "n_cells", "wape", "net_accuracy", "bias", "coverage_p10_p90"]]


def build_forecast_assets(settings: Settings) -> dg.AssetsDefinition:
    """The forecast step, as of the run's date; the fan chart also goes to
    ``INFLOW_HOME/reports/<as_of>/cash_forecast_fan_chart.png``."""
    options, reporting_currency = settings.config.forecast, settings.config.reporting_currency
    reports_dir = settings.home / "reports"

    @dg.multi_asset(
        specs=[
            dg.AssetSpec(
                ACCURACY_KEY,
                deps=INPUT_KEYS,
                group_name="forecast",
                kinds={"python", "duckdb"},
                description="Rolling-origin backtest of the forecast and its baselines: WAPE, net and "
                "gross accuracy, bias and p10-p90 coverage per origin and horizon week.",
            ),
            dg.AssetSpec(
                WEEKLY_KEY,
                deps=INPUT_KEYS,
                group_name="forecast",
                kinds={"python", "duckdb"},
                description="Weekly cash receipts for the horizon by currency and in the reporting "
                "currency, p10/p50/p90 and scenarios; the due-date baseline, flagged, when "
                "the forecast did not beat it on the backtest.",
            ),
            dg.AssetSpec(
                HISTORY_KEY,
                deps=INPUT_KEYS,
                group_name="forecast",
                kinds={"python", "duckdb"},
                description="Every run's forecast and due-date baseline, keyed by as-of date; never recomputed.",
            ),
        ],
        check_specs=[
            dg.AssetCheckSpec(
                GATE_CHECK,
                asset=WEEKLY_KEY,
                description="The forecast beats the due-date baseline on the backtest; "
                "when it does not, the baseline is published in its place.",
            )
        ],
        name="cash_forecast",
    )
    def cash_forecast(context: dg.AssetExecutionContext, warehouse: WarehouseResource, run: RunOptions):
        """Backtest, gate, forecast, history and fan chart for the run's as-of date."""
        as_of_date = run.as_of(settings.config.as_of_date)
        as_of_day = day_number(as_of_date)
        with warehouse.connection(read_only=True) as con:
            prepared = prepare(read_inputs(con, reporting_currency))
        cells = backtest(
            prepared,
            as_of_day,
            forecast_config(options, options.backtest_sims),
            BacktestConfig(every_weeks=options.every_weeks, span_weeks=options.span_weeks),
        )
        accuracy = accuracy_table(cells).assign(
            as_of_date=pd.Timestamp(as_of_date),
            reporting_currency=reporting_currency,
            horizon_weeks=options.horizon_weeks,
        )
        decision = beats_due_date_baseline(accuracy, options.gate_margin)
        result = forecast_at(prepared, as_of_day, forecast_config(options, options.n_sims))
        baseline = baseline_weekly(prepared, result.state, options.horizon_weeks, "due_date")
        published = publishable_weekly(result.weekly, baseline, decision)
        history = pd.concat(
            [
                result.weekly.assign(method="forecast", is_published=decision.passed),
                baseline.assign(scenario="base", method="due_date", is_published=not decision.passed),
            ],
            ignore_index=True,
        ).assign(run_id=context.run_id)
        with warehouse.connection() as con:
            con.execute("create schema if not exists forecast")
            replace_table(con, "forecast.forecast_accuracy", accuracy)
            replace_table(con, "forecast.cash_forecast_weekly", published)
            record_history(con, history, as_of_date)

        chart = fan_chart_png(published, past_receipts(prepared, as_of_day, options.horizon_weeks))
        chart_meta: dict[str, dg.MetadataValue] = {
            "fan_chart": dg.MetadataValue.md(f"![fan chart](data:image/png;base64,{base64.b64encode(chart).decode()})")
        }
        path = reports_dir / as_of_date.isoformat() / "cash_forecast_fan_chart.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(chart)
        chart_meta["fan_chart_path"] = dg.MetadataValue.path(str(path))
        total = published[published["series"] == "total"]
        yield dg.MaterializeResult(
            asset_key=ACCURACY_KEY,
            metadata={
                "origins": int(cells["origin_date"].nunique()) if len(cells) else 0,
                "overall": dg.MetadataValue.md(_markdown(_accuracy_summary(accuracy))),
            },
        )
        yield dg.MaterializeResult(
            asset_key=WEEKLY_KEY,
            metadata={
                "as_of_date": as_of_date.isoformat(),
                "published_model": str(total["model"].iloc[0]) if len(total) else "none",
                "p50_total_horizon": float(total["p50_reporting"].sum()),
                "rows": len(published),
                **chart_meta,
            },
        )
        yield dg.MaterializeResult(asset_key=HISTORY_KEY, metadata={"rows_for_as_of": len(history)})
        yield gate_result(decision)

    return cash_forecast


def gate_result(decision: GateDecision) -> dg.AssetCheckResult:
    """The gate as an asset check: WARN when the baseline was published instead of the forecast."""
    return dg.AssetCheckResult(
        asset_key=WEEKLY_KEY,
        check_name=GATE_CHECK,
        passed=decision.passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=decision.reason,
        metadata={
            "forecast_wape": decision.forecast_wape if decision.forecast_wape is not None else float("nan"),
            "baseline_wape": decision.baseline_wape if decision.baseline_wape is not None else float("nan"),
            "weekly_cells": decision.n_cells,
        },
    )
