"""The catalogue of validation rules: stable names the exceptions table, owners and tests rely on.

A rule name is an identifier that never changes once released: ``quality.exceptions.rule``,
per-owner exception reports and dashboards group by it. Batch rules reject a whole batch; row
rules quarantine the rows that break them while the rest of the batch loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Severity = Literal["batch", "row"]


@dataclass(frozen=True)
class Rule:
    """One rule: its stable name, whether it rejects a batch or a row, and what it catches."""

    name: str
    severity: Severity
    catches: str


def _catalogue(*rules: Rule) -> dict[str, Rule]:
    return {r.name: r for r in rules}


RULES: dict[str, Rule] = _catalogue(
    Rule("batch_empty", "batch", "a batch with no data rows (header-only file, empty query result)"),
    Rule("required_column_missing", "batch", "a required canonical column absent from the batch"),
    Rule("required_column_empty", "batch", "a required column null on every row (mapping or format wrong)"),
    Rule("row_count_collapsed", "batch", "far fewer rows than the previous load (truncated export)"),
    Rule("required_value_missing", "row", "a required value that is null or blank"),
    Rule("currency_not_iso4217", "row", "a currency that is not an active ISO 4217 code"),
    Rule("amount_out_of_bounds", "row", "a money value beyond the configured sane bound"),
    Rule("date_out_of_range", "row", "a date before the earliest sane date or too far after as-of"),
    Rule("unknown_customer", "row", "a customer_id that is not in the customer master"),
    Rule("parent_account_unknown", "row", "a parent id that names no account/customer"),
    Rule("parent_account_cycle", "row", "an account on a cycle of parent links (incl. its own parent)"),
    Rule("document_type_invalid", "row", "a document_type other than invoice, credit_memo, debit_memo"),
    Rule("due_before_document_date", "row", "a due date before the document date"),
    Rule("invoice_amount_not_positive", "row", "an invoice or debit memo whose amount is not positive"),
    Rule("credit_memo_amount_not_negative", "row", "a credit memo not negative after the sign convention"),
    Rule("tax_amount_inconsistent", "row", "tax of the wrong sign or larger than the document amount"),
    Rule("external_open_amount_inconsistent", "row", "ERP open balance of the wrong sign or above the amount"),
    Rule("payment_status_inconsistent", "row", "status 'paid' with an open balance, or 'open' with none"),
    Rule("credit_limit_negative", "row", "a negative customer credit limit"),
    Rule("payment_amount_not_positive", "row", "a payment whose amount is not positive"),
    Rule("applied_amount_not_positive", "row", "a payment application whose amount is not positive"),
    Rule("write_off_amount_not_positive", "row", "a write-off whose amount is not positive"),
    Rule("fx_rate_not_positive", "row", "an FX rate that is zero or negative"),
    Rule("fx_rate_reporting_currency_not_one", "row", "the reporting currency's own rate differs from 1"),
    Rule("email_invalid", "row", "a contact email that is not shaped like an address"),
    Rule("planned_amount_not_positive", "row", "a planned invoice whose amount is not positive"),
    Rule("planned_billing_kind_invalid", "row", "a planned billing kind outside the contract's list"),
    Rule("activity_kind_invalid", "row", "an activity kind outside the contract's list"),
    Rule("promise_amount_not_positive", "row", "a promise to pay whose amount is not positive"),
    Rule("promise_date_before_created", "row", "a promise to pay on a day before it was recorded"),
    Rule("dispute_amount_not_positive", "row", "a disputed amount that is not positive"),
    Rule("dispute_resolved_before_opened", "row", "a dispute resolved before it was opened"),
)


@dataclass(frozen=True)
class Violation:
    """One rule broken on some rows of a batch: the rows' positions and one detail per row."""

    rule: str
    column: str | None
    positions: np.ndarray
    details: tuple[str, ...]
