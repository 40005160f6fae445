"""Defects real exports have, injected into otherwise clean exports and logged row by row.

With a defect rate R each applicable row of an ERP document export is defective with
probability R (one defect per row, the kind drawn uniformly among the kinds that apply to it);
payment exports get identifier defects at the same rate and the CRM hierarchy gets parent-account
cycles. So that every kind is exercised even in a small company, each kind not yet injected is
forced once into the first file that has a row it applies to. Nothing is injected at R = 0.

Every defect is written to ``defects.csv`` (file, 1-based data row, column, defect) so tests and
quality gates can check each one is caught. Defects never change the ledger itself: the clean
rows of a company are the same whatever the rate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from seeds.calendar import SECONDS_PER_DAY
from seeds.ledger import CREDIT_MEMO, DAY_START, INVOICE
from seeds.textio import (
    Columns,
    CsvSink,
    constant_text,
    date_text,
    money_text,
    money_text_eu,
    take_rows,
    timestamp_text,
)

DUPLICATE_ROW = "duplicate_row"
CONFLICTING_DUPLICATE = "conflicting_duplicate"
LEADING_ZEROS = "leading_zeros"
DATE_FORMAT = "date_format"
EUROPEAN_DECIMAL = "european_decimal"
NEGATIVE_AMOUNT = "negative_amount"
CREDIT_MEMO_WRONG_SIGN = "credit_memo_wrong_sign"
UNKNOWN_CURRENCY = "unknown_currency"
UNKNOWN_CUSTOMER = "unknown_customer"
STRAY_WHITESPACE = "stray_whitespace"
HIERARCHY_CYCLE = "hierarchy_cycle"

DOCUMENT_DEFECTS = (
    DUPLICATE_ROW,
    CONFLICTING_DUPLICATE,
    LEADING_ZEROS,
    DATE_FORMAT,
    EUROPEAN_DECIMAL,
    NEGATIVE_AMOUNT,
    CREDIT_MEMO_WRONG_SIGN,
    UNKNOWN_CURRENCY,
    UNKNOWN_CUSTOMER,
    STRAY_WHITESPACE,
)
PAYMENT_DEFECTS = (LEADING_ZEROS, STRAY_WHITESPACE)
DEFECT_KINDS = DOCUMENT_DEFECTS + (HIERARCHY_CYCLE,)
#: Non-ISO date formats a defect may use. Day-first is always unambiguous to a reader that tries
#: ISO, then day-first, then month-first; month-first is only written when the day exceeds 12.
DAY_FIRST, MONTH_FIRST = "%d/%m/%Y", "%m/%d/%Y"
UNKNOWN_CURRENCIES = ("XXX", "US$")
LOG_HEADER = ["file", "row_number", "column", "defect"]
#: Time of day of a stale document version: an hour before the office hours real versions are
#: stamped in, so it is always older than the version that replaced it.
STALE_VERSION_TIME = DAY_START - 3600


@dataclass(frozen=True)
class DocumentFacts:
    """The values behind one document export, in its row order, that defects are derived from."""

    doc_type: np.ndarray
    amount: np.ndarray  # cents
    day: np.ndarray
    due_day: np.ndarray  # -1 when empty
    last_modified: np.ndarray  # epoch seconds


class DefectInjector:
    """Applies defects at a fixed rate and records each in ``defects.csv``."""

    def __init__(self, rate: float, log_path: Path):
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"defect rate must be in [0, 1), got {rate}")
        self.rate = rate
        self._log = CsvSink(log_path, LOG_HEADER)
        self._pending = set(DEFECT_KINDS) if rate > 0 else set()
        self.counts: dict[str, int] = dict.fromkeys(DEFECT_KINDS, 0)
        self.date_formats: set[str] = set()

    def close(self) -> None:
        self._log.close()

    def _record(self, file: str, rows: np.ndarray, columns: list[str], kinds: list[str]) -> None:
        if not len(rows):
            return
        order = np.argsort(rows, kind="stable")
        self._log.write(
            {
                "file": pa.array([file] * len(rows), pa.string()),
                "row_number": pa.array(np.asarray(rows)[order]).cast(pa.string()),
                "column": pa.array(np.asarray(columns, dtype=object)[order], pa.string()),
                "defect": pa.array(np.asarray(kinds, dtype=object)[order], pa.string()),
            }
        )
        for kind in kinds:
            self.counts[kind] += 1
            self._pending.discard(kind)

    def _choose(self, rng: np.random.Generator, kinds: tuple[str, ...], applies: np.ndarray) -> np.ndarray:
        """Defect kind index per row (-1 for clean rows). ``applies`` is kinds x rows."""
        n = applies.shape[1]
        chosen = np.full(n, -1)
        if self.rate == 0 or n == 0:
            return chosen
        defective = (rng.random(n) < self.rate) & applies.any(axis=0)
        pick = (rng.random(n) * applies.sum(axis=0)).astype(np.int64)
        kind = np.argmax(np.cumsum(applies, axis=0) > pick, axis=0)
        chosen[defective] = kind[defective]
        for k, name in enumerate(kinds):
            if name in self._pending and not (chosen == k).any():
                free = np.flatnonzero(applies[k] & (chosen < 0))
                if len(free):
                    chosen[rng.choice(free)] = k
        return chosen

    def documents(self, rng: np.random.Generator, file: str, table: Columns, facts: DocumentFacts) -> Columns:
        """Defects of an ERP document export (invoices, credit and debit memos)."""
        n = len(facts.doc_type)
        applies = np.ones((len(DOCUMENT_DEFECTS), n), dtype=bool)
        applies[DOCUMENT_DEFECTS.index(NEGATIVE_AMOUNT)] = facts.doc_type == INVOICE
        applies[DOCUMENT_DEFECTS.index(CREDIT_MEMO_WRONG_SIGN)] = facts.doc_type == CREDIT_MEMO
        chosen = self._choose(rng, DOCUMENT_DEFECTS, applies)
        if not (chosen >= 0).any():
            return table

        def rows_of(kind: str) -> np.ndarray:
            return np.flatnonzero(chosen == DOCUMENT_DEFECTS.index(kind))

        edits = _Edits(table)
        _edit_identifiers(rng, edits, table, rows_of)
        _edit_amounts(edits, facts, rows_of)
        self.date_formats |= _edit_dates(rng, edits, facts, rows_of(DATE_FORMAT))
        duplicates, stale = rows_of(DUPLICATE_ROW), rows_of(CONFLICTING_DUPLICATE)
        table, position = _insert_copies(rng, edits.apply(), facts, duplicates, stale)
        edited = np.array(edits.logged_rows, dtype=np.int64)
        self._record(
            file,
            np.concatenate([position[edited] + 1, position[n:] + 1]),
            edits.logged_columns + [""] * len(duplicates) + ["Amount"] * len(stale),
            edits.logged_kinds + [DUPLICATE_ROW] * len(duplicates) + [CONFLICTING_DUPLICATE] * len(stale),
        )
        return table

    def payments(self, rng: np.random.Generator, file: str, table: Columns) -> Columns:
        """Customer-number defects of a payment export: leading zeros and stray whitespace."""
        n = len(table["CustNo"])
        chosen = self._choose(rng, PAYMENT_DEFECTS, np.ones((len(PAYMENT_DEFECTS), n), dtype=bool))
        zeros, spaces = np.flatnonzero(chosen == 0), np.flatnonzero(chosen == 1)
        if not len(zeros) + len(spaces):
            return table
        edits = _Edits(table)
        edits.set("CustNo", zeros, _with_leading_zeros(table["CustNo"].take(pa.array(zeros))), LEADING_ZEROS)
        edits.set("CustNo", spaces, _pad(rng, table["CustNo"].take(pa.array(spaces))), STRAY_WHITESPACE)
        self._record(file, np.array(edits.logged_rows) + 1, edits.logged_columns, edits.logged_kinds)
        return edits.apply()

    def hierarchy(self, rng: np.random.Generator, file: str, column: str, parent: np.ndarray) -> np.ndarray:
        """Close A -> B -> A loops in a parent hierarchy: a top-level parent A gets one of its
        own children B as parent. Returns the new parent index array (-1 for none)."""
        roots = np.flatnonzero(parent < 0)
        roots = roots[np.isin(roots, parent)]  # top-level parents that have children
        if self.rate == 0 or not len(roots):
            return parent
        count = int(rng.binomial(len(roots), self.rate))
        count = max(count, 1 if HIERARCHY_CYCLE in self._pending else 0)
        chosen = np.sort(rng.choice(roots, min(count, len(roots)), replace=False))
        out = parent.copy()
        for root in chosen:
            out[root] = rng.choice(np.flatnonzero(parent == root))
        self._record(file, chosen + 1, [column] * len(chosen), [HIERARCHY_CYCLE] * len(chosen))
        return out


class _Edits:
    """Cell replacements collected per column, applied in one pass per column, and the log
    entry (row, column, defect) of each."""

    def __init__(self, table: Columns):
        self._table = table
        self._rows: dict[str, list[np.ndarray]] = {}
        self._values: dict[str, list[pa.Array]] = {}
        self.logged_rows: list[int] = []
        self.logged_columns: list[str] = []
        self.logged_kinds: list[str] = []

    def set(self, column: str, rows: np.ndarray, values: pa.Array, kind: str) -> None:
        if len(rows):
            self._rows.setdefault(column, []).append(np.asarray(rows))
            self._values.setdefault(column, []).append(values)
            self.logged_rows.extend(int(r) for r in rows)
            self.logged_columns.extend([column] * len(rows))
            self.logged_kinds.extend([kind] * len(rows))

    def apply(self) -> Columns:
        out = dict(self._table)
        for column, parts in self._rows.items():
            rows = np.concatenate(parts)
            values = pa.concat_arrays([v.cast(pa.string()) for v in self._values[column]])
            order = np.argsort(rows, kind="stable")
            mask = np.zeros(len(out[column]), dtype=bool)
            mask[rows] = True
            out[column] = pc.replace_with_mask(out[column], pa.array(mask), values.take(pa.array(order)))
        return out


def _edit_identifiers(
    rng: np.random.Generator, edits: _Edits, table: Columns, rows_of: Callable[[str], np.ndarray]
) -> None:
    """Customer numbers with leading zeros or unknown to the master, unknown currency codes,
    stray whitespace around customer numbers, currency codes and document types."""
    rows = rows_of(LEADING_ZEROS)
    edits.set("CustNo", rows, _with_leading_zeros(table["CustNo"].take(pa.array(rows))), LEADING_ZEROS)
    rows = rows_of(UNKNOWN_CUSTOMER)
    unknown = pa.array(rng.integers(90_000_000, 100_000_000, len(rows))).cast(pa.string())
    edits.set("CustNo", rows, unknown, UNKNOWN_CUSTOMER)
    rows = rows_of(UNKNOWN_CURRENCY)
    codes = pa.array(np.array(UNKNOWN_CURRENCIES)[rng.integers(0, len(UNKNOWN_CURRENCIES), len(rows))], pa.string())
    edits.set("Curr", rows, codes, UNKNOWN_CURRENCY)
    rows = rows_of(STRAY_WHITESPACE)
    columns = np.array(["CustNo", "Curr", "DocType"])[rng.integers(0, 3, len(rows))]
    for column in ("CustNo", "Curr", "DocType"):
        sel = rows[columns == column]
        edits.set(column, sel, _pad(rng, table[column].take(pa.array(sel))), STRAY_WHITESPACE)


def _edit_amounts(edits: _Edits, facts: DocumentFacts, rows_of: Callable[[str], np.ndarray]) -> None:
    """European decimals in a US file, negative invoices, credit memos with the wrong sign."""
    rows = rows_of(EUROPEAN_DECIMAL)
    edits.set("Amount", rows, money_text_eu(facts.amount[rows]), EUROPEAN_DECIMAL)
    for kind in (NEGATIVE_AMOUNT, CREDIT_MEMO_WRONG_SIGN):
        rows = rows_of(kind)
        edits.set("Amount", rows, money_text(-facts.amount[rows]), kind)


def _edit_dates(rng: np.random.Generator, edits: _Edits, facts: DocumentFacts, rows: np.ndarray) -> set[str]:
    """Document or due dates written day-first, as a European branch's export writes them. One
    order only: a column mixing day-first and month-first has no order a reader can trust (landing
    rejects it as date_order_mismatch). Returns the formats used."""
    use_due = (facts.due_day[rows] >= 0) & (rng.random(len(rows)) < 0.4)
    days = np.where(use_due, facts.due_day[rows], facts.day[rows])
    rng.random(len(rows))  # the draw that once chose month-first; kept so every later defect stays put
    used = set()
    for column, in_column in (("DocDate", ~use_due), ("DueDate", use_due)):
        if in_column.any():
            edits.set(column, rows[in_column], date_text(days[in_column], DAY_FIRST), DATE_FORMAT)
            used.add(DAY_FIRST)
    return used


def _with_leading_zeros(values: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise("00", values, "")


def _day_of_month(days: np.ndarray) -> np.ndarray:
    dates = days.astype("datetime64[D]")
    return (dates - dates.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1


def _pad(rng: np.random.Generator, values: pa.Array) -> pa.Array:
    """Stray whitespace: a leading space, a trailing space, or both."""
    variant = rng.integers(0, 3, len(values))
    left = pa.array(np.where(variant != 1, " ", ""), pa.string())
    right = pa.array(np.where(variant != 0, " ", ""), pa.string())
    return pc.binary_join_element_wise(left, values, right, "")


def _insert_copies(
    rng: np.random.Generator, table: Columns, facts: DocumentFacts, duplicates: np.ndarray, stale_rows: np.ndarray
) -> tuple[Columns, np.ndarray]:
    """Insert a copy right after each row of ``duplicates`` (exact) and of ``stale_rows`` (an older
    version). The older version is the document as first issued, before a correction re-priced
    it: another amount, nothing settled yet (open, open amount = amount) and a ``LastModified``
    early on the issue date, before any later change — so the latest version must win, not the
    last row.

    Returns the new table and, for every original row then every copy, its new 0-based position.
    """
    n = len(facts.doc_type)
    rows = np.concatenate([duplicates, stale_rows])
    stale = np.arange(len(rows)) >= len(duplicates)
    copies = take_rows(table, rows)
    if stale.any():
        sel = rows[stale]
        older = np.round(facts.amount[sel] * rng.uniform(0.8, 1.2, len(sel))).astype(np.int64)
        older = np.where(older == facts.amount[sel], facts.amount[sel] + 100, older)
        mask = pa.array(stale)
        copies["Amount"] = pc.replace_with_mask(copies["Amount"], mask, money_text(older))
        copies["OpenAmount"] = pc.replace_with_mask(copies["OpenAmount"], mask, money_text(older))
        copies["Status"] = pc.replace_with_mask(copies["Status"], mask, constant_text("open", len(sel)))
        issued = facts.day[sel].astype(np.int64) * SECONDS_PER_DAY + STALE_VERSION_TIME
        copies["LastModified"] = pc.replace_with_mask(copies["LastModified"], mask, timestamp_text(issued))
    keys = np.concatenate([2 * np.arange(n), 2 * rows + 1])
    order = np.argsort(keys, kind="stable")
    position = np.empty(len(keys), dtype=np.int64)
    position[order] = np.arange(len(keys))
    combined = {c: pa.concat_arrays([table[c], copies[c]]) for c in table}
    return take_rows(combined, order), position
