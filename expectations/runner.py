"""Validate landed batches against their entity's source contract: pure functions, no I/O.

:func:`validate_batch` judges one typed batch (a file, or a query result); the landing layer
calls :func:`validate_batches`, which gives the same verdicts for several at once. Each batch is
a pandas frame of the entity's canonical columns, typed (dates as datetime64 or ``date``,
money as float64 or ``Decimal``: the warehouse keeps DECIMAL, validation compares floats) and
normalized as landing normalizes them, plus ``_row_number`` (1-based data row in the file).

- Batch rules (:data:`expectations.rules.RULES` with severity ``batch``) reject the batch whole:
  the verdict is ``rejected`` with a message starting with the rule name, no row failures, and
  ``summary`` counting the batch rules broken.
- Otherwise the entity's Great Expectations suite (:mod:`expectations.suites`) and the graph /
  membership rules (:mod:`expectations.relations`) run, and every broken rule on every row is one
  :class:`RowFailure`; a row may break several rules. ``summary`` counts failures per rule.

Duplicate keys are not reported here: landing resolves them across and within batches by one
rule (exact copies keep the first, conflicting copies the latest ``updated_at``), and only it
can tell which copy wins.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
from collections import Counter
from collections.abc import Sequence, Set
from dataclasses import dataclass, replace

import great_expectations as gx
import pandas as pd
from great_expectations.core import ExpectationValidationResult
from great_expectations.core.batch_definition import BatchDefinition
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)
from great_expectations.execution_engine import pandas_execution_engine
from great_expectations.expectations import Expectation
from great_expectations.validator.v1_validator import Validator

from expectations import contracts
from expectations.contracts import Entity
from expectations.currencies import ISO_4217_CURRENCIES
from expectations.relations import HIERARCHIES, parent_violations, unknown_customers
from expectations.rules import Violation
from expectations.suites import Bounds, can_fail, render_details, suite_parts, validation_frame

#: Whether each expectation holds, nothing more.
PASS_FAIL_FORMAT = {"result_format": "BOOLEAN_ONLY"}
#: Every failing row (as the frame's index: the row number); the index query, a string naming
#: all of them, is not needed.
ROWS_FORMAT = {"result_format": "COMPLETE", "return_unexpected_index_query": False}


@dataclass(frozen=True)
class RowFailure:
    """One broken rule on one row."""

    row_number: int
    rule: str
    column: str | None
    detail: str


@dataclass(frozen=True)
class BatchVerdict:
    """The validator's answer for one batch."""

    rejected: bool
    message: str | None  # batch-level: empty, missing required column, ...
    failures: list[RowFailure]  # row-level
    summary: dict[str, int]  # failures per rule (batch rules broken, when rejected)


@dataclass(frozen=True)
class BatchContext:
    """What the validator knows about a batch beyond its rows; defaults suit a first load.

    ``landed_row_count`` is the number of rows the batch had before rows that failed typing were
    set aside (defaults to the frame's length): "empty" and "collapsed" judge the export, not
    what typing left of it. ``previous_row_count`` is the previous load of the same source table;
    the batch is rejected when it has fewer than ``previous * (1 - row_count_drop_threshold)``
    rows. Dates must lie between ``earliest_date`` and ``as_of`` plus ``days_ahead`` (events:
    documents, payments, timestamps) or ``days_ahead_forward`` (due, planned and promised
    dates); without ``as_of`` only the lower bound applies. ``known_account_ids`` are CRM
    accounts landed earlier that a parent link may name.
    """

    as_of: dt.date | None = None
    landed_row_count: int | None = None
    previous_row_count: int | None = None
    row_count_drop_threshold: float = 0.5
    earliest_date: dt.date = dt.date(1990, 1, 1)
    days_ahead: int = 90
    days_ahead_forward: int = 5 * 366
    max_abs_amount: float = 10_000_000_000.0
    known_account_ids: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.row_count_drop_threshold <= 1:
            raise ValueError("row_count_drop_threshold must be a fraction between 0 and 1")
        for name in ("landed_row_count", "previous_row_count"):
            if (getattr(self, name) or 0) < 0:
                raise ValueError(f"{name} cannot be negative")
        if self.days_ahead < 0 or self.days_ahead_forward < 0:
            raise ValueError("days_ahead and days_ahead_forward cannot be negative")
        if self.max_abs_amount <= 0:
            raise ValueError("max_abs_amount must be positive")

    @property
    def bounds(self) -> Bounds:
        return Bounds(self.as_of, self.earliest_date, self.days_ahead, self.days_ahead_forward, self.max_abs_amount)


def validate_batch(
    entity: str,
    frame: pd.DataFrame,
    *,
    reporting_currency: str,
    known_customer_ids: set[str] | None = None,
    context: BatchContext | None = None,
) -> BatchVerdict:
    """Validate one typed batch of ``entity``; see the module docstring for the contract.

    ``known_customer_ids`` (the customer master, normalized ids) turns on ``unknown_customer``
    for every entity with a customer_id, and is where a customer's ERP parent may also be found.
    Raises ``ValueError``/``KeyError`` for caller errors (unknown entity, reporting currency that
    is not ISO 4217, ``_row_number`` missing or repeated), never for bad data.
    """
    return validate_batches(entity, [(frame, context or BatchContext())], reporting_currency=reporting_currency,
                            known_customer_ids=known_customer_ids)[0]


def validate_batches(
    entity: str,
    batches: Sequence[tuple[pd.DataFrame, BatchContext]],
    *,
    reporting_currency: str,
    known_customer_ids: set[str] | None = None,
) -> list[BatchVerdict]:
    """Validate several batches of one entity, one verdict each, as :func:`validate_batch` would.

    Batch rules are judged per batch. The row rules run once over the batches that pass them,
    stacked: GX's cost per validation is mostly fixed, so a table of many monthly files is
    validated in one pass instead of one per file. Batches are judged in order, as if landed one
    after another: the previous row count of a batch is the landed count of the nearest earlier
    batch of the call that passed the batch rules (its context's own when none did). Hierarchies (a parent must name a row of
    the same batch, or a known one) are judged batch by batch, as their rule says. Every
    batch's context must give the same date bounds and known accounts: they are one landing.
    """
    ent = contracts.entity(entity)
    if reporting_currency not in ISO_4217_CURRENCIES:
        raise ValueError(f"reporting_currency {reporting_currency!r} is not an active ISO 4217 code")
    for frame, _ in batches:
        _check_row_numbers(frame)
    verdicts = _batch_verdicts(ent, batches)
    live = [i for i, verdict in enumerate(verdicts) if verdict is None]
    if len({(batches[i][1].bounds, batches[i][1].known_account_ids) for i in live}) > 1:
        raise ValueError("batches validated together must share their date bounds and known account ids")
    stacks = [[i] for i in live] if ent.name in HIERARCHIES else [live]
    for stack in stacks:
        frames = [batches[i][0] for i in stack]
        row_counts = [len(frame) for frame in frames]
        violations = []
        if sum(row_counts):  # else every landed row failed typing: nothing left to validate
            violations = _row_violations(ent, _stacked(frames), reporting_currency, known_customer_ids,
                                         batches[stack[0]][1])
        for i, frame, part in zip(stack, frames, _split(violations, row_counts)):
            verdicts[i] = _verdict(frame, part)
    return verdicts  # type: ignore[return-value]  # every entry is filled by now


def _batch_verdicts(ent: Entity, batches: Sequence[tuple[pd.DataFrame, BatchContext]]) -> list[BatchVerdict | None]:
    """The batch rules' verdict on each batch in order (None: passed), chaining previous row counts."""
    verdicts: list[BatchVerdict | None] = []
    last_passed: int | None = None
    for frame, ctx in batches:
        if last_passed is not None:
            ctx = replace(ctx, previous_row_count=last_passed)
        verdict = batch_rejection(ent, frame, ctx)
        if verdict is None:
            last_passed = len(frame) if ctx.landed_row_count is None else ctx.landed_row_count
        verdicts.append(verdict)
    return verdicts


def _stacked(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Batches one under the other, renumbered 1..n so row numbers stay unique across them."""
    if len(frames) == 1:
        return frames[0]
    stacked = pd.concat(frames, ignore_index=True)
    stacked["_row_number"] = range(1, len(stacked) + 1)
    return stacked


def _split(violations: list[Violation], row_counts: list[int]) -> list[list[Violation]]:
    """The violations of stacked batches, cut back into each batch's own positions."""
    parts: list[list[Violation]] = []
    start = 0
    for count in row_counts:
        part = []
        for v in violations:
            mask = (v.positions >= start) & (v.positions < start + count)
            if mask.any():
                details = tuple(d for d, keep in zip(v.details, mask) if keep)
                part.append(Violation(v.rule, v.column, v.positions[mask] - start, details))
        parts.append(part)
        start += count
    return parts


def _row_violations(ent: Entity, frame: pd.DataFrame, reporting_currency: str,
                    known_customer_ids: Set[str] | None, ctx: BatchContext) -> list[Violation]:
    return (_suite_violations(ent, frame, reporting_currency, ctx.bounds)
            + _relational_violations(ent, frame, known_customer_ids, ctx.known_account_ids))


def _check_row_numbers(frame: pd.DataFrame) -> None:
    if "_row_number" not in frame:
        raise ValueError("the batch frame needs a _row_number column (1-based data row in the file)")
    rows = frame["_row_number"]
    if rows.isna().any() or not rows.is_unique:
        raise ValueError("_row_number must be present and unique on every row of a batch")


# --- batch rules -----------------------------------------------------------------------------


def batch_rejection(ent: Entity, frame: pd.DataFrame, ctx: BatchContext) -> BatchVerdict | None:
    """Reject a batch unusable as a whole; None when it may be validated row by row."""
    landed = len(frame) if ctx.landed_row_count is None else ctx.landed_row_count
    problems: list[tuple[str, str]] = []
    if landed == 0:
        problems.append(("batch_empty", "the batch has no data rows (header only, or an empty result)"))
    missing = [name for name in ent.required if name not in frame]
    if missing:
        present = ", ".join(sorted(c for c in frame.columns if c != "_row_number")) or "none"
        problems += [
            ("required_column_missing", f"required column {name!r} of {ent.name} is missing (columns present: {present})")
            for name in missing
        ]
    if len(frame):
        problems += [
            ("required_column_empty", f"required column {name!r} of {ent.name} is empty on all {len(frame)} rows; "
             "check the column mapping and the source's formats")
            for name in ent.required
            if name in frame and frame[name].isna().all()
        ]
    collapse = _collapse(landed, ctx)
    if collapse:
        problems.append(("row_count_collapsed", collapse))
    if not problems:
        return None
    message = "; ".join(f"{rule}: {text}" for rule, text in problems)
    return BatchVerdict(True, message, [], dict(Counter(rule for rule, _ in problems)))


def _collapse(landed: int, ctx: BatchContext) -> str | None:
    previous = ctx.previous_row_count
    if not previous or landed == 0 or landed >= previous * (1 - ctx.row_count_drop_threshold):
        return None
    drop = 1 - landed / previous
    return (
        f"{landed} rows against {previous} in the previous load, a drop of {drop:.1%} "
        f"beyond the threshold of {ctx.row_count_drop_threshold:.0%}; the export looks truncated"
    )


# --- row rules -------------------------------------------------------------------------------


@functools.cache
def _batch_definition() -> BatchDefinition:
    """The process's one ephemeral GX context and whole-dataframe batch definition."""
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
    )
    # GX fingerprints every pandas batch under 1 GB (pandas row hashes, then md5) only to show
    # it in result metadata; on a million-row batch with unique string ids that is about a fifth
    # of the validation time. Inflow identifies batches by their file checksum: switched off.
    pandas_execution_engine.HASH_THRESHOLD = 0
    context = gx.get_context(mode="ephemeral", project_config=config)
    asset = context.data_sources.add_pandas("inflow_landing").add_dataframe_asset("landed_batch")
    return asset.add_batch_definition_whole_dataframe("whole_batch")


#: The shared batch definition is not safe for concurrent batches; validations take turns.
_GX_LOCK = threading.Lock()


def _suite_violations(ent: Entity, frame: pd.DataFrame, reporting_currency: str, bounds: Bounds) -> list[Violation]:
    """Run the entity's suite part by part; each failed expectation becomes a Violation.

    A first pass asks GX only whether each expectation holds (a fraction of the metrics);
    only the failed ones are run again to list every failing row. Clean batches, the common
    case, pay for the first pass alone.
    """
    prepared = validation_frame(ent, frame, reporting_currency)
    nulls = prepared.isna()
    all_null, some_null = set(prepared.columns[nulls.all()]), set(prepared.columns[nulls.any()])
    row_positions = pd.Index(frame["_row_number"].to_numpy())
    violations = []
    for part in suite_parts(ent.name, reporting_currency, bounds):
        data = prepared[list(part.columns)]
        live = [e for e in part.expectations if can_fail(e, all_null, some_null)]
        verdicts = _validate(part.name, data, live, PASS_FAIL_FORMAT)
        failed = [r.expectation_config.to_domain_obj() for r in verdicts if not r.success]
        for result in _validate(part.name, data, failed, ROWS_FORMAT):
            meta = result.expectation_config.meta
            positions = row_positions.get_indexer(result.result["unexpected_index_list"])
            details = render_details(ent, meta["detail"], frame, positions)
            violations.append(Violation(meta["rule"], meta["column"], positions, details))
    return violations


def _validate(
    name: str, data: pd.DataFrame, expectations: list[Expectation], result_format: dict
) -> list[ExpectationValidationResult]:
    """Validate ``expectations`` on ``data`` as one suite; fail loudly if one could not run."""
    if not expectations:
        return []
    suite = gx.ExpectationSuite(name=name, expectations=expectations)
    with _GX_LOCK:
        validator = Validator(
            batch_definition=_batch_definition(), batch_parameters={"dataframe": data}, result_format=result_format
        )
        results = validator.validate_expectation_suite(suite).results
    for result in results:
        errors = gx_errors(result.exception_info)
        if errors:
            raise RuntimeError(
                f"expectation {result.expectation_config.type} of suite {name} failed to run: {errors[0]}"
            )
    return results


def gx_errors(exception_info: dict) -> list[str]:
    """Messages of the metrics that raised while GX validated one expectation.

    GX reports one flat ``{raised_exception, exception_message, ...}`` or, when metrics fail,
    one such dict per metric id. A raised metric is a defect of the suite or of the frame's
    dtypes, never a data problem, so the runner fails loudly instead of passing the rows.
    """
    entries = [exception_info] if "raised_exception" in exception_info else list(exception_info.values())
    return [
        str(entry.get("exception_message"))
        for entry in entries
        if isinstance(entry, dict) and entry.get("raised_exception")
    ]


def _relational_violations(
    ent: Entity, frame: pd.DataFrame, known_customer_ids: Set[str] | None, known_account_ids: Set[str] | None
) -> list[Violation]:
    violations = []
    if known_customer_ids is not None and ent.name != "customers" and "customer_id" in frame:
        violations += unknown_customers(frame, known_customer_ids)
    if ent.name in HIERARCHIES:
        id_column, parent_column = HIERARCHIES[ent.name]
        if parent_column in frame:
            known = known_account_ids if ent.name == "crm_accounts" else known_customer_ids
            violations += parent_violations(frame, id_column, parent_column, known)
    return violations


def _verdict(frame: pd.DataFrame, violations: list[Violation]) -> BatchVerdict:
    """Row failures ordered by row, then rule, then column, with their count per rule."""
    row_numbers = frame["_row_number"].to_numpy()
    failures = [
        RowFailure(row, v.rule, v.column, detail)
        for v in violations
        for row, detail in zip(row_numbers[v.positions].tolist(), v.details)
    ]
    failures.sort(key=lambda f: (f.row_number, f.rule, f.column or ""))
    return BatchVerdict(False, None, failures, dict(Counter(f.rule for f in failures)))
