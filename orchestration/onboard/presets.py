"""Presets: documented mappings of export shapes finance teams really have.

A preset names, for each canonical column, the header names its export uses (the first one found
in the file is mapped), the constants and value maps it needs, how its text is written (numbers
as floats, dates as yyyymmdd) and whether payments are derived from a paid or clearing date.
``inflow init --preset NAME`` resolves a preset against the files' real headers and writes the
table into ``inflow.yml``; the README lists every preset with its example header.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CURRENCY = "{currency}"
"""Placeholder in a preset's constants, replaced by ``inflow init --currency``."""


@dataclass(frozen=True)
class Preset:
    """One export shape mapped onto the canonical ``invoices`` entity (plus what it derives).

    ``headers``: canonical column -> header names the export may use (first found wins).
    ``specs``: canonical column -> extra column-spec keys (map, number_text, formats).
    ``constants``: canonical column -> constant value (``{currency}`` filled from --currency).
    ``paid_date``: header names of the paid/clearing date, when payments are derived from it.
    """

    name: str
    description: str
    example_header: tuple[str, ...]
    headers: dict[str, tuple[str, ...]]
    specs: dict[str, dict[str, Any]] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    paid_date: tuple[str, ...] = ()
    paid_date_spec: dict[str, Any] = field(default_factory=dict)
    paid_amount: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    credit_memo_sign: str = "negative"
    ignore_columns: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset(
            "invoice_with_paid_date",
            "An invoice list with the date each invoice was paid (IBM's 'Accounts Receivable' sample, many "
            "ERP 'invoice register' exports): invoices, and one payment per paid invoice on its paid date.",
            (
                "countryCode",
                "customerID",
                "PaperlessDate",
                "invoiceNumber",
                "InvoiceDate",
                "DueDate",
                "InvoiceAmount",
                "Disputed",
                "SettledDate",
                "PaperlessBill",
                "DaysToSettle",
                "DaysLate",
            ),
            headers={
                "document_id": ("invoiceNumber", "InvoiceNumber", "Invoice Number", "invoice_id", "Invoice"),
                "customer_id": ("customerID", "CustomerID", "Customer ID", "customer_id", "Customer"),
                "document_date": ("InvoiceDate", "Invoice Date", "invoice_date", "Date"),
                "due_date": ("DueDate", "Due Date", "due_date"),
                "amount": ("InvoiceAmount", "Invoice Amount", "Amount", "amount"),
                "currency": ("Currency", "currency", "Curr"),
            },
            constants={"document_type": "invoice", "currency": CURRENCY},
            paid_date=("SettledDate", "Settled Date", "PaidDate", "Paid Date", "paid_date", "Date Paid"),
            paid_amount=("PaidAmount", "Paid Amount", "paid_amount"),
            notes=("rows without a paid date are open invoices; every paid invoice derives one payment",),
        ),
        Preset(
            "sap_fbl5n",
            "SAP customer line items (transaction FBL5N, 'all items', exported to a spreadsheet/CSV): document "
            "type codes mapped, ids and yyyymmdd dates as the export writes them (often as floats), the "
            "clearing date derives the payments. The layout repeats the 'Text' header; both are ignored.",
            (
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
            ),
            headers={
                "document_id": ("Document Number", "DocumentNo", "Document No"),
                "customer_id": ("Account", "Customer"),
                "document_type": ("Document Type", "Type"),
                "document_date": ("Document Date", "Doc. Date"),
                "due_date": ("Net due date", "Net Due Date", "Net due dt"),
                "amount": ("Amount in doc. curr.", "Amount in DC", "Amount"),
                "currency": ("Document currency", "Curr.", "Currency"),
                "po_number": ("Assignment",),
            },
            specs={
                "document_id": {"number_text": True},
                "customer_id": {"number_text": True},
                "document_type": {"map": {"RV": "invoice", "DR": "debit_memo", "DG": "credit_memo"}},
                "document_date": {"number_text": True, "formats": ["%Y%m%d"]},
                "due_date": {"number_text": True, "formats": ["%Y%m%d"]},
            },
            paid_date=("Clearing date", "Clearing Date", "Clrng date"),
            paid_date_spec={"number_text": True, "formats": ["%Y%m%d"]},
            ignore_columns=("Text", "Clearing Document"),
            notes=(
                "payment lines (DZ) are not invoices: filter them out of the layout, or add them to the map "
                "and they are quarantined naming the code",
                "a cleared credit memo (DG) derives no payment; it stays as unapplied credit",
            ),
        ),
        Preset(
            "netsuite_saved_search",
            "A NetSuite transaction saved search of invoices and credit memos (Type, Document Number, Name, "
            "Date, Due Date, Currency, Amount, Amount Remaining, Date Closed), US dates.",
            (
                "Internal ID",
                "Type",
                "Document Number",
                "Name",
                "Date",
                "Due Date",
                "Currency",
                "Amount",
                "Amount Remaining",
                "Status",
                "Date Closed",
            ),
            headers={
                "document_id": ("Document Number", "Doc Number"),
                "customer_id": ("Name", "Customer", "Customer Internal ID"),
                "document_type": ("Type",),
                "document_date": ("Date", "Transaction Date"),
                "due_date": ("Due Date",),
                "amount": ("Amount", "Amount (Foreign Currency)"),
                "currency": ("Currency",),
                "external_open_amount": ("Amount Remaining",),
            },
            specs={"document_type": {"map": {"Invoice": "invoice", "Credit Memo": "credit_memo"}}},
            paid_date=("Date Closed", "Closed"),
            options={"thousands": ","},
        ),
        Preset(
            "quickbooks_ar_aging_detail",
            "QuickBooks 'A/R Aging Detail' report exported as CSV without its title rows: open items only, "
            "so it is a snapshot as of the report date (run Inflow as of that date).",
            ("Date", "Transaction Type", "Num", "Customer", "Due Date", "Amount", "Open Balance"),
            headers={
                "document_id": ("Num", "No."),
                "customer_id": ("Customer", "Name"),
                "document_type": ("Transaction Type", "Type"),
                "document_date": ("Date",),
                "due_date": ("Due Date",),
                "amount": ("Open Balance", "Balance"),
                "external_open_amount": ("Open Balance",),
            },
            specs={"document_type": {"map": {"Invoice": "invoice", "Credit Memo": "credit_memo"}}},
            constants={"currency": CURRENCY},
            options={"thousands": ","},
            notes=("an aging report lists only what is open: amount is the open balance on the report date",),
        ),
        Preset(
            "xero_invoices",
            "Xero's Invoices export (Business > Invoices > Export): receivable invoices (ACCREC) and credit "
            "notes (ACCRECCREDIT); a fully paid invoice derives one payment on FullyPaidOnDate.",
            (
                "ContactName",
                "InvoiceNumber",
                "Reference",
                "InvoiceDate",
                "DueDate",
                "Total",
                "TaxTotal",
                "InvoiceAmountPaid",
                "InvoiceAmountDue",
                "Currency",
                "Type",
                "Status",
                "FullyPaidOnDate",
            ),
            headers={
                "document_id": ("InvoiceNumber",),
                "customer_id": ("ContactName", "ContactID"),
                "document_type": ("Type",),
                "document_date": ("InvoiceDate",),
                "due_date": ("DueDate",),
                "amount": ("Total",),
                "tax_amount": ("TaxTotal",),
                "currency": ("Currency",),
                "external_open_amount": ("InvoiceAmountDue",),
                "po_number": ("Reference",),
            },
            specs={"document_type": {"map": {"ACCREC": "invoice", "ACCRECCREDIT": "credit_memo"}}},
            paid_date=("FullyPaidOnDate",),
            credit_memo_sign="positive",
        ),
    ]
}


def preset(name: str) -> Preset:
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    return PRESETS[name]
