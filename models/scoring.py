"""The published rows: invoice scores, customer scores and pay-time quantiles.

A *scorer* is the trained ``RiskModel`` or, when it did not beat its baselines, the
``BaselineScorer``; both answer ``score(rows)`` (p_late, p_severe, insufficient_history) and
the pay-time interface of ``models.pay_time`` (``cdf``, ``quantiles``). The ``model`` column of
every published row names which one produced it.

Bands (invoices and customers alike): ``critical`` when P(severe) >= 0.5, ``high`` when
P(severe) >= 0.2 or P(late) >= 0.8, ``medium`` when P(late) >= 0.5, else ``low``.
A customer's score is P(late) of its next usual invoice (``features.next_invoice_rows``);
its trend compares it with the same score ``risk_customer_trend_days`` (91) earlier:
``worsening`` / ``improving`` beyond +/- 0.05, else ``stable``; ``new`` without an earlier score.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from models.explain import sentence
from models.features import next_invoice_rows

#: The levels the cash forecast reads (``ml.invoice_pay_time_quantiles``): 0.05, 0.10, ..., 0.95.
FORECAST_LEVELS = tuple(round(0.05 * i, 2) for i in range(1, 20))
TREND_THRESHOLD = 0.05


def band(p_late: np.ndarray, p_severe: np.ndarray) -> np.ndarray:
    p_late, p_severe = np.asarray(p_late, dtype=float), np.asarray(p_severe, dtype=float)
    return np.select(
        [p_severe >= 0.5, (p_severe >= 0.2) | (p_late >= 0.8), p_late >= 0.5],
        ["critical", "high", "medium"],
        default="low",
    )


def pay_dates(scoring_dates: pd.Series, remaining: np.ndarray) -> pd.Series:
    """Scoring day + remaining days rounded up to a whole day; null where remaining is inf
    (not expected within the last horizon)."""
    days = np.ceil(np.where(np.isfinite(remaining), remaining, np.nan))
    return pd.Series(
        pd.to_datetime(scoring_dates).to_numpy() + pd.to_timedelta(days, unit="D"), index=scoring_dates.index
    ).dt.date


def history_reasons(rows: pd.DataFrame, reporting_currency: str) -> pd.Series:
    """Reasons without a model (for the baseline): payment history, age, and any dispute or
    promise on the invoice."""
    out = []
    for _, row in rows.iterrows():
        record = row.to_dict()
        found = [
            sentence("payment_history", record, True, reporting_currency),
            sentence("age", record, True, reporting_currency),
        ]
        if record.get("own_dispute_open", 0) > 0:
            found.append(sentence("disputes", record, True, reporting_currency))
        if record.get("own_promise_pending", 0) > 0 or record.get("broken_promise_count", 0) > 0:
            found.append(sentence("promises", record, True, reporting_currency))
        out.append("; ".join(text for text in found if text))
    return pd.Series(out, index=rows.index, dtype=object)


def invoice_scores(
    scorer,
    rows: pd.DataFrame,
    distribution,
    as_of: dt.date,
    *,
    model_label: str,
    model_version: str,
    reasons: Callable[[pd.DataFrame], pd.Series],
) -> pd.DataFrame:
    """``ml.invoice_risk_scores`` rows for the scoring rows of ``as_of`` (``distribution`` =
    ``scorer.distribution(rows)``)."""
    scored = scorer.score(rows)
    remaining = distribution.quantiles((0.1, 0.5, 0.9))
    out = pd.DataFrame(
        {
            "invoice_id": rows["invoice_id"],
            "customer_id": rows["customer_id"],
            "as_of_date": pd.Timestamp(as_of).date(),
            "p_late": scored["p_late"].round(4),
            "p_severe": scored["p_severe"].round(4),
            "pay_date_p10": pay_dates(rows["scoring_date"], remaining[:, 0]),
            "pay_date_p50": pay_dates(rows["scoring_date"], remaining[:, 1]),
            "pay_date_p90": pay_dates(rows["scoring_date"], remaining[:, 2]),
            "band": band(scored["p_late"], scored["p_severe"]),
            "insufficient_history": scored["insufficient_history"].astype(bool),
            "reasons": reasons(rows),
            "model": model_label,
            "model_version": model_version,
        },
        index=rows.index,
    )
    return out.reset_index(drop=True)


def pay_time_quantiles(
    rows: pd.DataFrame, distribution, levels: Sequence[float] = FORECAST_LEVELS, *, model_label: str, model_version: str
) -> pd.DataFrame:
    """Long table (invoice_id, as_of_date, level, remaining_days, pay_date, model, model_version):
    the pay-time distribution of every open invoice at ``levels``; remaining_days and pay_date
    are null beyond the last horizon (not expected within it)."""
    remaining = distribution.quantiles(levels)
    parts = []
    for j, level in enumerate(levels):
        finite = np.isfinite(remaining[:, j])
        parts.append(
            pd.DataFrame(
                {
                    "invoice_id": rows["invoice_id"].to_numpy(),
                    "as_of_date": pd.to_datetime(rows["scoring_date"]).dt.date.to_numpy(),
                    "level": level,
                    "remaining_days": np.where(finite, np.round(remaining[:, j], 2), np.nan),
                    "pay_date": pay_dates(rows["scoring_date"], remaining[:, j]).to_numpy(),
                }
            )
        )
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return out.assign(model=model_label, model_version=model_version)


def customer_scores(
    scorer,
    customers: pd.DataFrame,
    as_of: dt.date,
    *,
    model_label: str,
    model_version: str,
    reasons: Callable[[pd.DataFrame], pd.Series],
) -> pd.DataFrame:
    """``ml.customer_risk_scores`` rows from ``intermediate.int_risk_customer_rows`` (as_of and the earlier day)."""
    rows = next_invoice_rows(customers)
    scored = scorer.score(rows)
    rows = rows.assign(
        score=scored["p_late"], p_severe=scored["p_severe"], insufficient_history=scored["insufficient_history"]
    )
    today = rows[rows["scoring_date"] == pd.Timestamp(as_of)]
    earlier = rows[rows["scoring_date"] < pd.Timestamp(as_of)].set_index("customer_id")["score"]
    change = today["score"].to_numpy() - today["customer_id"].map(earlier).to_numpy(dtype=float)
    trend = np.select(
        [np.isnan(change), change > TREND_THRESHOLD, change < -TREND_THRESHOLD],
        ["new", "worsening", "improving"],
        default="stable",
    )
    return pd.DataFrame(
        {
            "customer_id": today["customer_id"].to_numpy(),
            "as_of_date": pd.Timestamp(as_of).date(),
            "score": today["score"].round(4).to_numpy(),
            "p_severe": today["p_severe"].round(4).to_numpy(),
            "band": band(today["score"], today["p_severe"]),
            "score_change": np.round(change, 4),
            "trend": trend,
            "insufficient_history": today["insufficient_history"].astype(bool).to_numpy(),
            "reasons": reasons(today).to_numpy(),
            "model": model_label,
            "model_version": model_version,
        }
    )


def data_fingerprint(rows: pd.DataFrame) -> str:
    """SHA-256 over the rows' keys and outcomes, independent of row order: the same training
    data gives the same fingerprint, any changed outcome or row a different one."""
    keys = rows[["invoice_id", "scoring_date", "row_kind", "settled_date", "written_off_date"]].astype(str)
    hashed = np.sort(pd.util.hash_pandas_object(keys, index=False).to_numpy())
    return hashlib.sha256(hashed.tobytes()).hexdigest()


def model_version(as_of: dt.date, fingerprint: str, params) -> str:
    """``<as_of>-<12 hex>`` from the data fingerprint and the parameters: same data and
    parameters, same version (and, training being deterministic, the same model)."""
    digest = hashlib.sha256(f"{fingerprint}|{params!r}".encode()).hexdigest()[:12]
    return f"{as_of:%Y%m%d}-{digest}"
