"""The catalogue of every rule Inflow can emit: the one list the exceptions table is grouped by.

A rule name is an identifier that never changes once released: ``quality.exceptions.rule``,
per-owner exception reports and dashboards group by it. Every place that emits a rule names it
through :func:`rule`, which refuses a name missing here, so the catalogue cannot fall behind the
code; ``tests/test_rules_catalogue.py`` fires every rule once, so it cannot list a rule the code
can never emit. Renamed rules keep their old name in :data:`RENAMED` so existing homes are
migrated (see CHANGELOG.md).

- ``stage``: where the rule is judged — ``reader`` (the file or query as a whole), ``batch``
  (a landed batch after typing), ``typing`` (one value against its declared format), ``row``
  (one typed row against the entity's rules), ``relation`` (a row against other rows or entities),
  ``dedupe`` (a row against other rows with its business key), ``run`` (the warehouse as a whole,
  judged before publish), ``writeback`` (a change sent back to the ERP).
- ``severity``: ``batch`` rejects the whole batch (nothing of it is accepted); ``row`` quarantines
  the rows that break it while the rest of the batch lands.
- ``fix``: what the owner of the data does about it, for the exception reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Stage = Literal["reader", "batch", "typing", "row", "relation", "dedupe", "run", "writeback"]
Severity = Literal["batch", "row"]


@dataclass(frozen=True)
class Rule:
    """One rule: stable name, stage, severity, what it catches and what the owner does about it."""

    name: str
    stage: Stage
    severity: Severity
    catches: str
    fix: str


def _catalogue(*rules: Rule) -> dict[str, Rule]:
    names = [r.name for r in rules]
    if len(set(names)) != len(names):
        raise ValueError("rule names must be unique")
    return {r.name: r for r in rules}


_EXPORT = "correct the export (or the configured mapping) and drop the file again"
_VALUE = "correct the value in the source system; the row lands with the next export"

RULES: dict[str, Rule] = _catalogue(
    # -- the file or query as a whole ---------------------------------------------------------
    Rule(
        "no_files",
        "reader",
        "batch",
        "a configured path or glob that matches no file",
        "check the table's path in inflow.yml and that the export was delivered",
    ),
    Rule(
        "path_outside_roots",
        "reader",
        "batch",
        "a file the configured path reaches outside the configuration's folder and the declared "
        "paths.roots (through .., an absolute path or a symbolic link); it is not read",
        "move the export under the configuration's folder, or declare its folder in paths.roots",
    ),
    Rule(
        "empty_file",
        "reader",
        "batch",
        "a file with no header row at all (zero bytes, or fewer rows than header_row)",
        _EXPORT,
    ),
    Rule(
        "wrong_encoding",
        "reader",
        "batch",
        "a file that cannot be decoded with the declared encoding",
        "set options.encoding to the file's encoding",
    ),
    Rule(
        "unparseable_file",
        "reader",
        "batch",
        "a file the reader cannot parse (wrong delimiter, ragged rows, damaged workbook or Parquet)",
        "check options.delimiter / quote / header_row, or re-export the file",
    ),
    Rule("duplicate_header", "reader", "batch", "a header naming the same column twice", _EXPORT),
    Rule("query_failed", "reader", "batch", "a source query that the database refused", "fix the query or the grant"),
    Rule(
        "required_column_missing",
        "reader",
        "batch",
        "a required canonical column absent from the batch",
        "map the column in inflow.yml (columns:) or add it to the export",
    ),
    Rule(
        "batch_empty",
        "reader",
        "batch",
        "a batch with no data rows (header-only file, empty query result)",
        "re-run the export; an empty delivery is never treated as 'nothing is owed'",
    ),
    # -- the batch after typing ---------------------------------------------------------------
    Rule(
        "date_order_mismatch",
        "batch",
        "batch",
        "a date column whose values read under the declared day/month order only where the day is 12 or "
        "less, or read far more often under the swapped order, or mix both orders",
        "declare the order the values show (the message gives the evidence), e.g. '%m/%d/%Y' instead of '%d/%m/%Y'",
    ),
    Rule(
        "quarantine_share_exceeded",
        "batch",
        "batch",
        "a load (or a table's loads in one run) whose quarantined share passes max_quarantine_share_per_load "
        "(or max_quarantine_share) and the floor of quarantine_floor_rows: a mapping mistake, not a few bad rows",
        "read the top rules and example values in the message, fix the mapping or the formats, and run again",
    ),
    Rule(
        "required_column_empty",
        "batch",
        "batch",
        "a required column with no usable value on any row after typing (wrong mapping or undeclared format)",
        "check the column mapping and the declared formats",
    ),
    Rule(
        "row_count_collapsed",
        "batch",
        "batch",
        "far fewer rows than the previous load (truncated export)",
        "re-run the export; if the table really shrank, raise row_count_drop_threshold",
    ),
    # -- one value against its declared format ------------------------------------------------
    Rule("required_value_missing", "typing", "row", "a required value that is null or blank", _VALUE),
    Rule(
        "unparseable_date",
        "typing",
        "row",
        "a date matching none of the declared date formats",
        "declare the format in options.date_formats, or correct the value",
    ),
    Rule(
        "unparseable_timestamp",
        "typing",
        "row",
        "a timestamp matching none of the declared timestamp formats",
        "declare the format in options.timestamp_formats, or correct the value",
    ),
    Rule(
        "ambiguous_date",
        "typing",
        "row",
        "a date that reads as different days under the declared formats",
        "declare one date format per table (day/month order)",
    ),
    Rule(
        "unparseable_amount",
        "typing",
        "row",
        "an amount that is not a number under the declared separators",
        "check options.decimal and options.thousands, or correct the value",
    ),
    Rule(
        "value_not_mapped",
        "typing",
        "row",
        "a code that the column's value map does not list (e.g. an SAP document type)",
        "add the code to the column's map in inflow.yml, or correct the value",
    ),
    # -- one typed row against the entity's rules ---------------------------------------------
    Rule("currency_not_iso4217", "row", "row", "a currency that is not an active ISO 4217 code", _VALUE),
    Rule("amount_out_of_bounds", "row", "row", "a money value beyond the sane bound", _VALUE),
    Rule(
        "date_out_of_range", "row", "row", "a date before the earliest sane date or too far after the load date", _VALUE
    ),
    Rule(
        "document_type_invalid",
        "row",
        "row",
        "a document_type other than invoice, credit_memo, debit_memo",
        "map the export's document type codes onto invoice / credit_memo / debit_memo",
    ),
    Rule("due_before_document_date", "row", "row", "a due date before the document date", _VALUE),
    Rule("invoice_amount_not_positive", "row", "row", "an invoice or debit memo whose amount is not positive", _VALUE),
    Rule(
        "credit_memo_amount_not_negative",
        "row",
        "row",
        "a credit memo not negative after the sign convention",
        "check credit_memo_sign for the table",
    ),
    Rule("tax_amount_inconsistent", "row", "row", "tax of the wrong sign or larger than the document amount", _VALUE),
    Rule(
        "external_open_amount_inconsistent",
        "row",
        "row",
        "ERP open balance of the wrong sign or above the amount",
        _VALUE,
    ),
    Rule(
        "payment_status_inconsistent", "row", "row", "status 'paid' with an open balance, or 'open' with none", _VALUE
    ),
    Rule("credit_limit_negative", "row", "row", "a negative customer credit limit", _VALUE),
    Rule("payment_amount_not_positive", "row", "row", "a payment whose amount is not positive", _VALUE),
    Rule("applied_amount_not_positive", "row", "row", "a payment application whose amount is not positive", _VALUE),
    Rule("write_off_amount_not_positive", "row", "row", "a write-off whose amount is not positive", _VALUE),
    Rule("fx_rate_not_positive", "row", "row", "an FX rate that is zero or negative", _VALUE),
    Rule(
        "fx_rate_reporting_currency_not_one", "row", "row", "the reporting currency's own rate differs from 1", _VALUE
    ),
    Rule("email_invalid", "row", "row", "a contact email that is not shaped like an address", _VALUE),
    Rule("planned_amount_not_positive", "row", "row", "a planned invoice whose amount is not positive", _VALUE),
    Rule("planned_billing_kind_invalid", "row", "row", "a planned billing kind outside the contract's list", _VALUE),
    Rule("activity_kind_invalid", "row", "row", "an activity kind outside the contract's list", _VALUE),
    Rule("promise_amount_not_positive", "row", "row", "a promise to pay whose amount is not positive", _VALUE),
    Rule("promise_date_before_created", "row", "row", "a promise to pay on a day before it was recorded", _VALUE),
    Rule("dispute_amount_not_positive", "row", "row", "a disputed amount that is not positive", _VALUE),
    Rule("dispute_resolved_before_opened", "row", "row", "a dispute resolved before it was opened", _VALUE),
    # -- a row against other rows or entities -------------------------------------------------
    Rule(
        "unknown_customer",
        "relation",
        "row",
        "a customer_id that is not in the customer master",
        "add the customer to the master export, or correct the id",
    ),
    Rule("parent_account_unknown", "relation", "row", "a parent id that names no account/customer", _VALUE),
    Rule(
        "parent_account_cycle",
        "relation",
        "row",
        "an account on a cycle of parent links (incl. its own parent)",
        _VALUE,
    ),
    Rule(
        "duplicate_exact",
        "dedupe",
        "row",
        "an exact copy of a row already accepted with the same key",
        "nothing to do unless the export should not repeat rows",
    ),
    Rule(
        "duplicate_conflict",
        "dedupe",
        "row",
        "another version of a key whose later version (updated_at, then the later load) wins",
        "check which version is right in the source system",
    ),
    # -- the run as a whole, before publish ---------------------------------------------------
    Rule(
        "fx_rate_missing",
        "run",
        "batch",
        "open documents in a currency with no FX rate to the reporting currency on or before the as-of "
        "date: they would vanish from every reporting-currency KPI and the ECL provision",
        "add the missing rates to the FX source (or set quality.fx_rate_missing: warn to publish anyway)",
    ),
    # -- a change Inflow sends back to the ERP (writeback.erp_outbox) --------------------------
    Rule(
        "writeback_failed",
        "writeback",
        "row",
        "a change the target refused, or that ran out of delivery attempts",
        "read last_error in writeback.erp_outbox, fix the target or the data, then `inflow outbox approve` it",
    ),
    Rule(
        "writeback_unconfirmed",
        "writeback",
        "row",
        "a delivered change the ERP still does not show after unconfirmed_after_days",
        "check the ERP's import log for the batch named in the payload",
    ),
)

#: Old rule names, kept so homes landed by an earlier release are migrated to the new ones.
RENAMED: dict[str, str] = {
    "empty_batch": "batch_empty",
    "missing_required_column": "required_column_missing",
}


def rule(name: str) -> str:
    """The name of a catalogued rule; a name that is not in the catalogue is a programming error."""
    if name not in RULES:
        raise KeyError(f"rule {name!r} is not in the catalogue (expectations/rules.py)")
    return name
