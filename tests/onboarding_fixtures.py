"""An SAP FBL5N-shaped customer line-item export of our own, with the quirks real dumps have, and
the figures it must produce, computed here independently of Inflow.

Quirks: customer and document numbers written as floats (``1928000000.0``), dates as ``yyyymmdd``
(some as ``yyyymmdd.0``), document type codes (RV invoice, DR debit memo, DG credit memo), the
``Text`` header repeated, and a clearing date on every cleared item.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

FBL5N_HEADER = [
    "Account",
    "Assignment",
    "Document Number",
    "Document Type",
    "Document Date",
    "Net due date",
    "Clearing date",
    "Clearing Document",
    "Amount in doc. curr.",
    "Document currency",
    "Text",
    "Text",
]


@dataclass(frozen=True)
class Item:
    account: int
    number: int
    doc_type: str
    doc_date: dt.date
    due_date: dt.date
    cleared: dt.date | None
    amount: Decimal
    currency: str


def sap_date(day: dt.date, as_float: bool) -> str:
    text = day.strftime("%Y%m%d")
    return text + ".0" if as_float else text


def fbl5n_items(seed: int = 5, count: int = 400, start: dt.date = dt.date(2025, 1, 1)) -> list[Item]:
    """Line items over about a year: invoices, some debit memos, some (never cleared) credit memos."""
    rng = random.Random(seed)
    items = []
    for i in range(count):
        doc_type = rng.choices(["RV", "DR", "DG"], weights=[85, 5, 10])[0]
        doc_date = start + dt.timedelta(days=rng.randrange(365))
        due = doc_date + dt.timedelta(days=rng.choice([14, 30, 45]))
        amount = Decimal(rng.randrange(5_000, 900_000)) / 100
        cleared = None
        if doc_type != "DG" and rng.random() < 0.8:
            cleared = doc_date + dt.timedelta(days=rng.randrange(5, 90))
        if doc_type == "DG":
            amount = -amount
        items.append(
            Item(1928000000 + rng.randrange(25), 1800000000 + i, doc_type, doc_date, due, cleared, amount, "EUR")
        )
    return items


def write_fbl5n(path: Path, items: list[Item], seed: int = 6) -> Path:
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(FBL5N_HEADER)
        for it in items:
            out.writerow(
                [
                    f"{it.account}.0",
                    f"PO-{it.number % 9973}",
                    f"{it.number}.0",
                    it.doc_type,
                    sap_date(it.doc_date, rng.random() < 0.3),
                    sap_date(it.due_date, rng.random() < 0.3),
                    sap_date(it.cleared, rng.random() < 0.3) if it.cleared else "",
                    f"{it.number + 100000000}.0" if it.cleared else "",
                    f"{it.amount:.2f}",
                    it.currency,
                    "Customer line item",
                    f"Ref {it.number}",
                ]
            )
    return path


def open_figures(items: list[Item], as_of: dt.date) -> tuple[int, Decimal]:
    """Open invoices and debit memos as of a date (issued by then, not cleared by then): count and amount."""
    open_items = [
        it
        for it in items
        if it.doc_type in ("RV", "DR") and it.doc_date <= as_of and (it.cleared is None or it.cleared > as_of)
    ]
    return len(open_items), sum((it.amount for it in open_items), Decimal("0"))
