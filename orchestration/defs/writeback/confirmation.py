"""Closing the loop: a delivered change counts only once the ERP's own data shows it.

Pure functions over the outbox (``OutboxStore.frame()``) and what the next ERP load shows; the
asset reads both and records the result. Acknowledgements say the target *received* a change;
confirmation says the ERP *holds* it, read back through the normal landing of an ERP export.
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd

from orchestration.defs.quality.store import EXCEPTION_COLUMNS
from orchestration.defs.writeback.changes import visible_value
from orchestration.defs.writeback.outbox import DELIVERED

_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


def _shown(expected: str, observed: object) -> bool:
    """Does an observed cell show the expected visible value? Booleans in any of the usual
    spellings (NetSuite exports checkboxes as T/F); everything else as trimmed text."""
    if observed is None or (not isinstance(observed, str) and pd.isna(observed)):
        return False
    text = str(observed).strip()
    if expected in ("true", "false"):
        return (text.lower() in _TRUE) if expected == "true" else (text.lower() in _FALSE)
    return text == expected


def _latest_delivered(outbox: pd.DataFrame) -> pd.DataFrame:
    """Per target, entity and field, the newest delivered change: only it can still be on show
    (an older one was overwritten by it)."""
    delivered = outbox[outbox["status"].isin(DELIVERED)]
    newest = (
        outbox[outbox["status"].isin([*DELIVERED, "confirmed"])]
        .groupby(["target", "entity_key", "field"])["seq"]
        .max()
        .rename("newest_seq")
    )
    delivered = delivered.join(newest, on=["target", "entity_key", "field"])
    return delivered[delivered["seq"] == delivered["newest_seq"]]


def confirmed_keys(outbox: pd.DataFrame, observed: pd.DataFrame) -> list[str]:
    """Keys of delivered changes that the ERP now shows.

    ``observed`` is what the latest ERP load holds, either by key (column ``idempotency_key``:
    the ERP keeps Inflow's key as an external id) or by value (columns ``entity_key``, ``field``,
    ``value``, optionally ``target``). By value, a change is confirmed when it is the newest one
    delivered for its field and the ERP shows its visible value.
    """
    if outbox.empty or observed.empty:
        return []
    delivered = outbox[outbox["status"].isin(DELIVERED)]
    keys: set[str] = set()
    if "idempotency_key" in observed.columns:
        keys |= set(delivered["idempotency_key"]) & set(observed["idempotency_key"].dropna().astype(str))
    if {"entity_key", "field", "value"} <= set(observed.columns):
        shown: dict[tuple[str, str], list[tuple[str | None, object]]] = {}
        has_target = "target" in observed.columns
        for row in observed.to_dict("records"):
            shown.setdefault((str(row["entity_key"]), str(row["field"])), []).append(
                (str(row["target"]) if has_target else None, row["value"])
            )
        for row in _latest_delivered(outbox).itertuples(index=False):
            expected = visible_value(row.field, json.loads(row.value))
            if expected is None:
                continue
            if any(
                (target is None or target == row.target) and _shown(expected, value)
                for target, value in shown.get((row.entity_key, row.field), [])
            ):
                keys.add(row.idempotency_key)
    return sorted(keys)


def outbox_exceptions(
    outbox: pd.DataFrame, owners: dict[str, str], unconfirmed_after_days: int, now: dt.datetime, confirming: bool = True
) -> pd.DataFrame:
    """Changes that need a person, shaped like ``quality.exceptions`` (owner = the target's owner):

    - ``writeback_failed``: the target refused the change or it ran out of attempts;
    - ``writeback_unconfirmed``: delivered more than ``unconfirmed_after_days`` ago and still not
      shown by the ERP, unless a newer change of the same field has since been confirmed. Only
      when ``confirming`` (an ERP observation is configured): without one nothing can be
      confirmed, and every change would turn into an exception.
    """
    if outbox.empty:
        return pd.DataFrame(columns=list(EXCEPTION_COLUMNS))
    cutoff = now - dt.timedelta(days=unconfirmed_after_days)
    confirmed_seq = (
        outbox[outbox["status"] == "confirmed"]
        .groupby(["target", "entity_key", "field"])["seq"]
        .max()
        .rename("confirmed_seq")
    )
    frame = outbox.join(confirmed_seq, on=["target", "entity_key", "field"])
    sent_at = pd.to_datetime(frame["sent_at"], utc=True, format="ISO8601")
    overdue = (
        frame["status"].isin(DELIVERED)
        & (sent_at <= pd.Timestamp(cutoff))
        & ~(frame["confirmed_seq"] > frame["seq"])
        & confirming
    )
    failed = frame["status"] == "failed"
    rows = []
    detected = now.astimezone(dt.UTC).replace(tzinfo=None)
    for row, rule in [
        *((r, "writeback_unconfirmed") for r in frame[overdue].itertuples(index=False)),
        *((r, "writeback_failed") for r in frame[failed].itertuples(index=False)),
    ]:
        if rule == "writeback_failed":
            detail = f"{row.kind} change to {row.target} failed after {row.attempts} attempt(s): {row.last_error}"
        else:
            detail = (
                f"{row.kind} change sent to {row.target} on {row.sent_at[:10]} is not shown by the ERP "
                f"after {unconfirmed_after_days} days"
            )
        rows.append(
            (
                "writeback",
                row.target,
                row.entity_type,
                row.batch_id or "",
                row.idempotency_key,
                row.seq,
                rule,
                row.field,
                detail,
                owners.get(row.target, "unknown"),
                row.value,
                detected,
            )
        )
    return pd.DataFrame(rows, columns=list(EXCEPTION_COLUMNS))
