"""Great Expectations suites of the canonical entities, built in code from the contract.

One suite per entity: generic expectations derived from the contract (required columns not null,
ISO 4217 currencies, money within sane bounds, dates within a sane window) plus the entity's own
business rules (document signs, due dates, rates, statuses...). Every expectation carries in its
``meta`` the stable rule name (:mod:`expectations.rules`), the column a failure is reported on and
a detail template over the batch's columns, so a validation result explains itself and the
runner needs no second table mapping expectations to rules.

Suites validate the frame :func:`validation_frame` prepares: canonical columns in dtypes GX's
pandas engine compares vectorised (datetime64[ns], float64), indexed by the file's row number.
Values are expected normalized as landing types them (trimmed, blank as null, currency upper,
codes lower, all-digit ids without leading zeros): what is validated is exactly what lands.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from string import Formatter
from typing import Callable

import great_expectations as gx
import numpy as np
import pandas as pd
from great_expectations.expectations import Expectation

from expectations.contracts import (
    ACTIVITY_KINDS,
    DOCUMENT_TYPES,
    PLANNED_BILLING_KINDS,
    Column,
    Entity,
    entity,
)
from expectations.currencies import ISO_4217_CURRENCIES

E = gx.expectations

#: Dates that legitimately lie in the future (terms, plans, promises) get the longer horizon.
FORWARD_DATES: dict[str, frozenset[str]] = {
    "invoices": frozenset({"due_date"}),
    "planned_billing": frozenset({"expected_invoice_date"}),
    "promises": frozenset({"promised_date"}),
}
#: Invoice statuses (after lower-casing) that say the document is settled / still owed.
CLOSED_STATUSES = ("paid", "closed")
OPEN_STATUSES = ("open", "unpaid", "overdue", "partially_paid")
DEBIT_TYPES = ("invoice", "debit_memo")
#: Deliberately loose: catches names, phone numbers and missing domains, not RFC 5322 corner cases.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
#: Money arrives as float64 converted from DECIMAL(18,2): "zero" means within half a cent.
HALF_CENT = 0.005
#: A rate is DECIMAL(18,8); the reporting currency's own rate must be 1 to that precision.
RATE_EPSILON = 1e-8
#: datetime64[ns] holds 1677-09-21..2262-04-11; values outside are clipped just inside, which
#: keeps them outside every sane window while GX compares the column vectorised.
NS_FLOOR, NS_CEILING = pd.Timestamp("1678-01-01"), pd.Timestamp("2262-01-01")
#: Low-cardinality codes that value sets and scopes test: categorical, so GX's repeated
#: filtering copies and compares small integer codes instead of a million strings each time.
CODE_COLUMNS = frozenset({"currency", "document_type", "status", "kind"})
#: Money columns bounded by their document's amount: same sign, no larger.
BOUNDED_BY_AMOUNT = ("tax_amount", "external_open_amount")


@dataclass(frozen=True)
class Bounds:
    """The sane window for dates and the bound on money values of one validation."""

    as_of: dt.date | None
    earliest_date: dt.date
    days_ahead: int
    days_ahead_forward: int
    max_abs_amount: float

    def latest(self, forward: bool) -> dt.datetime | None:
        """Last acceptable instant for a column; None (no upper bound) without an as-of date."""
        if self.as_of is None:
            return None
        days = self.days_ahead_forward if forward else self.days_ahead
        return dt.datetime.combine(self.as_of + dt.timedelta(days=days), dt.time.max)


def _expect(kind: type[Expectation], rule: str, reported: str, detail: str, **kwargs) -> Expectation:
    """An expectation tagged with its rule, the column a failure is reported on, and its detail."""
    return kind(meta={"rule": rule, "column": reported, "detail": detail}, **kwargs)


def _positive(rule: str, column: str) -> Expectation:
    return _expect(
        E.ExpectColumnValuesToBeBetween, rule, column, f"{column} {{{column}}} is not positive",
        column=column, min_value=0, strict_min=True,
    )


def _in_set(rule: str, column: str, allowed: tuple[str, ...]) -> Expectation:
    return _expect(
        E.ExpectColumnValuesToBeInSet, rule, column,
        f"{column} {{{column}}} is not one of {', '.join(allowed)}",
        column=column, value_set=list(allowed),
    )


def _not_before(rule: str, later: str, earlier: str, detail: str) -> Expectation:
    return _expect(
        E.ExpectColumnPairValuesAToBeGreaterThanB, rule, later, detail,
        column_A=later, column_B=earlier, or_equal=True, ignore_row_if="either_value_is_missing",
    )


# --- generic expectations, derived from the contract ---------------------------------------


def _required(ent: Entity) -> list[Expectation]:
    return [
        _expect(E.ExpectColumnValuesToNotBeNull, "required_value_missing", name, f"required {name} is empty", column=name)
        for name in ent.required
    ]


def _currency(ent: Entity) -> list[Expectation]:
    if "currency" not in ent.column_names:
        return []
    return [
        _expect(
            E.ExpectColumnValuesToBeInSet, "currency_not_iso4217", "currency",
            "currency {currency} is not an active ISO 4217 code",
            column="currency", value_set=sorted(ISO_4217_CURRENCIES),
        )
    ]


def _amount_bounds(ent: Entity, bounds: Bounds) -> list[Expectation]:
    limit = bounds.max_abs_amount
    return [
        _expect(
            E.ExpectColumnValuesToBeBetween, "amount_out_of_bounds", col.name,
            f"{col.name} {{{col.name}}} is beyond the sane bound of +/-{limit:,.2f}",
            column=col.name, min_value=-limit, max_value=limit,
        )
        for col in ent.columns
        if col.type == "money"
    ]


def _date_bounds(ent: Entity, bounds: Bounds) -> list[Expectation]:
    earliest = dt.datetime.combine(bounds.earliest_date, dt.time())
    out = []
    for col in ent.columns:
        if col.type not in ("date", "timestamp"):
            continue
        latest = bounds.latest(forward=col.name in FORWARD_DATES.get(ent.name, frozenset()))
        window = (
            f"on or after {bounds.earliest_date}" if latest is None
            else f"between {bounds.earliest_date} and {latest.date()}"
        )
        out.append(
            _expect(
                E.ExpectColumnValuesToBeBetween, "date_out_of_range", col.name,
                f"{col.name} {{{col.name}}} is not {window}",
                column=col.name, min_value=earliest, max_value=latest,
            )
        )
    return out


# --- entity business rules -------------------------------------------------------------------


def _within_document_amount(column: str, rule: str) -> list[Expectation]:
    """``column`` shares the document amount's sign and does not exceed it in magnitude.

    Read through the document's sign (scoped columns ``_signed_*``, see ``_invoice_scopes``):
    a consistent value is then between 0 and the amount's magnitude, for invoices and credit
    memos alike. Only documents whose amount has the right sign are in scope, so a wrongly
    signed document is reported once (by its sign rule), not again for its dependent amounts.
    """
    signed = f"_signed_{column}"
    return [
        _expect(
            E.ExpectColumnValuesToBeBetween, rule, column,
            f"{column} {{{column}}} has the opposite sign of {{document_type}} amount {{amount}}",
            column=signed, min_value=0,
        ),
        _expect(
            E.ExpectColumnPairValuesAToBeGreaterThanB, rule, column,
            f"{column} {{{column}}} exceeds {{document_type}} amount {{amount}}",
            column_A="_signed_amount", column_B=signed, or_equal=True, ignore_row_if="either_value_is_missing",
        ),
    ]


def _invoices(reporting_currency: str) -> list[Expectation]:
    status = "status {status} but external_open_amount is {external_open_amount}"
    return [
        _in_set("document_type_invalid", "document_type", DOCUMENT_TYPES),
        _not_before(
            "due_before_document_date", "due_date", "document_date",
            "due_date {due_date} is before document_date {document_date}",
        ),
        _expect(
            E.ExpectColumnValuesToBeBetween, "invoice_amount_not_positive", "amount",
            "{document_type} amount {amount} is not positive",
            column="_amount_of_debits", min_value=0, strict_min=True,
        ),
        _expect(
            E.ExpectColumnValuesToBeBetween, "credit_memo_amount_not_negative", "amount",
            "credit_memo amount {amount} is not negative after the source's sign convention",
            column="_amount_of_credit_memos", max_value=0, strict_max=True,
        ),
        *_within_document_amount("tax_amount", "tax_amount_inconsistent"),
        *_within_document_amount("external_open_amount", "external_open_amount_inconsistent"),
        _expect(
            E.ExpectColumnValuesToBeBetween, "payment_status_inconsistent", "external_open_amount", status,
            column="_external_open_amount_when_closed", min_value=-HALF_CENT, max_value=HALF_CENT,
        ),
        _expect(
            E.ExpectColumnValuesToNotBeInSet, "payment_status_inconsistent", "external_open_amount", status,
            column="_external_open_amount_when_open", value_set=[0.0],
        ),
    ]


def _customers(reporting_currency: str) -> list[Expectation]:
    return [
        _expect(
            E.ExpectColumnValuesToBeBetween, "credit_limit_negative", "credit_limit",
            "credit_limit {credit_limit} is negative", column="credit_limit", min_value=0,
        )
    ]


def _fx_rates(reporting_currency: str) -> list[Expectation]:
    return [
        _positive("fx_rate_not_positive", "rate_to_reporting"),
        _expect(
            E.ExpectColumnValuesToBeBetween, "fx_rate_reporting_currency_not_one", "rate_to_reporting",
            "rate_to_reporting {rate_to_reporting} of the reporting currency {currency} is not 1",
            column="_rate_of_reporting_currency", min_value=1 - RATE_EPSILON, max_value=1 + RATE_EPSILON,
        ),
    ]


def _crm_contacts(reporting_currency: str) -> list[Expectation]:
    return [
        _expect(
            E.ExpectColumnValuesToMatchRegex, "email_invalid", "email", "email {email} is not an email address",
            column="email", regex=EMAIL_PATTERN,
        )
    ]


def _promises(reporting_currency: str) -> list[Expectation]:
    return [
        _positive("promise_amount_not_positive", "promised_amount"),
        _not_before(
            "promise_date_before_created", "promised_date", "_created_on",
            "promised_date {promised_date} is before the promise was recorded at {created_at}",
        ),
    ]


def _disputes(reporting_currency: str) -> list[Expectation]:
    return [
        _positive("dispute_amount_not_positive", "amount"),
        _not_before(
            "dispute_resolved_before_opened", "resolved_at", "opened_at",
            "resolved_at {resolved_at} is before opened_at {opened_at}",
        ),
    ]


def _no_rules(reporting_currency: str) -> list[Expectation]:
    """Settlement and bank lines carry both signs (payouts, refunds, fees): generic rules only."""
    return []


ENTITY_EXPECTATIONS: dict[str, Callable[[str], list[Expectation]]] = {
    "customers": _customers,
    "invoices": _invoices,
    "payments": lambda _: [_positive("payment_amount_not_positive", "amount")],
    "payment_applications": lambda _: [_positive("applied_amount_not_positive", "applied_amount")],
    "write_offs": lambda _: [_positive("write_off_amount_not_positive", "amount")],
    "fx_rates": _fx_rates,
    "crm_accounts": _no_rules,  # parent links are graph rules: expectations.relations
    "crm_contacts": _crm_contacts,
    "planned_billing": lambda _: [
        _positive("planned_amount_not_positive", "amount"),
        _in_set("planned_billing_kind_invalid", "kind", PLANNED_BILLING_KINDS),
    ],
    "settlements": _no_rules,
    "bank_lines": _no_rules,
    "activities": lambda _: [_in_set("activity_kind_invalid", "kind", ACTIVITY_KINDS)],
    "promises": _promises,
    "disputes": _disputes,
}


def entity_expectations(entity_name: str, reporting_currency: str, bounds: Bounds) -> list[Expectation]:
    """Every expectation of one entity: the contract's generic ones, then its business rules."""
    ent = entity(entity_name)
    return [
        *_required(ent),
        *_currency(ent),
        *_amount_bounds(ent, bounds),
        *_date_bounds(ent, bounds),
        *ENTITY_EXPECTATIONS[ent.name](reporting_currency),
    ]


def entity_suite(entity_name: str, reporting_currency: str, bounds: Bounds) -> gx.ExpectationSuite:
    """The entity's whole suite, e.g. to inspect or export it; validation runs it in parts."""
    expectations = entity_expectations(entity_name, reporting_currency, bounds)
    return gx.ExpectationSuite(name=f"inflow.{entity_name}", expectations=expectations)


@dataclass(frozen=True)
class SuitePart:
    """Expectations of one entity that read only ``columns``, validated together on just those."""

    name: str
    columns: tuple[str, ...]
    expectations: tuple[Expectation, ...]


@functools.lru_cache(maxsize=128)
def suite_parts(entity_name: str, reporting_currency: str, bounds: Bounds) -> tuple[SuitePart, ...]:
    """The entity's expectations split by the columns each reads; built once, then cached.

    GX's pandas engine copies the whole batch frame for every expectation that skips nulls, so
    one suite over a wide frame costs expectations x columns x rows; validating each group on a
    frame of its own one to three columns does not. An expectation joins the widest group that already covers its columns.
    """
    groups: dict[frozenset[str], list[Expectation]] = {}
    expectations = entity_expectations(entity_name, reporting_currency, bounds)
    for expectation in sorted(expectations, key=lambda e: -len(_reads(e))):
        columns = _reads(expectation)
        home = next((cols for cols in groups if columns <= cols), columns)
        groups.setdefault(home, []).append(expectation)
    return tuple(
        SuitePart(f"inflow.{entity_name}.{'+'.join(sorted(cols))}", tuple(sorted(cols)), tuple(members))
        for cols, members in groups.items()
    )


def can_fail(expectation: Expectation, all_null: set[str], some_null: set[str]) -> bool:
    """Whether an expectation can fail, given which columns of the batch are null on every row
    (``all_null``) and which on at least one (``some_null``).

    A not-null expectation fails only on a column with a null. Every other expectation here
    skips nulls, so one that reads an all-null column passes without looking. GX costs ~10 ms
    per expectation and batch whatever its size, and these are common: landing hands over only
    rows whose required values are present, optional columns are often unmapped, and a scope
    often has no row in a file (no credit memo this month).
    """
    if isinstance(expectation, E.ExpectColumnValuesToNotBeNull):
        return expectation.column in some_null
    return not (_reads(expectation) & all_null)


def _reads(expectation: Expectation) -> frozenset[str]:
    """Columns an expectation reads (canonical or scoped)."""
    domain = {getattr(expectation, attr, None) for attr in ("column", "column_A", "column_B")}
    return frozenset(name for name in domain if name)


# --- the frame GX validates ------------------------------------------------------------------

# Scoped columns: a canonical value kept only on the rows a rule applies to, null elsewhere.
# GX skips nulls, so an expectation on a scoped column checks exactly those rows. This replaces
# GX row conditions, which the pandas engine re-applies with DataFrame.query for every metric
# of every expectation: on a million invoices, 90 % of the suite's time went there.


def _invoice_scopes(frame: pd.DataFrame, reporting_currency: str) -> dict[str, pd.Series]:
    """Amounts of debits (invoices, debit memos) and of credit memos; amounts read through the
    sign of a rightly signed document (+1 debit, -1 credit memo); open balance by status."""
    debit = frame["document_type"].isin(DEBIT_TYPES)
    credit = frame["document_type"] == "credit_memo"
    amount = frame["amount"]
    sign = pd.Series(np.nan, index=frame.index).mask(debit & (amount > 0), 1.0).mask(credit & (amount < 0), -1.0)
    open_amount = frame["external_open_amount"]
    return {
        "_amount_of_debits": amount.where(debit),
        "_amount_of_credit_memos": amount.where(credit),
        "_signed_amount": amount * sign,
        **{f"_signed_{name}": frame[name] * sign for name in BOUNDED_BY_AMOUNT},
        "_external_open_amount_when_closed": open_amount.where(frame["status"].isin(CLOSED_STATUSES)),
        "_external_open_amount_when_open": open_amount.where(frame["status"].isin(OPEN_STATUSES)),
    }


def _fx_scopes(frame: pd.DataFrame, reporting_currency: str) -> dict[str, pd.Series]:
    """The rate of the reporting currency itself."""
    return {"_rate_of_reporting_currency": frame["rate_to_reporting"].where(frame["currency"] == reporting_currency)}


def _promise_scopes(frame: pd.DataFrame, reporting_currency: str) -> dict[str, pd.Series]:
    """The day a promise was recorded: a promise for later that same day is not before it."""
    return {"_created_on": frame["created_at"].dt.floor("D")}


SCOPED_COLUMNS: dict[str, Callable[[pd.DataFrame, str], dict[str, pd.Series]]] = {
    "invoices": _invoice_scopes,
    "fx_rates": _fx_scopes,
    "promises": _promise_scopes,
}


def _nanosecond_datetimes(values: pd.Series) -> pd.Series:
    """datetime64[ns] (GX compares only that unit vectorised), far-off values clipped inside it."""
    stamps = values if pd.api.types.is_datetime64_dtype(values) else pd.to_datetime(values)
    if stamps.dtype == "datetime64[ns]":
        return stamps
    return stamps.clip(NS_FLOOR, NS_CEILING).astype("datetime64[ns]")


def _comparable(col: Column, values: pd.Series) -> pd.Series:
    if col.name in CODE_COLUMNS:
        return values.astype("category")
    if col.type in ("date", "timestamp"):
        return _nanosecond_datetimes(values)
    if col.type in ("money", "rate", "int"):
        return pd.to_numeric(values).astype("float64")
    return values


def validation_frame(ent: Entity, frame: pd.DataFrame, reporting_currency: str) -> pd.DataFrame:
    """Canonical columns (absent optional ones as nulls) and scoped columns, indexed by row number.

    The index is the batch's ``_row_number`` and deliberately unnamed: GX then reports failing
    rows as plain index values, where ``unexpected_index_column_names`` would look each one up
    (minutes, not milliseconds, when a whole column is wrong in a million-row file).
    """
    columns = {
        col.name: _comparable(col, frame[col.name] if col.name in frame else pd.Series(None, index=frame.index, dtype=object))
        for col in ent.columns
    }
    prepared = pd.DataFrame(columns, index=frame.index)
    scoped = SCOPED_COLUMNS.get(ent.name)
    if scoped:
        prepared = prepared.assign(**scoped(prepared, reporting_currency))
    prepared.index = pd.Index(frame["_row_number"].to_numpy())
    return prepared


# --- turning failing rows into words ---------------------------------------------------------


def show(col: Column, value: object) -> str:
    """A value as a detail names it: quoted text, ISO dates, money with cents."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "null"
    if col.type == "timestamp" and isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if col.type in ("date", "timestamp"):
        return (value.date() if isinstance(value, dt.datetime) else value).isoformat()
    if col.type == "money":
        return f"{value:.2f}"
    if col.type == "rate":
        return f"{value:.8f}"
    return repr(str(value))


def render_details(ent: Entity, template: str, frame: pd.DataFrame, positions: np.ndarray) -> tuple[str, ...]:
    """Fill a detail template with the batch's own values (as landed) of the failing rows."""
    fields = sorted({name for _, name, _, _ in Formatter().parse(template) if name})
    if not fields:
        return (template,) * len(positions)
    shown = {
        name: [show(ent.column(name), v) for v in frame[name].take(positions).tolist()]
        if name in frame
        else ["null"] * len(positions)
        for name in fields
    }
    return tuple(template.format(**dict(zip(fields, row))) for row in zip(*(shown[f] for f in fields)))
