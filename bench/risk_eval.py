"""Risk model measurements on a warehouse built by ``inflow run`` (features in ``ml.risk_*``).

    python -m bench.risk_eval WAREHOUSE [--origins 4] [--top-k 10 25 50] [--threads 1]

Prints the rolling-origin backtest (model against every baseline, pooled over origins and per
origin) and the worklist value: at each origin, every invoice open then is ranked per collector
by the model's value at risk, by age (oldest first) and by amount (largest first), and the
table shows which share of the amount that was late and still unpaid 30 days later the top K
rows of each queue covered. Also the time and peak memory of reading and training.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import time

import duckdb
import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from models.backtest import WORKLIST_HORIZON_DAYS, plan_origins, run_backtest
from models.labels import remaining_days
from models.risk import RiskParams
from models.worklist import WorklistConfig, value_at_risk, worklist_value
from orchestration.defs.ml.assets import read_training_rows


def worklist_frame(predictions: pd.DataFrame, collectors: pd.Series, config: WorklistConfig) -> pd.DataFrame:
    """The snapshot rows of each origin with the model's value at risk and what turned out late:
    open amount (reporting, invoice-date rate) when not settled within the horizon and past due
    (more than grace) by its end, else 0."""
    open_then = predictions[predictions["row_kind"] == "snapshot"].copy()
    open_then["open_amount_reporting"] = open_then["amount_reporting_value"] * open_then["open_share"]
    open_then["p_paid_within_horizon"] = open_then["model:paid_within_worklist_horizon"]
    values = []
    for origin, group in open_then.groupby("origin_date"):
        values.append(pd.Series(value_at_risk(group, origin, config), index=group.index))
    open_then["ranking_value"] = pd.concat(values)
    horizon_end = open_then["scoring_date"] + pd.Timedelta(days=config.horizon_days)
    late_then = open_then["due_date"] + pd.Timedelta(days=config.grace_days) < horizon_end
    unpaid = remaining_days(open_then) > config.horizon_days
    open_then["late_amount"] = np.where(late_then & unpaid, open_then["open_amount_reporting"], 0.0)
    open_then["queue_owner"] = open_then["customer_id"].map(collectors).fillna("unassigned")
    open_then["day"] = open_then["origin_date"]
    return open_then


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse")
    parser.add_argument("--origins", type=int, default=4)
    parser.add_argument("--top-k", type=int, nargs="+", default=[10, 25, 50])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-rows", type=int, default=400_000)
    args = parser.parse_args(argv)
    params, config = RiskParams(), WorklistConfig()
    con = duckdb.connect(args.warehouse, read_only=True)
    as_of = con.execute("select max(as_of_date) from intermediate.int_risk_training_rows").fetchone()[0]
    plan = plan_origins(as_of, count=args.origins)
    started = time.perf_counter()
    rows = read_training_rows(con, min(plan.origins) - dt.timedelta(days=params.training_days), args.max_rows)
    collectors = (
        con.execute("select customer_id, collector from marts.dim_customers").df().set_index("customer_id")["collector"]
    )
    read_s = time.perf_counter() - started
    with threadpool_limits(args.threads):
        started = time.perf_counter()
        result = run_backtest(rows, as_of, params, plan)
        backtest_s = time.perf_counter() - started
    pd.set_option("display.width", 250)
    ev = result.evaluations.drop(columns=["calibration_bins"]).round(4)
    print(
        f"as of {as_of}; {len(rows):,} training rows read in {read_s:.1f} s; backtest ({len(plan.origins)} origins, "
        f"{args.threads} thread) {backtest_s:.1f} s; "
        f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )
    print("\npooled over origins\n" + ev[ev["origin_date"].isna()].drop(columns=["origin_date"]).to_string(index=False))
    print("\nper origin\n" + ev[ev["origin_date"].notna()].to_string(index=False))
    frame = worklist_frame(result.predictions, collectors, config)
    value = worklist_value(frame, tuple(args.top_k))
    print(
        f"\nworklist value: share of the amount late and unpaid {WORKLIST_HORIZON_DAYS} days after each origin "
        f"covered by the top K rows per collector ({frame['queue_owner'].nunique()} queues, "
        f"{len(frame):,} open invoices over {frame['day'].nunique()} origins)"
    )
    print(value.pivot(index="top_k", columns="ordering", values="share").round(3).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
