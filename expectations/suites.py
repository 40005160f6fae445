"""The source contracts: every row rule of every entity, declared once, run in DuckDB.

Each entity's checks are declarative :class:`Check` objects — the contract's generic rules
(currencies, money bounds, date windows, allowed values) plus the entity's own business rules
(document signs, due dates, rates, statuses...). Each check has exactly the shape of one Great
Expectations expectation (:data:`GX_TYPES`): :mod:`expectations.sql` compiles the checks into the
SQL landing runs next to the typing SQL (one engine, one pass), and :func:`entity_suite` turns the
same checks into a GX ``ExpectationSuite``, which the test suite validates through GX's public
API on the same batches as the oracle of the compiled SQL (``tests/test_gx_oracle.py``).

Checks read canonical columns and *scoped* columns: a canonical value kept only on the rows a
rule applies to, null elsewhere (:data:`SCOPED_COLUMNS`, SQL over the typed row). Like GX, every
check but ``not_null`` skips nulls, so a check on a scoped column checks exactly those rows. A
check's ``detail`` is a template over the row's canonical values (``{amount}``).

Required values are checked here too (``not_null``) for batches handed over already typed;
in landing, typing quarantines a row whose required value is blank before any check sees it, with
the same rule (``required_value_missing``).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from expectations.contracts import Entity, entity
from expectations.currencies import ISO_4217_CURRENCIES
from expectations.rules import rule

if TYPE_CHECKING:
    import great_expectations as gx

Kind = Literal["not_null", "between", "in_set", "not_in_set", "not_below", "matches"]

#: The Great Expectations expectation each kind of check is.
GX_TYPES: dict[str, str] = {
    "not_null": "ExpectColumnValuesToNotBeNull",
    "between": "ExpectColumnValuesToBeBetween",
    "in_set": "ExpectColumnValuesToBeInSet",
    "not_in_set": "ExpectColumnValuesToNotBeInSet",
    "not_below": "ExpectColumnPairValuesAToBeGreaterThanB",
    "matches": "ExpectColumnValuesToMatchRegex",
}

#: Invoice statuses (after lower-casing) that say the document is settled / still owed.
CLOSED_STATUSES = ("paid", "closed")
OPEN_STATUSES = ("open", "unpaid", "overdue", "partially_paid")
DEBIT_TYPES = ("invoice", "debit_memo")
#: Deliberately loose: catches names, phone numbers and missing domains, not RFC 5322 corner cases.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
#: Money is DECIMAL(18,2): a "zero" open balance is within half a cent.
HALF_CENT = 0.005
#: A rate is DECIMAL(18,8); the reporting currency's own rate must be 1 to that precision.
RATE_EPSILON = 1e-8
#: Money columns bounded by their document's amount: same sign, no larger.
BOUNDED_BY_AMOUNT = ("tax_amount", "external_open_amount")


@dataclass(frozen=True)
class Bounds:
    """The sane window for dates and the bound on money values of one validation.

    Dates must lie between ``earliest_date`` and ``as_of`` plus ``days_ahead`` (events: documents,
    payments, timestamps) or ``days_ahead_forward`` (columns the contract marks ``forward``: due,
    planned and promised dates); without ``as_of`` only the lower bound applies.
    """

    as_of: dt.date | None = None
    earliest_date: dt.date = dt.date(1990, 1, 1)
    days_ahead: int = 90
    days_ahead_forward: int = 5 * 366
    max_abs_amount: float = 10_000_000_000.0

    def __post_init__(self) -> None:
        if self.days_ahead < 0 or self.days_ahead_forward < 0:
            raise ValueError("days_ahead and days_ahead_forward cannot be negative")
        if self.max_abs_amount <= 0:
            raise ValueError("max_abs_amount must be positive")

    def latest(self, forward: bool) -> dt.datetime | None:
        """Last acceptable instant for a column; None (no upper bound) without an as-of date."""
        if self.as_of is None:
            return None
        days = self.days_ahead_forward if forward else self.days_ahead
        return dt.datetime.combine(self.as_of + dt.timedelta(days=days), dt.time.max)


@dataclass(frozen=True)
class Check:
    """One row rule: the rule it reports, the column it reports on, and its GX-shaped test.

    ``target`` is the column tested (canonical or scoped). ``not_null``: the only kind that looks
    at nulls; ``between``: ``low`` / ``high`` with
    ``strict_*``; ``in_set`` / ``not_in_set``: ``values``; ``not_below``: ``target >= other``,
    skipped when either is null; ``matches``: ``pattern`` found in the value.
    """

    rule: str
    column: str
    kind: Kind
    target: str
    detail: str
    low: Any = None
    high: Any = None
    strict_low: bool = False
    strict_high: bool = False
    values: tuple[Any, ...] = ()
    other: str | None = None
    pattern: str | None = None

    def __post_init__(self) -> None:
        rule(self.rule)

    @property
    def reads(self) -> frozenset[str]:
        """Columns the check reads (canonical or scoped)."""
        return frozenset(c for c in (self.target, self.other) if c)


def _positive(rule_name: str, column: str) -> Check:
    return Check(rule_name, column, "between", column, f"{column} {{{column}}} is not positive", low=0, strict_low=True)


def _in_set(rule_name: str, column: str, allowed: tuple[str, ...]) -> Check:
    return Check(
        rule_name, column, "in_set", column, f"{column} {{{column}}} is not one of {', '.join(allowed)}", values=allowed
    )


def _not_before(rule_name: str, later: str, earlier: str, detail: str) -> Check:
    return Check(rule_name, later, "not_below", later, detail, other=earlier)


# --- generic checks, derived from the contract -----------------------------------------------


def _contract_checks(ent: Entity, bounds: Bounds) -> list[Check]:
    """Required values, currencies, money bounds, date windows and closed value lists, from column
    attributes."""
    out = [
        Check("required_value_missing", name, "not_null", name, f"required {name} is empty") for name in ent.required
    ]
    limit = bounds.max_abs_amount
    earliest = dt.datetime.combine(bounds.earliest_date, dt.time())
    for col in ent.columns:
        if col.name == "currency":
            out.append(
                Check(
                    "currency_not_iso4217",
                    "currency",
                    "in_set",
                    "currency",
                    "currency {currency} is not an active ISO 4217 code",
                    values=tuple(sorted(ISO_4217_CURRENCIES)),
                )
            )
        if col.type == "money":
            out.append(
                Check(
                    "amount_out_of_bounds",
                    col.name,
                    "between",
                    col.name,
                    f"{col.name} {{{col.name}}} is beyond the sane bound of +/-{limit:,.2f}",
                    low=-limit,
                    high=limit,
                )
            )
        if col.type in ("date", "timestamp"):
            latest = bounds.latest(forward=col.forward)
            window = (
                f"on or after {bounds.earliest_date}"
                if latest is None
                else f"between {bounds.earliest_date} and {latest.date()}"
            )
            out.append(
                Check(
                    "date_out_of_range",
                    col.name,
                    "between",
                    col.name,
                    f"{col.name} {{{col.name}}} is not {window}",
                    low=earliest,
                    high=latest,
                )
            )
        if col.values:
            out.append(_in_set(col.values_rule or "", col.name, col.values))
    return out


# --- entity business rules -------------------------------------------------------------------


def _within_document_amount(column: str, rule_name: str) -> list[Check]:
    """``column`` shares the document amount's sign and does not exceed it in magnitude.

    Read through the document's sign (scoped ``_signed_*``): a consistent value is then between 0
    and the amount's magnitude, for invoices and credit memos alike. Only documents whose amount
    has the right sign are in scope, so a wrongly signed document is reported once (by its sign
    rule), not again for its dependent amounts.
    """
    signed = f"_signed_{column}"
    return [
        Check(
            rule_name,
            column,
            "between",
            signed,
            f"{column} {{{column}}} has the opposite sign of {{document_type}} amount {{amount}}",
            low=0,
        ),
        Check(
            rule_name,
            column,
            "not_below",
            "_signed_amount",
            f"{column} {{{column}}} exceeds {{document_type}} amount {{amount}}",
            other=signed,
        ),
    ]


def _invoices() -> list[Check]:
    status = "status {status} but external_open_amount is {external_open_amount}"
    return [
        _not_before(
            "due_before_document_date",
            "due_date",
            "document_date",
            "due_date {due_date} is before document_date {document_date}",
        ),
        Check(
            "invoice_amount_not_positive",
            "amount",
            "between",
            "_amount_of_debits",
            "{document_type} amount {amount} is not positive",
            low=0,
            strict_low=True,
        ),
        Check(
            "credit_memo_amount_not_negative",
            "amount",
            "between",
            "_amount_of_credit_memos",
            "credit_memo amount {amount} is not negative after the source's sign convention",
            high=0,
            strict_high=True,
        ),
        *_within_document_amount("tax_amount", "tax_amount_inconsistent"),
        *_within_document_amount("external_open_amount", "external_open_amount_inconsistent"),
        Check(
            "payment_status_inconsistent",
            "external_open_amount",
            "between",
            "_external_open_amount_when_closed",
            status,
            low=-HALF_CENT,
            high=HALF_CENT,
        ),
        Check(
            "payment_status_inconsistent",
            "external_open_amount",
            "not_in_set",
            "_external_open_amount_when_open",
            status,
            values=(0,),
        ),
    ]


ENTITY_CHECKS: dict[str, list[Check]] = {
    "customers": [
        Check(
            "credit_limit_negative",
            "credit_limit",
            "between",
            "credit_limit",
            "credit_limit {credit_limit} is negative",
            low=0,
        )
    ],
    "invoices": _invoices(),
    "payments": [_positive("payment_amount_not_positive", "amount")],
    "payment_applications": [_positive("applied_amount_not_positive", "applied_amount")],
    "write_offs": [_positive("write_off_amount_not_positive", "amount")],
    "fx_rates": [
        _positive("fx_rate_not_positive", "rate_to_reporting"),
        Check(
            "fx_rate_reporting_currency_not_one",
            "rate_to_reporting",
            "between",
            "_rate_of_reporting_currency",
            "rate_to_reporting {rate_to_reporting} of the reporting currency {currency} is not 1",
            low=1 - RATE_EPSILON,
            high=1 + RATE_EPSILON,
        ),
    ],
    "crm_contacts": [
        Check(
            "email_invalid", "email", "matches", "email", "email {email} is not an email address", pattern=EMAIL_PATTERN
        )
    ],
    "planned_billing": [_positive("planned_amount_not_positive", "amount")],
    "promises": [
        _positive("promise_amount_not_positive", "promised_amount"),
        _not_before(
            "promise_date_before_created",
            "promised_date",
            "_created_on",
            "promised_date {promised_date} is before the promise was recorded at {created_at}",
        ),
    ],
    "disputes": [
        _positive("dispute_amount_not_positive", "amount"),
        _not_before(
            "dispute_resolved_before_opened",
            "resolved_at",
            "opened_at",
            "resolved_at {resolved_at} is before opened_at {opened_at}",
        ),
    ],
}


def _sql_list(values: tuple[str, ...]) -> str:
    return ", ".join("'" + v + "'" for v in values)


def _invoice_scopes(reporting_currency: str) -> dict[str, str]:
    """Amounts of debits (invoices, debit memos) and of credit memos; amounts read through the
    sign of a rightly signed document (+1 debit, -1 credit memo); the ERP open balance by status."""
    debit = f"document_type in ({_sql_list(DEBIT_TYPES)})"
    credit = "document_type = 'credit_memo'"
    sign = f"(case when {debit} and amount > 0 then 1 when {credit} and amount < 0 then -1 end)"
    return {
        "_amount_of_debits": f"case when {debit} then amount end",
        "_amount_of_credit_memos": f"case when {credit} then amount end",
        "_signed_amount": f"amount * {sign}",
        **{f"_signed_{name}": f"{name} * {sign}" for name in BOUNDED_BY_AMOUNT},
        "_external_open_amount_when_closed": (
            f"case when status in ({_sql_list(CLOSED_STATUSES)}) then external_open_amount end"
        ),
        "_external_open_amount_when_open": (
            f"case when status in ({_sql_list(OPEN_STATUSES)}) then external_open_amount end"
        ),
    }


#: entity -> (reporting currency -> scoped column -> SQL over the typed row).
SCOPED_COLUMNS = {
    "invoices": _invoice_scopes,
    "fx_rates": lambda reporting_currency: {
        "_rate_of_reporting_currency": f"case when currency = '{reporting_currency}' then rate_to_reporting end",
    },
    # The day a promise was recorded: a promise for later that same day is not before it.
    "promises": lambda reporting_currency: {"_created_on": "cast(cast(created_at as date) as timestamp)"},
}


def scoped_columns(entity_name: str, reporting_currency: str) -> dict[str, str]:
    """Scoped column name -> SQL expression over the entity's typed canonical columns."""
    if reporting_currency not in ISO_4217_CURRENCIES:
        raise ValueError(f"reporting_currency {reporting_currency!r} is not an active ISO 4217 code")
    build = SCOPED_COLUMNS.get(entity_name)
    return build(reporting_currency) if build else {}


@functools.lru_cache(maxsize=256)
def entity_checks(entity_name: str, bounds: Bounds) -> tuple[Check, ...]:
    """Every row check of one entity: the contract's generic ones, then its business rules."""
    ent = entity(entity_name)
    return (*_contract_checks(ent, bounds), *ENTITY_CHECKS.get(ent.name, []))


def gx_expectation(check: Check) -> gx.expectations.Expectation:
    """The check as the Great Expectations expectation it stands for, tagged with its rule."""
    import great_expectations as gx

    meta = {"rule": check.rule, "column": check.column, "detail": check.detail}
    kind = getattr(gx.expectations, GX_TYPES[check.kind])
    if check.kind == "not_null":
        return kind(column=check.target, meta=meta)
    if check.kind == "between":
        return kind(
            column=check.target,
            min_value=check.low,
            max_value=check.high,
            strict_min=check.strict_low,
            strict_max=check.strict_high,
            meta=meta,
        )
    if check.kind in ("in_set", "not_in_set"):
        return kind(column=check.target, value_set=list(check.values), meta=meta)
    if check.kind == "not_below":
        return kind(
            column_A=check.target,
            column_B=check.other,
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            meta=meta,
        )
    return kind(column=check.target, regex=check.pattern, meta=meta)


def entity_suite(entity_name: str, bounds: Bounds) -> gx.ExpectationSuite:
    """The entity's checks as a Great Expectations suite, to export or to validate with GX."""
    import great_expectations as gx

    expectations = [gx_expectation(c) for c in entity_checks(entity_name, bounds)]
    return gx.ExpectationSuite(name=f"inflow.{entity_name}", expectations=expectations)
