"""The collector worklist: whom to call first today, and how much that ordering is worth.

**Value at risk.** Each open invoice is worth ``open amount (reporting currency) x risk x
urgency`` where risk = P(not settled within ``horizon_days`` (30)) from the pay-time
distribution, and urgency = 1 for an invoice that will be past due (more than ``grace_days``)
within the horizon, ``horizon / (days until due + grace)`` for one due later (a reminder
before due matters less the further away the due date is). So the value is the expected
amount that will be late and still unpaid ``horizon_days`` from today, the quantity
``worklist_value`` measures.

**Queues.** Each collector gets one queue per day (``unassigned`` when the CRM names none):
- an invoice with an open dispute goes to the dispute owner's queue (``dispute_owner``, or the
  customer's account owner when none is configured), action *escalate*;
- an invoice with a pending promise (made and not yet past its promised date plus grace) is
  held back: listed with action *wait for promise*, never ranked into the day's capacity;
- an invoice whose promise was broken is raised: ranked ahead of every invoice without one;
- the rest by value at risk. The first ``capacity_per_collector`` ranked rows of each queue
  are today's (``status = 'queued'``); the others stay listed as ``'overflow'``.

**Actions.** escalate: in dispute, more than ``escalate_after_days`` past due, or P(severe) at
least ``escalate_p_severe``; call: past due with P(severe) at least ``call_p_severe`` or an open
amount of at least ``call_min_amount``, or a broken promise; otherwise email (a reminder).

**Stable ranks.** Ranks depend only on the inputs (ties broken by invoice id, never by row
order), and a value that moved less than ``stability_tolerance`` (10 %) since yesterday's
queue keeps yesterday's ranking value: small daily drifts of the scores do not reshuffle the
queue; a real change (a payment, a dispute, a score that moved) does.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

ACTIONS = ("call", "email", "escalate", "wait for promise")
#: The status of a ranked row past its collector's daily capacity: listed, not for today.
OVERFLOW = "overflow"


@dataclass(frozen=True)
class WorklistConfig:
    capacity_per_collector: int = 25
    horizon_days: int = 30
    grace_days: int = 0
    escalate_after_days: int = 60
    escalate_p_severe: float = 0.5
    call_p_severe: float = 0.2
    call_min_amount: float = 10_000.0
    dispute_owner: str | None = None
    stability_tolerance: float = 0.1

    def __post_init__(self) -> None:
        if self.capacity_per_collector < 0 or self.horizon_days < 1 or not 0 <= self.stability_tolerance < 1:
            raise ValueError("worklist: capacity >= 0, horizon_days >= 1 and 0 <= stability_tolerance < 1 required")


#: Columns ``build_worklist`` needs per open invoice.
ITEM_COLUMNS = (
    "invoice_id",
    "customer_id",
    "collector",
    "account_owner",
    "currency",
    "open_amount",
    "open_amount_reporting",
    "due_date",
    "p_severe",
    "p_paid_within_horizon",
    "dispute_open",
    "promise_pending",
    "promise_broken",
    "reason",
)


def urgency(days_until_due: np.ndarray, config: WorklistConfig) -> np.ndarray:
    """1 when the invoice will be past due within the horizon, decaying as horizon / distance beyond it."""
    distance = days_until_due + config.grace_days
    return np.where(
        distance < config.horizon_days, 1.0, config.horizon_days / np.maximum(distance, config.horizon_days)
    )


def value_at_risk(items: pd.DataFrame, as_of: dt.date, config: WorklistConfig) -> np.ndarray:
    until_due = (items["due_date"].to_numpy("datetime64[D]") - np.datetime64(as_of, "D")) / np.timedelta64(1, "D")
    risk = 1.0 - items["p_paid_within_horizon"].to_numpy(dtype=float)
    return items["open_amount_reporting"].to_numpy(dtype=float) * risk * urgency(until_due, config)


def _actions(items: pd.DataFrame, past_due: np.ndarray, config: WorklistConfig) -> np.ndarray:
    p_severe = items["p_severe"].to_numpy(dtype=float)
    amount = items["open_amount_reporting"].to_numpy(dtype=float)
    escalate = (
        items["dispute_open"].to_numpy(bool)
        | (past_due > config.escalate_after_days)
        | (p_severe >= config.escalate_p_severe)
    )
    call = items["promise_broken"].to_numpy(bool) | (
        (past_due > config.grace_days) & ((p_severe >= config.call_p_severe) | (amount >= config.call_min_amount))
    )
    action = np.where(escalate, "escalate", np.where(call, "call", "email"))
    return np.where(
        items["promise_pending"].to_numpy(bool) & ~items["dispute_open"].to_numpy(bool), "wait for promise", action
    )


def _sticky_values(
    items: pd.DataFrame, values: np.ndarray, previous: pd.DataFrame | None, tolerance: float
) -> np.ndarray:
    """Yesterday's ranking value where today's value is within ``tolerance`` of it."""
    if previous is None or previous.empty:
        return values
    before = items["invoice_id"].map(previous.set_index("invoice_id")["ranking_value"]).to_numpy(dtype=float)
    close = ~np.isnan(before) & (np.abs(values - before) <= tolerance * np.maximum(np.abs(before), 1e-9))
    return np.where(close, before, values)


def build_worklist(
    items: pd.DataFrame, as_of: dt.date, config: WorklistConfig = WorklistConfig(), previous: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The day's queues (``marts.collector_queue`` rows) from open invoices with their scores
    (``ITEM_COLUMNS``) and, optionally, the previous day's queue (for stable ranks)."""
    missing = set(ITEM_COLUMNS) - set(items.columns)
    if missing:
        raise ValueError(f"worklist items lack columns {sorted(missing)}")
    items = items.reset_index(drop=True)
    past_due = (np.datetime64(as_of, "D") - items["due_date"].to_numpy("datetime64[D]")) / np.timedelta64(1, "D")
    disputed = items["dispute_open"].to_numpy(bool)
    dispute_owner = (
        pd.Series(config.dispute_owner, index=items.index) if config.dispute_owner else items["account_owner"]
    )
    owner = np.where(disputed, dispute_owner.fillna("unassigned"), items["collector"].fillna("unassigned"))
    values = value_at_risk(items, as_of, config)
    action = _actions(items, past_due, config)
    held = action == "wait for promise"
    raised = items["promise_broken"].to_numpy(bool) & ~held
    queue = pd.DataFrame(
        {
            "as_of_date": pd.Timestamp(as_of),
            "queue_owner": owner,
            "queue": np.where(disputed, "disputes", "collections"),
            "invoice_id": items["invoice_id"],
            "customer_id": items["customer_id"],
            "currency": items["currency"],
            "open_amount": items["open_amount"],
            "open_amount_reporting": items["open_amount_reporting"],
            "days_past_due": np.maximum(past_due, 0).astype(int),
            "p_severe": items["p_severe"].to_numpy(dtype=float),
            "value_at_risk": values,
            "ranking_value": _sticky_values(items, values, previous, config.stability_tolerance),
            "priority": np.where(held, 2, np.where(raised, 0, 1)),
            "action": action,
            "reason": items["reason"],
        }
    )
    queue = queue.sort_values(
        ["queue_owner", "priority", "ranking_value", "invoice_id"],
        ascending=[True, True, False, True],
        kind="mergesort",
    )
    ranked = queue["priority"] < 2
    queue["rank"] = pd.array([pd.NA] * len(queue), dtype="Int64")
    queue.loc[ranked, "rank"] = queue[ranked].groupby("queue_owner").cumcount().to_numpy() + 1
    queue["status"] = np.where(
        ~ranked,
        "held",
        np.where(queue["rank"].fillna(0).to_numpy() <= config.capacity_per_collector, "queued", OVERFLOW),
    )
    return queue.reset_index(drop=True)


ORDERINGS = ("model", "oldest_first", "largest_first")


def _ordered(frame: pd.DataFrame, ordering: str) -> pd.DataFrame:
    keys = {
        "model": ["ranking_value"],
        "oldest_first": ["days_past_due", "open_amount_reporting"],
        "largest_first": ["open_amount_reporting"],
    }[ordering]
    return frame.sort_values([*keys, "invoice_id"], ascending=[False] * len(keys) + [True], kind="mergesort")


def worklist_value(frame: pd.DataFrame, top_k: tuple[int, ...]) -> pd.DataFrame:
    """Share of the late amount covered by each queue's top K rows, for the model's ordering and
    for oldest-first and largest-first.

    ``frame``: one row per open invoice and day (column ``day``) with ``queue_owner``,
    ``invoice_id``, ``ranking_value`` (the model's), ``days_past_due``,
    ``open_amount_reporting`` and ``late_amount`` (what turned out late and still unpaid
    ``horizon_days`` later: the open amount, or 0). Per day and queue the top K of each ordering
    are taken; the share is their late amount over all late amount, summed over days.
    """
    total = frame["late_amount"].sum()
    out = []
    for ordering in ORDERINGS:
        ranked = _ordered(frame, ordering)
        position = ranked.groupby(["day", "queue_owner"]).cumcount().to_numpy() + 1
        for k in top_k:
            covered = ranked["late_amount"].to_numpy()[position <= k].sum()
            out.append(
                {
                    "ordering": ordering,
                    "top_k": k,
                    "late_amount_covered": float(covered),
                    "late_amount_total": float(total),
                    "share": float(covered / total) if total else np.nan,
                }
            )
    return pd.DataFrame(out)
