"""Read-only commands over a home: ``inflow forecast`` and ``inflow evaluate``.

Both read what a run left (serving for the forecast, the warehouse's feature rows for the
evaluation) and never write the warehouse, so they run beside a refresh.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pandas as pd

from models.evaluate import evaluate_split
from models.forecast_render import UnknownCurrency, render_forecast_table
from orchestration.defs.ml.assets import MlSettings
from orchestration.settings import Settings
from orchestration.spreadsheet_safety import safe_row
from orchestration.warehouse import connect


class CommandError(RuntimeError):
    """A command that cannot answer, with what to do about it."""


def forecast_table(settings: Settings, as_of: dt.date | None, currency: str | None) -> str:
    """The published 13-week forecast as text; with ``as_of``, the one published for that day
    (``forecast.cash_forecast_history`` keeps every run's)."""
    if missing := settings.layout.not_written(settings.serving_path):
        raise CommandError(missing)
    con = connect(settings.serving_path, read_only=True)
    try:
        if as_of is None:
            weekly = con.execute("select * from forecast.cash_forecast_weekly").df()
        else:
            weekly = con.execute(
                "select *, method as model from forecast.cash_forecast_history where as_of_date = ? and is_published",
                [as_of],
            ).df()
    finally:
        con.close()
    if weekly.empty:
        dated = f" as of {as_of}" if as_of else ""
        raise CommandError(f"no published forecast{dated} in {settings.serving_path}")
    try:
        return render_forecast_table(weekly, currency)
    except UnknownCurrency as exc:
        raise CommandError(f"{exc} (in {settings.serving_path})") from exc


def evaluate(settings: Settings, split: dt.date, out: Path | None, bootstrap_samples: int = 1000) -> pd.DataFrame:
    """The chronological evaluation of the risk model at ``split`` on the home's feature rows
    (models.evaluate): its metrics next to the baselines'; the per-invoice predictions are
    written to ``out/predictions.csv`` when ``out`` is given."""
    if missing := settings.layout.not_written(settings.warehouse_path):
        raise CommandError(missing)
    con = connect(settings.warehouse_path, read_only=True)
    try:
        rows = con.execute("select * from intermediate.int_risk_training_rows").df()
    finally:
        con.close()
    if rows.empty:
        raise CommandError("the warehouse holds no risk feature rows: run `inflow run` on this configuration first")
    result = evaluate_split(
        rows, split, MlSettings.from_config(settings.config).risk, bootstrap_samples=bootstrap_samples
    )
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        write_safe_csv(result.predictions, out / "predictions.csv")
        write_safe_csv(result.metrics, out / "metrics.csv")
    return result.metrics


def write_safe_csv(frame: pd.DataFrame, target: Path) -> None:
    """A CSV for people, written atomically, every cell through the spreadsheet safety rule
    (an ERP id like ``=1+1`` stays text)."""
    pending = target.with_name(target.name + ".new")
    with pending.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(safe_row(frame.columns))
        cells = frame.astype(object).where(frame.notna(), None)  # missing values as empty cells, as pandas writes
        writer.writerows(safe_row(row) for row in cells.itertuples(index=False))
    pending.replace(target)


def metrics_table(metrics: pd.DataFrame) -> str:
    """The evaluation's metrics as text: one line per model and metric, with the 95 % interval."""
    lines = [f"{'metric':<22} {'model':<32} {'value':>9}  95% interval      n"]
    for r in metrics.sort_values(["metric", "model"]).itertuples(index=False):
        lines.append(f"{r.metric:<22} {r.model:<32} {r.value:>9.3f}  [{r.ci_low:.3f}, {r.ci_high:.3f}]  {r.n}")
    return "\n".join(lines) + "\n"
