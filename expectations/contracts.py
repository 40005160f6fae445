"""The canonical contract every source mapping lands on: the one home of what a column means.

Each canonical entity is defined here once: its columns, their logical type, which are required,
which form the business key, and what each column *means* to the rest of Inflow — a code compared
in one case, a date allowed to lie in the future, a reference to another entity, a parent link of
a hierarchy, a closed list of values, personal data. Landing (typing and row rules), the quality
rules, the dbt sources and staging models (generated from this module: ``expectations.dbt_codegen``)
and the synthetic generator's configuration all read these attributes; no other module keeps a
list of column names with special meaning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from expectations.privacy import PersonalKind

LogicalType = Literal["id", "text", "date", "timestamp", "money", "rate"]
Case = Literal["upper", "lower"]

#: DuckDB type each logical type lands as. Money is DECIMAL, never float (DESIGN conventions).
DUCKDB_TYPES: dict[str, str] = {
    "id": "VARCHAR",
    "text": "VARCHAR",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "money": "DECIMAL(18,2)",
    "rate": "DECIMAL(18,8)",
}


@dataclass(frozen=True)
class Column:
    """One canonical column and what it means.

    - ``required``: a row without it is unusable (quarantined at typing).
    - ``case``: a code compared case-insensitively, landed in this case (``currency`` upper,
      ``document_type`` lower).
    - ``forward``: a date that legitimately lies in the future (due, planned, promised dates), so
      it gets the longer sanity horizon.
    - ``references``: ``"<entity>.<column>"`` this column points at (relationship tests in staging;
      a reference to the customer master is also checked at landing).
    - ``values``: the closed list of allowed values (after ``case``), with the row rule that names
      a value outside it.
    - ``pii``: the kind of personal data the column holds (a person's name, e-mail, phone, free
      text that may name people, or ``staff``: a name of the company's own people in their job),
      or None. Personal columns are masked (or hashed, per
      ``privacy.columns``) wherever people and tools read them, and ``inflow erase`` pseudonymises
      them (``expectations.privacy``).
    - ``unique``: values expected unique beyond the business key, and how hard (a staging test).
    """

    name: str
    type: LogicalType
    description: str
    required: bool = False
    case: Case | None = None
    forward: bool = False
    references: str | None = None
    values: tuple[str, ...] = ()
    values_rule: str | None = None
    pii: PersonalKind | None = None
    unique: Literal["error", "warn"] | None = None

    @property
    def duckdb_type(self) -> str:
        return DUCKDB_TYPES[self.type]

    @property
    def referenced_entity(self) -> str | None:
        return self.references.split(".")[0] if self.references else None


@dataclass(frozen=True)
class Invariant:
    """A statement every accepted row of an entity satisfies, tested again in staging."""

    name: str
    expression: str
    severity: Literal["error", "warn"] = "error"


@dataclass(frozen=True)
class Entity:
    """A canonical entity: its columns, the business key that must be unique, and its hierarchy.

    ``parent``: the column linking a row to a parent row of the same entity (keyed by the first
    key column); parent links must name a known row and must not loop.
    """

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    description: str
    parent: str | None = None
    invariants: tuple[Invariant, ...] = field(default=())

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @property
    def pii_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.pii]

    @property
    def personal(self) -> dict[str, PersonalKind]:
        """Personal column -> its kind."""
        return {c.name: c.pii for c in self.columns if c.pii}

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"entity {self.name!r} has no column {name!r}")

    def customer_references(self) -> list[Column]:
        """Columns that must name a customer of the master (checked at landing)."""
        return [c for c in self.columns if c.references == "customers.customer_id"]


C = Column
CUSTOMER = "customers.customer_id"
DOCUMENT = "invoices.document_id"

DOCUMENT_TYPES = ("invoice", "credit_memo", "debit_memo")
#: Allowed ``planned_billing.kind`` values, as DESIGN.md lists them.
PLANNED_BILLING_KINDS = ("subscription", "renewal", "usage", "one_off")
#: Allowed ``activities.kind`` values, as DESIGN.md lists them.
ACTIVITY_KINDS = ("note", "call", "email", "stage_change")


def _currency(description: str, required: bool = True) -> Column:
    return C("currency", "text", description, required=required, case="upper")


ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in [
        Entity(
            "customers",
            (
                C("customer_id", "id", "ERP customer key (system of record).", required=True),
                C("name", "text", "Customer legal or trading name.", required=True),
                C("country", "text", "Country of the customer as exported (ISO code where the ERP uses one)."),
                _currency("Customer's default billing currency.", required=False),
                C("payment_terms", "text", "Payment terms label as exported (e.g. NET30, EOM)."),
                C("credit_limit", "money", "Credit limit in the customer's currency, DECIMAL(18,2)."),
                C("erp_parent_id", "id", "Parent customer in the ERP's own hierarchy, if any."),
                C(
                    "updated_at",
                    "timestamp",
                    "Last change of the record in the ERP; the latest wins among conflicting duplicates.",
                ),
            ),
            ("customer_id",),
            "ERP customer master.",
            parent="erp_parent_id",
        ),
        Entity(
            "invoices",
            (
                C("document_id", "id", "ERP document number (unique across document types).", required=True),
                C("customer_id", "id", "ERP customer billed.", required=True, references=CUSTOMER),
                C(
                    "document_type",
                    "text",
                    "invoice | credit_memo | debit_memo (landed lower-case).",
                    required=True,
                    case="lower",
                    values=DOCUMENT_TYPES,
                    values_rule="document_type_invalid",
                ),
                C("document_date", "date", "Issue date of the document.", required=True),
                C(
                    "due_date",
                    "date",
                    "Due date; may be missing (then aged by the missing_due_date_terms_days rule).",
                    forward=True,
                ),
                _currency("Transaction currency (ISO 4217)."),
                C(
                    "amount",
                    "money",
                    "Gross document amount in transaction currency; credit memos are negative after landing.",
                    required=True,
                ),
                C("tax_amount", "money", "Tax included in amount, transaction currency."),
                C(
                    "status",
                    "text",
                    "ERP document status as exported, lower-case (informational; balances are computed).",
                    case="lower",
                ),
                C("po_number", "text", "Customer purchase-order reference."),
                C(
                    "external_open_amount",
                    "money",
                    "The ERP's own open balance of the document at export time, when exported.",
                ),
                C("updated_at", "timestamp", "Last change of the document in the ERP."),
            ),
            ("document_id",),
            "ERP receivable documents: invoices, credit memos and debit memos.",
            invariants=(
                Invariant(
                    "amount_sign_matches_document_type",
                    "case when document_type = 'credit_memo' then amount <= 0 else amount >= 0 end",
                ),
            ),
        ),
        Entity(
            "payments",
            (
                C("payment_id", "id", "ERP payment (receipt) key.", required=True),
                C(
                    "customer_id",
                    "id",
                    "Paying customer, when the ERP knows it (null: unidentified cash).",
                    references=CUSTOMER,
                ),
                C("payment_date", "date", "Date the cash was received.", required=True),
                _currency("Payment currency."),
                C("amount", "money", "Amount received, payment currency.", required=True),
                C("method", "text", "Payment method (wire, ach, card, check...)."),
                C("reference", "text", "Remittance reference."),
            ),
            ("payment_id",),
            "Cash received, as recorded in the ERP.",
        ),
        Entity(
            "payment_applications",
            (
                C("payment_id", "id", "Payment applied, or the document_id of a credit memo applied.", required=True),
                C("document_id", "id", "Document the amount is applied to.", required=True, references=DOCUMENT),
                C(
                    "applied_amount",
                    "money",
                    "Amount applied, in the document's currency (negative = an application reversed).",
                    required=True,
                ),
                C("applied_date", "date", "Date of the application.", required=True),
            ),
            ("payment_id", "document_id", "applied_date"),
            "Payments and credit memos applied to documents.",
        ),
        Entity(
            "write_offs",
            (
                C("document_id", "id", "Document written off.", required=True, references=DOCUMENT),
                C("amount", "money", "Amount written off, document currency, positive.", required=True),
                C("write_off_date", "date", "Date of the write-off.", required=True),
                C("reason", "text", "Why it was written off."),
            ),
            ("document_id", "write_off_date"),
            "Amounts written off documents as uncollectible.",
            invariants=(Invariant("amount_positive", "amount > 0", severity="warn"),),
        ),
        Entity(
            "fx_rates",
            (
                C("rate_date", "date", "Day the rate applies to.", required=True),
                _currency("Currency quoted."),
                C(
                    "rate_to_reporting",
                    "rate",
                    "Reporting-currency value of one unit of currency, DECIMAL(18,8).",
                    required=True,
                ),
            ),
            ("rate_date", "currency"),
            "Daily FX rates: one unit of currency expressed in the reporting currency.",
            invariants=(Invariant("rate_positive", "rate_to_reporting > 0"),),
        ),
        Entity(
            "crm_accounts",
            (
                C("account_id", "id", "CRM account key.", required=True),
                C(
                    "customer_id",
                    "id",
                    "ERP customer key the account maps to (one account per customer).",
                    required=True,
                    references=CUSTOMER,
                    unique="warn",
                ),
                C("parent_account_id", "id", "Parent CRM account (account hierarchy)."),
                C("owner", "text", "Account owner (sales)."),
                C("collector", "text", "Collector responsible for the account's receivables."),
                C("segment", "text", "Customer segment (e.g. enterprise, mid-market, smb)."),
                C("region", "text", "Sales region."),
            ),
            ("account_id",),
            "CRM accounts keyed to the ERP customer, with owner, collector and hierarchy.",
            parent="parent_account_id",
        ),
        Entity(
            "crm_contacts",
            (
                C("contact_id", "id", "CRM contact key.", required=True),
                C(
                    "account_id",
                    "id",
                    "CRM account of the contact.",
                    required=True,
                    references="crm_accounts.account_id",
                ),
                C("name", "text", "Contact name.", pii="name"),
                C("email", "text", "Contact e-mail.", pii="email"),
                C("phone", "text", "Contact phone.", pii="phone"),
                C("role", "text", "Contact role (billing, ap, buyer...), landed lower-case.", case="lower"),
            ),
            ("contact_id",),
            "CRM contacts of an account, billing contacts among them.",
        ),
        Entity(
            "planned_billing",
            (
                C("plan_id", "id", "Billing-plan line key.", required=True),
                C("customer_id", "id", "ERP customer to be billed.", required=True, references=CUSTOMER),
                C(
                    "expected_invoice_date",
                    "date",
                    "Day the invoice is expected to be issued.",
                    required=True,
                    forward=True,
                ),
                _currency("Currency of the expected invoice."),
                C("amount", "money", "Expected invoice amount, that currency.", required=True),
                C(
                    "kind",
                    "text",
                    "subscription | renewal | usage | one_off.",
                    case="lower",
                    values=PLANNED_BILLING_KINDS,
                    values_rule="planned_billing_kind_invalid",
                ),
                C("subscription_id", "id", "Subscription the line belongs to, if any."),
            ),
            ("plan_id",),
            "Invoices the billing system expects to issue.",
        ),
        Entity(
            "settlements",
            (
                C("line_id", "id", "Settlement line key.", required=True),
                C("value_date", "date", "Value date of the line.", required=True),
                _currency("Currency of the line."),
                C("amount", "money", "Gross amount of the line.", required=True),
                C("reference", "text", "Remittance or charge reference."),
                C(
                    "counterparty",
                    "text",
                    "Payer as reported by the processor (a person when the payer is one).",
                    pii="name",
                ),
                C("fee", "money", "Processor fee deducted."),
                C("payout_id", "id", "Payout (bank transfer) the line was settled in."),
            ),
            ("line_id",),
            "Payment-processor settlement lines.",
        ),
        Entity(
            "bank_lines",
            (
                C("line_id", "id", "Statement line key.", required=True),
                C("value_date", "date", "Value date of the line.", required=True),
                _currency("Currency of the line."),
                C("amount", "money", "Amount credited (positive) or debited.", required=True),
                C("reference", "text", "Bank reference / remittance information."),
                C(
                    "counterparty",
                    "text",
                    "Ordering party as reported by the bank (a person when the payer is one).",
                    pii="name",
                ),
                C("fee", "money", "Bank fee, when reported."),
                C("payout_id", "id", "Processor payout the line corresponds to, when known."),
            ),
            ("line_id",),
            "Bank statement lines (BAI2 / camt.053 exports).",
        ),
        Entity(
            "activities",
            (
                C("activity_id", "id", "Activity key.", required=True),
                C("customer_id", "id", "ERP customer the activity concerns.", required=True, references=CUSTOMER),
                C("document_id", "id", "Document the activity concerns, if any."),
                C("activity_date", "date", "Day of the activity.", required=True),
                C(
                    "kind",
                    "text",
                    "note | call | email | stage_change.",
                    case="lower",
                    values=ACTIVITY_KINDS,
                    values_rule="activity_kind_invalid",
                ),
                C("text", "text", "Free text of the activity.", pii="text"),
                C("author", "text", "Who recorded it (a collector's name).", pii="staff"),
            ),
            ("activity_id",),
            "Collector notes, calls, e-mails and stage changes.",
        ),
        Entity(
            "promises",
            (
                C("promise_id", "id", "Promise key.", required=True),
                C("customer_id", "id", "ERP customer who promised.", required=True, references=CUSTOMER),
                C("document_id", "id", "Document promised, if any."),
                C("promised_date", "date", "Day the customer promised to pay by.", required=True, forward=True),
                C("promised_amount", "money", "Amount promised.", required=True),
                C("created_at", "timestamp", "When the promise was recorded.", required=True),
                C("status", "text", "Promise status as recorded (open, kept, broken...), lower-case.", case="lower"),
            ),
            ("promise_id",),
            "Promises to pay recorded by collectors.",
        ),
        Entity(
            "disputes",
            (
                C("dispute_id", "id", "Dispute key.", required=True),
                C("document_id", "id", "Disputed document.", required=True, references=DOCUMENT),
                C("opened_at", "timestamp", "When the dispute was opened.", required=True),
                C("amount", "money", "Disputed amount, document currency."),
                C("reason", "text", "Reason given."),
                C("resolved_at", "timestamp", "When it was resolved; null while open."),
                C("resolution", "text", "How it was resolved."),
            ),
            ("dispute_id",),
            "Disputes raised against documents.",
        ),
    ]
}

#: Lineage columns every raw table carries after the canonical columns: (type, description).
LINEAGE: dict[str, tuple[str, str]] = {
    "_source": ("VARCHAR", "Configured source system the row landed from (inflow.yml sources key)."),
    "_source_table": ("VARCHAR", "Raw table the row landed in (<source>__<table>)."),
    "_file": ("VARCHAR", "File (or query:<table>) of the landed batch."),
    "_checksum": ("VARCHAR", "SHA-256 of the batch file (digest of the result for a query); one load per checksum."),
    "_row_number": ("BIGINT", "1-based data row of the row in its batch, for tracing back to the export."),
    "_loaded_at": (
        "TIMESTAMP",
        "When this version of the row first landed (clock of the ingestion process); for a replaced row, "
        "when it was replaced.",
    ),
    "_status": (
        "VARCHAR",
        "'accepted'; 'quarantined' (reasons in quality.exceptions); or 'replaced', a version a later delivery "
        "of its file changed or dropped, kept so that the daily aging restates what it moved.",
    ),
    "_extra": ("VARCHAR", "Source columns not mapped onto the contract, as JSON text."),
}
#: Lineage columns as name -> DuckDB type.
LINEAGE_COLUMNS: dict[str, str] = {name: typ for name, (typ, _) in LINEAGE.items()}
#: Lineage columns staging keeps, so any figure can be traced to its export.
STAGING_LINEAGE = ("_source", "_file", "_row_number", "_loaded_at")


def entity(name: str) -> Entity:
    """Return the canonical entity called ``name`` or fail naming the known ones."""
    try:
        return ENTITIES[name]
    except KeyError:
        known = ", ".join(sorted(ENTITIES))
        raise KeyError(f"unknown canonical entity {name!r}; known entities: {known}") from None


def duckdb_type(col: Column) -> str:
    return col.duckdb_type
