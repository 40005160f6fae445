"""The model card: what a trained risk model is, what it learned from and how good it was.

``model_card`` returns a plain dict (JSON-ready); ``card_markdown`` renders it for people. The
Dagster asset writes both under ``INFLOW_HOME/models/<version>/``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math

import pandas as pd

from models.features import CATEGORICAL, NUMERIC
from models.gate import Verdict
from models.risk import RiskModel


def _plain(value):
    if isinstance(value, (dt.date, pd.Timestamp)):
        return value.isoformat()
    if dataclasses.is_dataclass(value):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def model_card(
    model: RiskModel,
    *,
    version: str,
    fingerprint: str,
    training_rows: pd.DataFrame,
    evaluations: pd.DataFrame,
    verdict: Verdict,
    published_model: str,
) -> dict:
    """Everything needed to know what produced a score: window, features, data, metrics, verdict."""
    scored = training_rows["scoring_date"]
    pooled = evaluations[evaluations["origin_date"].isna()].drop(columns=["calibration_bins"], errors="ignore")
    return _plain(
        {
            "model": model.name,
            "version": version,
            "trained_on": model.trained_on,
            "published": published_model,
            "training_window": {
                "first_scoring_date": scored.min().date() if len(scored) else None,
                "last_scoring_date": scored.max().date() if len(scored) else None,
                "rows_in_window": model.training_rows,
                "training_days": model.params.training_days,
            },
            "data_fingerprint": fingerprint,
            "parameters": model.params,
            "features": {"numeric": list(NUMERIC), "categorical": list(CATEGORICAL)},
            "labels": {
                "late": f"settled more than {model.params.targets.grace_days} days after due, or written off",
                "severe": f"settled more than {model.params.targets.severe_days} days after due, or written off",
                "pay_date": "days from the scoring day until the balance is settled (not written off)",
            },
            "insufficient_history": (
                f"fewer than {model.params.min_paid_invoices} paid invoices or fewer than "
                f"{model.params.min_history_days} days since the first invoice: scored from "
                "the segment's prior"
            ),
            "backtest": {
                "origins": sorted({d.isoformat() for d in evaluations["origin_date"].dropna()}),
                "pooled": pooled.to_dict(orient="records"),
            },
            "verdict": {"passed": verdict.passed, "reasons": list(verdict.reasons)},
        }
    )


def card_markdown(card: dict) -> str:
    """The card as a short Markdown page."""
    window = card["training_window"]
    lines = [
        f"# Risk model {card['version']}",
        "",
        f"- model: {card['model']} (published: **{card['published']}**)",
        (
            f"- trained on: {card['trained_on']}; rows scored {window['first_scoring_date']} .. "
            f"{window['last_scoring_date']} ({window['rows_in_window']} rows in the "
            f"{window['training_days']}-day window)"
        ),
        f"- data fingerprint: `{card['data_fingerprint']}`",
        f"- insufficient history: {card['insufficient_history']}",
        "",
        "## Labels",
        *[f"- {name}: {text}" for name, text in card["labels"].items()],
        "",
        f"## Backtest (pooled over origins {', '.join(card['backtest']['origins'])})",
        "",
        "| model | target | n | AUC | AP | Brier | MAE days | p10-p90 coverage |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in card["backtest"]["pooled"]:
        cells = [row.get(k) for k in ("auc", "average_precision", "brier", "mae_days", "coverage_p10_p90")]
        shown = " | ".join("" if v is None else f"{v:.3f}" for v in cells)
        lines.append(f"| {row['model']} | {row['target']} | {row['n']} | {shown} |")
    lines += [
        "",
        "## Verdict",
        "",
        *[f"- {r}" for r in card["verdict"]["reasons"]],
        "",
        "## Features",
        "",
        ", ".join(card["features"]["numeric"] + card["features"]["categorical"]),
        "",
        "## Parameters",
        "",
        "```json",
        json.dumps(card["parameters"], indent=2),
        "```",
        "",
    ]
    return "\n".join(lines)
