"""The collections workflow tool: activities, promises to pay and disputes, kept in SQLite.

The ledger decides when collectors act (reminders after the due date, calls, escalations,
disputes, promises and whether they were kept); this module only stores those facts the way a
workflow tool's database would: its own table and column names, amounts as integer cents and
timestamps as ISO text. The configuration reads each table with a SELECT.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from seeds.calendar import SECONDS_PER_DAY
from seeds.records import Records
from seeds.textio import choice_text, date_text, id_text, timestamp_text

ACTIVITY_KINDS = ("note", "call", "email", "stage_change")
#: (activity kind, text before the document id); promise texts also carry the promised date.
ACTIVITY_TEMPLATES = (
    (2, "Payment reminder sent for "),
    (1, "Called accounts payable about overdue "),
    (3, "Escalated to collections level 2: "),
    (3, "Final demand issued for "),
    (0, "Customer disputes "),
    (1, "Promise to pay recorded for "),
)
REMINDER, CALL, ESCALATION, FINAL_DEMAND, DISPUTE_NOTE, PROMISE_NOTE = range(6)
DISPUTE_REASONS = (
    "pricing",
    "quantity",
    "damaged_goods",
    "not_received",
    "duplicate_billing",
    "service_quality",
)
DISPUTE_RESOLUTIONS = ("credit_issued", "rejected", "withdrawn")
CREDIT_ISSUED = 0
PROMISE_STATUSES = ("open", "kept", "broken")

#: Table definitions of the workflow database (the tool's names, not canonical ones).
SCHEMA = (
    """create table activities (
        activity_no text not null, cust_no text not null, doc_no text, activity_on text not null,
        activity_type text not null, body text, created_by text)""",
    """create table promises (
        ptp_no text not null, cust_no text not null, doc_no text, promise_date text not null,
        amount_cents integer not null, currency text, created_at text not null, ptp_status text)""",
    """create table disputes (
        case_no text not null, doc_no text not null, opened_at text not null,
        disputed_cents integer, reason_code text, resolved_at text, resolution text)""",
)
#: The SELECT the configuration uses for each table: canonical shapes, amounts back to decimals.
QUERIES = {
    "activities": "select activity_no, cust_no, doc_no, activity_on, activity_type, body, created_by from activities",
    "promises": "select ptp_no, cust_no, doc_no, promise_date, "
    "printf('%.2f', amount_cents / 100.0) as promised_amount, created_at, ptp_status from promises",
    "disputes": "select case_no, doc_no, opened_at, printf('%.2f', disputed_cents / 100.0) as disputed_amount, "
    "reason_code, resolved_at, resolution from disputes",
}


R = TypeVar("R", bound=Records)


@dataclass(frozen=True)
class Activities(Records):
    customer: np.ndarray
    doc_type: np.ndarray
    doc_number: np.ndarray
    day: np.ndarray
    template: np.ndarray  # index into ACTIVITY_TEMPLATES
    promised_day: np.ndarray  # for promise notes, else -1


@dataclass(frozen=True)
class Promises(Records):
    customer: np.ndarray
    doc_type: np.ndarray
    doc_number: np.ndarray
    promised_day: np.ndarray
    amount: np.ndarray
    created: np.ndarray  # epoch seconds
    status: np.ndarray  # index into PROMISE_STATUSES


@dataclass(frozen=True)
class Disputes(Records):
    doc_type: np.ndarray
    doc_number: np.ndarray
    opened: np.ndarray  # epoch seconds
    amount: np.ndarray
    reason: np.ndarray
    resolved: np.ndarray  # epoch seconds, -1 while open at the as-of date
    resolution: np.ndarray  # index into DISPUTE_RESOLUTIONS, -1 while open


class WorkflowDatabase:
    """Append-only writer of the workflow SQLite file; ids are sequential per table."""

    def __init__(
        self,
        path: Path,
        customer_ids: pa.Array,
        currencies: np.ndarray,
        collectors: np.ndarray,
        doc_id: Callable[[np.ndarray, np.ndarray], pa.Array],
        as_of: int | None = None,
    ):
        """``customer_ids``, ``currencies`` and ``collectors`` are per customer index; ``doc_id``
        renders (document type, number) as the ERP's document number. Records dated after
        ``as_of`` (a day number; None keeps all) are numbered but not stored, so a company cut
        at an earlier as-of date has the same ids as the same company cut later."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        self._con = sqlite3.connect(path)
        self._con.execute("pragma journal_mode = off")
        self._con.execute("pragma synchronous = off")
        for ddl in SCHEMA:
            self._con.execute(ddl)
        self._customer_ids = customer_ids
        self._currencies = currencies
        self._collectors = collectors
        self._doc_id = doc_id
        self._as_of = as_of
        self.rows = {"activities": 0, "promises": 0, "disputes": 0}
        self._numbered = dict(self.rows)

    def _number(self, table: str, records: R, day: np.ndarray) -> tuple[R, np.ndarray]:
        """Number ``records`` (``day``: each one's day number), then drop those after the as-of
        date: the numbers of the rows kept do not depend on the as-of date."""
        numbers = np.arange(self._numbered[table] + 1, self._numbered[table] + len(records) + 1)
        self._numbered[table] += len(records)
        if self._as_of is not None:
            keep = day <= self._as_of
            records, numbers = records.subset(keep), numbers[keep]
        self.rows[table] += len(records)
        return records, numbers

    def _insert(self, table: str, columns: list[pa.Array]) -> None:
        placeholders = ", ".join("?" * len(columns))
        rows = zip(*(col.to_pylist() for col in columns), strict=True)
        self._con.executemany(f"insert into {table} values ({placeholders})", rows)  # noqa: S608 (table names are the generator's constants)

    def add(self, activities: Activities, promises: Promises, disputes: Disputes) -> None:
        """Store the workflow facts of one month's documents."""
        activities, numbers = self._number("activities", activities, activities.day)
        if len(activities):
            self._insert_activities(activities, id_text("ACT-", numbers, 9))
        promises, numbers = self._number("promises", promises, promises.created // SECONDS_PER_DAY)
        if len(promises):
            self._insert(
                "promises",
                [
                    id_text("PTP-", numbers, 9),
                    self._customer_ids.take(pa.array(promises.customer)),
                    self._doc_id(promises.doc_type, promises.doc_number),
                    date_text(promises.promised_day),
                    pa.array(promises.amount),
                    pa.array(self._currencies[promises.customer], pa.string()),
                    timestamp_text(promises.created),
                    choice_text(PROMISE_STATUSES, promises.status),
                ],
            )
        disputes, numbers = self._number("disputes", disputes, disputes.opened // SECONDS_PER_DAY)
        if len(disputes):
            open_ = disputes.resolved < 0
            self._insert(
                "disputes",
                [
                    id_text("DSP-", numbers, 9),
                    self._doc_id(disputes.doc_type, disputes.doc_number),
                    timestamp_text(disputes.opened),
                    pa.array(disputes.amount),
                    choice_text(DISPUTE_REASONS, disputes.reason),
                    _null_where(timestamp_text(np.maximum(disputes.resolved, 0)), open_),
                    _null_where(choice_text(DISPUTE_RESOLUTIONS, np.maximum(disputes.resolution, 0)), open_),
                ],
            )

    def _insert_activities(self, acts: Activities, ids: pa.Array) -> None:
        kinds = np.array([k for k, _ in ACTIVITY_TEMPLATES])[acts.template]
        doc = self._doc_id(acts.doc_type, acts.doc_number)
        body = pc.binary_join_element_wise(choice_text(tuple(t for _, t in ACTIVITY_TEMPLATES), acts.template), doc, "")
        promised = acts.promised_day >= 0
        if promised.any():
            by = pc.binary_join_element_wise(" by ", date_text(np.where(promised, acts.promised_day, -1)), "")
            body = pc.binary_join_element_wise(body, pc.if_else(pa.array(promised), by, ""), "")
        self._insert(
            "activities",
            [
                ids,
                self._customer_ids.take(pa.array(acts.customer)),
                doc,
                date_text(acts.day),
                choice_text(ACTIVITY_KINDS, kinds),
                body,
                pa.array(self._collectors[acts.customer], pa.string()),
            ],
        )

    def close(self) -> None:
        """Commit, then index the ids: one bulk index build is cheaper than indexed inserts."""
        for table, key in (("activities", "activity_no"), ("promises", "ptp_no"), ("disputes", "case_no")):
            self._con.execute(f"create unique index {table}_{key} on {table} ({key})")
        self._con.commit()
        self._con.close()


def _null_where(values: pa.Array, mask: np.ndarray) -> pa.Array:
    return pc.if_else(pa.array(mask), pa.scalar(None, pa.string()), values)
