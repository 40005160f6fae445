"""The canonical contract every source mapping lands on.

One place defines each canonical entity: its columns, their logical type, which are required and
which form the business key. Ingestion (typing and row rules), the union views the dbt sources
read, the Great Expectations suites and the synthetic generator's configuration all derive from
this module, so a column is added in exactly one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

LogicalType = Literal["id", "text", "date", "timestamp", "money", "rate", "int", "bool"]

#: DuckDB type each logical type lands as. Money is DECIMAL, never float (DESIGN conventions).
DUCKDB_TYPES: dict[str, str] = {
    "id": "VARCHAR",
    "text": "VARCHAR",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "money": "DECIMAL(18,2)",
    "rate": "DECIMAL(18,8)",
    "int": "BIGINT",
    "bool": "BOOLEAN",
}


@dataclass(frozen=True)
class Column:
    """One canonical column: name, logical type and whether a row without it is unusable."""

    name: str
    type: LogicalType
    required: bool = False


@dataclass(frozen=True)
class Entity:
    """A canonical entity: its columns and the business key that must be unique."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    description: str

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"entity {self.name!r} has no column {name!r}")


def _cols(spec: str) -> tuple[Column, ...]:
    """Parse a compact 'name:type*' list; a trailing * marks a required column."""
    out = []
    for token in spec.split():
        name, typ = token.split(":")
        required = typ.endswith("*")
        out.append(Column(name, typ.rstrip("*"), required))  # type: ignore[arg-type]
    return tuple(out)


ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in [
        Entity(
            "customers",
            _cols(
                "customer_id:id* name:text* country:text currency:text payment_terms:text "
                "credit_limit:money erp_parent_id:id updated_at:timestamp"
            ),
            ("customer_id",),
            "ERP customer master.",
        ),
        Entity(
            "invoices",
            _cols(
                "document_id:id* customer_id:id* document_type:text* document_date:date* "
                "due_date:date currency:text* amount:money* tax_amount:money status:text "
                "po_number:text external_open_amount:money updated_at:timestamp"
            ),
            ("document_id",),
            "ERP receivable documents: invoices, credit memos and debit memos.",
        ),
        Entity(
            "payments",
            _cols(
                "payment_id:id* customer_id:id payment_date:date* currency:text* amount:money* "
                "method:text reference:text"
            ),
            ("payment_id",),
            "Cash received, as recorded in the ERP.",
        ),
        Entity(
            "payment_applications",
            _cols("payment_id:id* document_id:id* applied_amount:money* applied_date:date*"),
            ("payment_id", "document_id", "applied_date"),
            "Payments and credit memos applied to documents.",
        ),
        Entity(
            "write_offs",
            _cols("document_id:id* amount:money* write_off_date:date* reason:text"),
            ("document_id", "write_off_date"),
            "Amounts written off documents as uncollectible.",
        ),
        Entity(
            "fx_rates",
            _cols("rate_date:date* currency:text* rate_to_reporting:rate*"),
            ("rate_date", "currency"),
            "Daily rates: one unit of currency in the reporting currency.",
        ),
        Entity(
            "crm_accounts",
            _cols(
                "account_id:id* customer_id:id* parent_account_id:id owner:text collector:text "
                "segment:text region:text"
            ),
            ("account_id",),
            "CRM accounts keyed to the ERP customer, with owner, collector and hierarchy.",
        ),
        Entity(
            "crm_contacts",
            _cols("contact_id:id* account_id:id* name:text email:text phone:text role:text"),
            ("contact_id",),
            "CRM contacts of an account (billing contacts among them).",
        ),
        Entity(
            "planned_billing",
            _cols(
                "plan_id:id* customer_id:id* expected_invoice_date:date* currency:text* "
                "amount:money* kind:text subscription_id:id"
            ),
            ("plan_id",),
            "Invoices the billing system expects to issue.",
        ),
        Entity(
            "settlements",
            _cols(
                "line_id:id* value_date:date* currency:text* amount:money* reference:text "
                "counterparty:text fee:money payout_id:id"
            ),
            ("line_id",),
            "Payment-processor settlement lines.",
        ),
        Entity(
            "bank_lines",
            _cols(
                "line_id:id* value_date:date* currency:text* amount:money* reference:text "
                "counterparty:text fee:money payout_id:id"
            ),
            ("line_id",),
            "Bank statement lines (BAI2 / camt.053 exports).",
        ),
        Entity(
            "activities",
            _cols(
                "activity_id:id* customer_id:id* document_id:id activity_date:date* kind:text "
                "text:text author:text"
            ),
            ("activity_id",),
            "Collector notes, calls, emails and stage changes.",
        ),
        Entity(
            "promises",
            _cols(
                "promise_id:id* customer_id:id* document_id:id promised_date:date* "
                "promised_amount:money* created_at:timestamp* status:text"
            ),
            ("promise_id",),
            "Promises to pay recorded by collectors.",
        ),
        Entity(
            "disputes",
            _cols(
                "dispute_id:id* document_id:id* opened_at:timestamp* amount:money reason:text "
                "resolved_at:timestamp resolution:text"
            ),
            ("dispute_id",),
            "Disputes raised against documents.",
        ),
    ]
}

#: Lineage columns every raw table carries after the canonical columns.
LINEAGE_COLUMNS: dict[str, str] = {
    "_source": "VARCHAR",
    "_source_table": "VARCHAR",
    "_file": "VARCHAR",
    "_checksum": "VARCHAR",
    "_row_number": "BIGINT",
    "_loaded_at": "TIMESTAMP",
    "_status": "VARCHAR",
    "_extra": "VARCHAR",
}

DOCUMENT_TYPES = ("invoice", "credit_memo", "debit_memo")

#: Allowed ``planned_billing.kind`` values (after trim + lower), as DESIGN.md lists them.
PLANNED_BILLING_KINDS = ("subscription", "renewal", "usage", "one_off")

#: Allowed ``activities.kind`` values (after trim + lower), as DESIGN.md lists them.
ACTIVITY_KINDS = ("note", "call", "email", "stage_change")


def entity(name: str) -> Entity:
    """Return the canonical entity called ``name`` or fail naming the known ones."""
    try:
        return ENTITIES[name]
    except KeyError:
        known = ", ".join(sorted(ENTITIES))
        raise KeyError(f"unknown canonical entity {name!r}; known entities: {known}") from None


def duckdb_type(col: Column) -> str:
    return DUCKDB_TYPES[col.type]
