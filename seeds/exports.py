"""How each source system exports its data: file layout, column names and text formats.

Each ``render_*`` function turns generator records into the columns of one export, named the
way that system names them (``DocNo``, ``Account ID``, ``charge_reference``...). The matching
``*_COLUMNS`` mapping (canonical column -> source column) is what ``inflow.yml`` declares, so a
renamed export column is changed in exactly one place.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from seeds.billing import PLAN_KINDS, Plans
from seeds.ledger import (
    DOC_TYPES,
    STATUSES,
    WRITE_OFF_REASONS,
    Applications,
    CreditMemos,
    Documents,
    Payments,
    WriteOffs,
)
from seeds.population import CURRENCIES, METHODS, TERMS, Population
from seeds.textio import (
    Columns,
    choice_text,
    constant_text,
    date_text,
    decimal_cents,
    id_text,
    money_text,
    money_text_eu,
    plain_id_text,
    timestamp_text,
)
from seeds.treasury import PAYOUT, RECEIPT, BankLines, SettlementLines

DOC_PREFIXES = ("INV-", "CM-", "DM-")
ID_DIGITS = 8
BANK_DATE_FORMAT = "%d.%m.%Y"

CUSTOMER_COLUMNS = {
    "customer_id": "CustNo",
    "name": "CustName",
    "country": "Country",
    "currency": "Curr",
    "payment_terms": "PayTerms",
    "credit_limit": "CreditLimit",
    "erp_parent_id": "ParentCustNo",
    "updated_at": "LastModified",
}
INVOICE_COLUMNS = {
    "document_id": "DocNo",
    "customer_id": "CustNo",
    "document_type": "DocType",
    "document_date": "DocDate",
    "due_date": "DueDate",
    "currency": "Curr",
    "amount": "Amount",
    "tax_amount": "TaxAmount",
    "status": "Status",
    "po_number": "PONo",
    "external_open_amount": "OpenAmount",
    "updated_at": "LastModified",
}
PAYMENT_COLUMNS = {
    "payment_id": "PmtNo",
    "customer_id": "CustNo",
    "payment_date": "PmtDate",
    "currency": "Curr",
    "amount": "Amount",
    "method": "Method",
    "reference": "Reference",
}
APPLICATION_COLUMNS = {
    "payment_id": "PmtNo",
    "document_id": "DocNo",
    "applied_amount": "AmtApplied",
    "applied_date": "ApplyDate",
}
WRITE_OFF_COLUMNS = {"document_id": "DocNo", "amount": "WOAmount", "write_off_date": "WODate", "reason": "ReasonCode"}
FX_COLUMNS = {"rate_date": "RateDate", "currency": "Curr", "rate_to_reporting": "RateToUSD"}
ACCOUNT_COLUMNS = {
    "account_id": "Account ID",
    "customer_id": "ERP Customer No",
    "parent_account_id": "Parent Account ID",
    "owner": "Account Owner",
    "collector": "Collector",
    "segment": "Segment",
    "region": "Region",
}
CONTACT_COLUMNS = {
    "contact_id": "contactId",
    "account_id": "accountId",
    "name": "fullName",
    "email": "email",
    "phone": "phone",
    "role": "role",
}
PLAN_COLUMNS = {
    "plan_id": "plan_ref",
    "customer_id": "customer_number",
    "expected_invoice_date": "expected_invoice_date",
    "currency": "currency",
    "amount": "amount",
    "kind": "plan_kind",
    "subscription_id": "subscription_ref",
}
SETTLEMENT_COLUMNS = {
    "line_id": "id",
    "value_date": "created",
    "currency": "currency",
    "amount": "amount",
    "reference": "charge_reference",
    "counterparty": "customer_name",
    "fee": "fee",
    "payout_id": "payout_id",
}
#: Column order of the files written in chunks (the CSV writer checks each chunk against it).
SETTLEMENT_HEADER = [
    "id",
    "created",
    "currency",
    "amount",
    "fee",
    "net",
    "description",
    "customer_name",
    "charge_reference",
    "payout_id",
]
BANK_HEADER = ["LineId", "BookingDate", "ValueDate", "Amount", "Currency", "Counterparty", "RemittanceInfo", "BatchRef"]
BANK_COLUMNS = {
    "line_id": "LineId",
    "value_date": "ValueDate",
    "currency": "Currency",
    "amount": "Amount",
    "reference": "RemittanceInfo",
    "counterparty": "Counterparty",
    "payout_id": "BatchRef",
}
ACTIVITY_COLUMNS = {
    "activity_id": "activity_no",
    "customer_id": "cust_no",
    "document_id": "doc_no",
    "activity_date": "activity_on",
    "kind": "activity_type",
    "text": "body",
    "author": "created_by",
}
PROMISE_COLUMNS = {
    "promise_id": "ptp_no",
    "customer_id": "cust_no",
    "document_id": "doc_no",
    "promised_date": "promise_date",
    "promised_amount": "promised_amount",
    "created_at": "created_at",
    "status": "ptp_status",
}
DISPUTE_COLUMNS = {
    "dispute_id": "case_no",
    "document_id": "doc_no",
    "opened_at": "opened_at",
    "amount": "disputed_amount",
    "reason": "reason_code",
    "resolved_at": "resolved_at",
    "resolution": "resolution",
}


def doc_id(doc_type: np.ndarray, number: np.ndarray) -> pa.Array:
    """ERP document numbers: a type prefix and a per-type running number (``INV-00001234``)."""
    digits = pc.utf8_lpad(pa.array(np.asarray(number, dtype=np.int64)).cast(pa.string()), ID_DIGITS, "0")
    return pc.binary_join_element_wise(choice_text(DOC_PREFIXES, doc_type), digits, "")


def payment_id(number: np.ndarray) -> pa.Array:
    return id_text("PAY-", number, 9)


def customer_id(pop: Population, index: np.ndarray) -> pa.Array:
    return plain_id_text(pop.number[index])


def currency_text(pop: Population, index: np.ndarray) -> pa.Array:
    return choice_text(CURRENCIES, pop.currency[index])


def render_customers(pop: Population, updated: np.ndarray) -> Columns:
    idx = np.arange(len(pop))
    has_parent = pop.erp_parent >= 0
    parent = pc.if_else(pa.array(has_parent), customer_id(pop, np.maximum(pop.erp_parent, 0)), "")
    return {
        "CustNo": customer_id(pop, idx),
        "CustName": pa.array(pop.name, pa.string()),
        "Country": pa.array(pop.country, pa.string()),
        "Curr": currency_text(pop, idx),
        "PayTerms": choice_text(TERMS, pop.terms),
        "CreditLimit": money_text(pop.credit_limit),
        "ParentCustNo": parent,
        "CustGroup": pc.if_else(pa.array(pop.region == 0), "DOM", "EXP"),
        "LastModified": timestamp_text(updated),
    }


def render_documents(
    pop: Population,
    docs: Documents,
    open_amount: np.ndarray,
    status: np.ndarray,
    last_modified: np.ndarray,
    credits: CreditMemos,
    credit_modified: np.ndarray,
) -> Columns:
    """One month's ERP document export: issued invoices and debit memos, then credit memos.

    Credit memos are exported with a positive amount (and tax and open amount), as this ERP
    does; the configuration declares ``credit_memo_sign: positive``.
    """
    n_cm = len(credits)
    po = pc.if_else(pa.array(docs.po_number >= 0), id_text("PO-", np.maximum(docs.po_number, 0), 6), "")
    cm_status = np.where(credits.open_amount > 0, STATUSES.index("open"), STATUSES.index("closed"))
    return {
        "DocNo": pa.concat_arrays([doc_id(docs.doc_type, docs.number), doc_id(np.ones(n_cm, np.int8), credits.number)]),
        "CustNo": customer_id(pop, np.concatenate([docs.customer, credits.customer])),
        "DocType": choice_text(DOC_TYPES, np.concatenate([docs.doc_type, np.ones(n_cm, np.int8)])),
        "DocDate": date_text(np.concatenate([docs.day, credits.day])),
        "DueDate": date_text(np.concatenate([docs.due_day, np.full(n_cm, -1)])),
        "Curr": currency_text(pop, np.concatenate([docs.customer, credits.customer])),
        "Amount": money_text(np.concatenate([docs.amount, credits.amount])),
        "TaxAmount": money_text(np.concatenate([docs.tax, credits.tax])),
        "Status": choice_text(STATUSES, np.concatenate([status, cm_status])),
        "PONo": pa.concat_arrays([po, constant_text("", n_cm)]),
        "OpenAmount": money_text(np.concatenate([open_amount, credits.open_amount])),
        "LastModified": timestamp_text(np.concatenate([last_modified, credit_modified])),
    }


_REFERENCE_PREFIX = tuple({"check": "CHK", "card": "ch_"}.get(m, "RF") for m in METHODS)


def payment_reference(pop: Population, payments_customer: np.ndarray, number: np.ndarray) -> pa.Array:
    """The remittance reference the bank or processor shows for a payment (derived, stable)."""
    digits = (np.asarray(number, dtype=np.int64) * 2_654_435_761 + 97) % 10**10
    padded = pc.utf8_lpad(pa.array(digits).cast(pa.string()), 10, "0")
    return pc.binary_join_element_wise(choice_text(_REFERENCE_PREFIX, pop.method[payments_customer]), padded, "")


def render_payments(pop: Population, payments: Payments) -> Columns:
    return {
        "PmtNo": payment_id(payments.number),
        "CustNo": customer_id(pop, payments.customer),
        "PmtDate": date_text(payments.day),
        "Curr": currency_text(pop, payments.customer),
        "Amount": money_text(payments.amount),
        "Method": choice_text(tuple(m.upper() for m in METHODS), pop.method[payments.customer]),
        "Reference": payment_reference(pop, payments.customer, payments.number),
    }


def render_applications(apps: Applications) -> Columns:
    """A credit memo applied to a document appears with the credit memo's number as PmtNo."""
    is_credit = pa.array(apps.payer_type != 0)
    payer = pc.if_else(is_credit, doc_id(np.ones(len(apps), np.int8), apps.payer_number), payment_id(apps.payer_number))
    return {
        "PmtNo": payer,
        "DocNo": doc_id(apps.doc_type, apps.doc_number),
        "AmtApplied": money_text(apps.amount),
        "ApplyDate": date_text(apps.day),
    }


def render_write_offs(wo: WriteOffs) -> Columns:
    return {
        "DocNo": doc_id(wo.doc_type, wo.doc_number),
        "WOAmount": money_text(wo.amount),
        "WODate": date_text(wo.day),
        "ReasonCode": choice_text(WRITE_OFF_REASONS, wo.reason),
    }


def payout_id(payout_day: np.ndarray, currency: np.ndarray) -> pa.Array:
    lower = choice_text(tuple(c.lower() for c in CURRENCIES), currency)
    return pc.binary_join_element_wise("po", date_text(payout_day, "%Y%m%d"), lower, "_")


def render_settlements(pop: Population, lines: SettlementLines) -> Columns:
    """The card processor's export: lower-case currency codes, amounts gross with the fee."""
    return {
        "id": id_text("txn_", lines.payment_no, 10),
        "created": date_text(lines.day),
        "currency": choice_text(tuple(c.lower() for c in CURRENCIES), lines.currency),
        "amount": money_text(lines.amount),
        "fee": money_text(lines.fee),
        "net": money_text(lines.amount - lines.fee),
        "description": constant_text("Invoice payment", len(lines)),
        "customer_name": pa.array(pop.name[lines.customer], pa.string()),
        "charge_reference": payment_reference(pop, lines.customer, lines.payment_no),
        "payout_id": payout_id(lines.payout_day, lines.currency),
    }


def render_bank_lines(pop: Population, lines: BankLines, first_number: int) -> Columns:
    """A European bank statement export: ';' separated, '1.234,56' amounts, 'dd.mm.yyyy' dates."""
    n = len(lines)
    receipt = lines.kind == RECEIPT
    payout = lines.kind == PAYOUT
    customer = np.maximum(lines.customer, 0)
    who = pa.array(np.where(receipt, pop.name[customer], np.where(payout, "CARDPAY PAYOUTS", "BANK FEES")), pa.string())
    ref = payment_reference(pop, customer, np.maximum(lines.payment_no, 0))
    batch = payout_id(lines.value_day, lines.currency)
    remittance = pc.if_else(pa.array(receipt), ref, pc.if_else(pa.array(payout), batch, "Account maintenance fee"))
    return {
        "LineId": id_text("BL", np.arange(first_number, first_number + n), 9),
        "BookingDate": date_text(lines.value_day, BANK_DATE_FORMAT),
        "ValueDate": date_text(lines.value_day, BANK_DATE_FORMAT),
        "Amount": money_text_eu(lines.amount),
        "Currency": choice_text(CURRENCIES, lines.currency),
        "Counterparty": who,
        "RemittanceInfo": remittance,
        "BatchRef": pc.if_else(pa.array(payout), batch, ""),
    }


PLAN_SCHEMA = pa.schema(
    [
        ("plan_ref", pa.string()),
        ("customer_number", pa.string()),
        ("expected_invoice_date", pa.date32()),
        ("currency", pa.string()),
        ("amount", pa.decimal128(18, 2)),
        ("plan_kind", pa.string()),
        ("subscription_ref", pa.string()),
        ("invoice_number", pa.string()),
    ]
)


def render_plans(pop: Population, plans: Plans, plan_numbers: np.ndarray, invoice: pa.Array) -> pa.Table:
    """The billing system's plan export (typed Parquet). ``invoice`` is the document each plan
    line became, null for lines not (yet) invoiced."""
    has_sub = plans.subscription >= 0
    subscription = pc.if_else(
        pa.array(has_sub), id_text("SUB-", np.maximum(plans.subscription, 0), 6), pa.scalar(None, pa.string())
    )
    return pa.table(
        [
            id_text("PLN-", plan_numbers, 8),
            customer_id(pop, plans.customer),
            pa.array(plans.day.astype(np.int32), pa.date32()),
            currency_text(pop, plans.customer),
            decimal_cents(plans.amount),
            choice_text(PLAN_KINDS, plans.kind),
            subscription,
            invoice,
        ],
        schema=PLAN_SCHEMA,
    )
