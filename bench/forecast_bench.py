"""Time the cash forecast step (read, backtest, forecast) on a built warehouse, with peak RSS.

Runs the same functions, in the same order, as the Dagster step in
``orchestration/defs/forecast/assets.py`` (minus writing the three tables and the chart), on a
warehouse that ``inflow run`` built (the dbt models of schema ``forecast`` included):

    .venv/bin/python -m bench.forecast_bench WAREHOUSE AS_OF [--sims N] [--backtest-sims N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import time
from collections.abc import Callable
from typing import TypeVar

import duckdb

from models.backtest_forecast import (
    BacktestConfig,
    accuracy_table,
    backtest,
    beats_due_date_baseline,
)
from models.forecast import forecast_at
from models.forecast_baselines import baseline_weekly
from models.forecast_state import prepare
from orchestration.config import ForecastSettings
from orchestration.defs.forecast.assets import forecast_config
from orchestration.defs.forecast.warehouse_io import day_number, read_inputs

T = TypeVar("T")


def timed(label: str, times: dict[str, float], fn: Callable[[], T]) -> T:
    start = time.perf_counter()
    out = fn()
    times[label] = time.perf_counter() - start
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse")
    parser.add_argument("as_of", type=dt.date.fromisoformat)
    defaults = ForecastSettings()
    parser.add_argument("--sims", type=int, default=defaults.n_sims)
    parser.add_argument("--backtest-sims", type=int, default=defaults.backtest_sims)
    args = parser.parse_args()
    options = ForecastSettings(n_sims=args.sims, backtest_sims=args.backtest_sims)
    as_of = day_number(args.as_of)
    times: dict[str, float] = {}
    con = duckdb.connect(args.warehouse, read_only=True)
    inputs = timed("read", times, lambda: read_inputs(con, "USD"))
    con.close()
    prepared = timed("prepare", times, lambda: prepare(inputs))
    cells = timed(
        "backtest",
        times,
        lambda: backtest(prepared, as_of, forecast_config(options, options.backtest_sims), BacktestConfig()),
    )
    accuracy = timed("accuracy", times, lambda: accuracy_table(cells))
    run = timed("forecast", times, lambda: forecast_at(prepared, as_of, forecast_config(options, options.n_sims)))
    timed("baseline", times, lambda: baseline_weekly(prepared, run.state, options.horizon_weeks, "due_date"))
    decision = beats_due_date_baseline(accuracy)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"invoices {len(inputs.invoices):,}; events {len(inputs.events):,}; origins {cells['origin_date'].nunique()}; "
        f"items at as-of {len(run.items):,}; sims {args.sims} (backtest {args.backtest_sims})"
    )
    print(
        " | ".join(f"{k} {v:.1f} s" for k, v in times.items()) + f" | total {sum(times.values()):.1f} s"
        f" | peak RSS {peak_mib:,.0f} MiB"
    )
    print(decision.reason)
    total = accuracy[(accuracy["series"] == "total")]
    overall = total[total["grain"] == "overall"].set_index("method")
    print("| method | WAPE | net accuracy | bias | p10-p90 coverage |")
    print("|---|---:|---:|---:|---:|")
    for method, r in overall.iterrows():
        cov = "" if r["coverage_p10_p90"] != r["coverage_p10_p90"] else f"{r['coverage_p10_p90']:.3f}"
        print(f"| {method} | {r['wape']:.3f} | {r['net_accuracy']:.3f} | {r['bias']:+.3f} | {cov} |")
    by_week = total[total["grain"] == "horizon_week"].pivot(index="week_index", columns="method", values="wape")
    coverage = total[(total["grain"] == "horizon_week") & (total["method"] == "forecast")].set_index("week_index")
    print(
        "week WAPE forecast/due_date/customer_mean, coverage: "
        + "; ".join(
            f"{w}: {r['forecast']:.2f}/{r['due_date']:.2f}/{r['customer_mean']:.2f}, "
            f"{coverage.loc[w, 'coverage_p10_p90']:.2f}"
            for w, r in by_week.iterrows()
        )
    )
    currency = accuracy[
        (accuracy["grain"] == "overall") & (accuracy["series"] == "currency") & (accuracy["method"] == "forecast")
    ]
    print(
        "per currency (forecast WAPE, coverage): "
        + ", ".join(f"{r.currency} {r.wape:.3f} {r.coverage_p10_p90:.2f}" for r in currency.itertuples())
    )


if __name__ == "__main__":
    main()
