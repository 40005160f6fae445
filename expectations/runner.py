"""Judge batches against their entity's source contract: the batch rules, and the row rules on frames.

Landing judges a batch inside DuckDB, in the statement that types it (``expectations.sql``). This
module holds what landing shares with everyone else:

- :func:`judge_batches`: the batch rules (:data:`expectations.rules.RULES` with severity
  ``batch`` judged after reading), from each batch's counts — rows landed, the previous load's
  rows, the columns present and the rows with a usable value in each required column. A batch
  that breaks one is rejected whole.
- :func:`validate_batch` / :func:`validate_batches`: the same verdicts landing reaches, for batches
  handed over as typed pandas frames (the canonical columns, typed, plus ``_row_number``, the
  1-based data row in the file). They run the very SQL landing runs, on an in-memory DuckDB, so
  tests, ``inflow check`` and the Great Expectations oracle all judge what landing judges.

Duplicate keys are not reported here: landing resolves them across and within batches by one
rule (exact copies keep the first, conflicting copies the latest ``updated_at``), and only it
can tell which copy wins.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from expectations import contracts
from expectations.contracts import Entity
from expectations.relations import Link, cycle_failures
from expectations.rules import RULES, rule
from expectations.sql import FAILURE_SEPARATOR, Known, rules_sql
from expectations.suites import Bounds, scoped_columns


@dataclass(frozen=True)
class RowFailure:
    """One broken rule on one row."""

    row_number: int
    rule: str
    column: str | None
    detail: str


@dataclass(frozen=True)
class BatchVerdict:
    """The verdict on one batch: rejected whole (with a message), or row failures (maybe none)."""

    rejected: bool
    message: str | None
    failures: list[RowFailure]
    summary: dict[str, int]  # failures per rule (batch rules broken, when rejected)


@dataclass(frozen=True)
class RuleTally:
    """How often one rule broke on one column of a batch, with one example value (masked when
    the column holds personal data)."""

    rule: str
    column: str | None
    count: int
    example: str | None


@dataclass(frozen=True)
class QuarantineLimits:
    """The quarantine-share gate: the largest share of a table's rows landed in one run
    (``table``) and of one load (``per_load``) that may be quarantined; a load or table with
    ``floor`` quarantined rows or fewer always passes, so a two-row daily file with one bad row
    does not stop the run."""

    table: float
    per_load: float
    floor: int

    def exceeded(self, quarantined: int, landed: int, limit: float) -> bool:
        return landed > 0 and quarantined > self.floor and quarantined / landed > limit


@dataclass(frozen=True)
class BatchCounts:
    """What the batch rules judge: rows as landed (before typing), the previous load's rows, the
    columns the batch has, and per required column the rows with a usable value after typing.

    ``quarantined`` / ``tallies``: rows failing a typing or row rule, and the rules broken (for
    the quarantine-share gate). ``snapshot``: the file is the whole table, so a collapse in rows
    is a truncated export (a delta file may be small). ``may_be_empty``: a delta file may add
    nothing (the new month's file on its first day), and a table taking only some rows of its
    file (a derived table) may find none; an empty snapshot is still rejected.
    """

    landed: int
    previous: int | None
    columns: frozenset[str]
    usable: Mapping[str, int] = field(default_factory=dict)
    quarantined: int = 0
    tallies: tuple[RuleTally, ...] = ()
    snapshot: bool = True
    may_be_empty: bool = False

    def with_previous(self, previous: int | None) -> BatchCounts:
        return BatchCounts(
            self.landed,
            previous,
            self.columns,
            self.usable,
            self.quarantined,
            self.tallies,
            self.snapshot,
            self.may_be_empty,
        )


def batch_problems(
    ent: Entity, counts: BatchCounts, drop_threshold: float, limits: QuarantineLimits | None = None
) -> list[tuple[str, str]]:
    """(rule, message) of every batch rule a batch breaks; empty when its rows may be judged."""
    problems: list[tuple[str, str]] = []
    if counts.landed == 0:
        if counts.may_be_empty:
            return problems
        problems.append((rule("batch_empty"), "the batch has no data rows (header only, or an empty result)"))
    missing = [name for name in ent.required if name not in counts.columns]
    if missing:
        present = ", ".join(sorted(counts.columns)) or "none"
        problems += [
            (
                rule("required_column_missing"),
                f"required column {name!r} of {ent.name} is missing (columns present: {present})",
            )
            for name in missing
        ]
    if counts.landed:
        problems += [
            (
                rule("required_column_empty"),
                f"required column {name!r} of {ent.name} is empty on all {counts.landed} rows; "
                "check the column mapping and the source's formats"
                + tally_text([t for t in counts.tallies if t.column == name]),
            )
            for name in ent.required
            if name in counts.columns and counts.usable.get(name, 0) == 0
        ]
    collapse = _collapse(counts.landed, counts.previous, drop_threshold) if counts.snapshot else None
    if collapse:
        problems.append((rule("row_count_collapsed"), collapse))
    if not problems and limits and limits.exceeded(counts.quarantined, counts.landed, limits.per_load):
        problems.append(
            (
                rule("quarantine_share_exceeded"),
                share_message(counts.quarantined, counts.landed, limits.per_load, "max_quarantine_share_per_load")
                + tally_text(counts.tallies),
            )
        )
    return problems


def judge_batches(
    ent: Entity,
    batches: Sequence[BatchCounts],
    drop_threshold: float,
    limits: QuarantineLimits | None = None,
    rejected: Set[int] = frozenset(),
) -> list[list[tuple[str, str]]]:
    """The batch rules' problems of each batch in order, as if landed one after another: the
    previous row count of a batch is the landed count of the nearest earlier batch that passed
    (its own ``previous`` when none did). With ``limits``, the batches that pass are then judged
    together: when their quarantined share passes ``limits.table``, every one of them is rejected
    (the table's loads of the run are one mistake, not many small ones). ``rejected``: ordinals
    already rejected by a rule judged elsewhere (date order), left out of both."""
    out: list[list[tuple[str, str]]] = []
    last_passed: int | None = None
    for i, counts in enumerate(batches):
        if last_passed is not None:
            counts = counts.with_previous(last_passed)
        problems = batch_problems(ent, counts, drop_threshold, limits)
        if not problems and i not in rejected:
            last_passed = counts.landed
        out.append(problems)
    passed = [i for i, problems in enumerate(out) if not problems and i not in rejected]
    landed = sum(batches[i].landed for i in passed)
    quarantined = sum(batches[i].quarantined for i in passed)
    if limits and len(passed) > 0 and limits.exceeded(quarantined, landed, limits.table):
        tallies = merge_tallies(t for i in passed for t in batches[i].tallies)
        message = (
            f"the {len(passed)} load(s) of this table in this run: "
            + share_message(quarantined, landed, limits.table, "max_quarantine_share")
            + tally_text(tallies)
        )
        for i in passed:
            out[i] = [(rule("quarantine_share_exceeded"), message)]
    return out


def share_message(quarantined: int, landed: int, limit: float, key: str) -> str:
    return f"{quarantined:,} of {landed:,} rows ({quarantined / landed:.1%}) quarantined, beyond {key} {limit:.0%}"


def merge_tallies(tallies: Iterable[RuleTally]) -> tuple[RuleTally, ...]:
    """Tallies of several batches summed per rule and column (first example kept), most frequent first."""
    merged: dict[tuple[str, str | None], RuleTally] = {}
    for t in tallies:
        seen = merged.get((t.rule, t.column))
        merged[(t.rule, t.column)] = (
            t if seen is None else RuleTally(t.rule, t.column, seen.count + t.count, seen.example or t.example)
        )
    return tuple(sorted(merged.values(), key=lambda t: (-t.count, t.rule, t.column or "")))


def tally_text(tallies: Sequence[RuleTally], top: int = 3) -> str:
    """'; top rules: unparseable_date on document_date 1,462 (e.g. '1/26/2013'), ...; likely fix: ...'"""
    if not tallies:
        return ""
    parts = []
    for t in tallies[:top]:
        where = f" on {t.column}" if t.column else ""
        example = f" (e.g. {t.example!r})" if t.example is not None else ""
        parts.append(f"{t.rule}{where} {t.count:,}{example}")
    return "; top rules: " + ", ".join(parts) + "; likely fix: " + likely_fix(tallies[0])


#: Date formats a likely-fix hint tries on an example value that matched none of the declared ones.
COMMON_DATE_FORMATS = (
    "%Y-%m-%d",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%d.%m.%Y",
    "%Y%m%d",
    "%m/%d/%y",
    "%d/%m/%y",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
)


def likely_fix(tally: RuleTally) -> str:
    """The owner's first move for the most frequent rule, sharpened by its example value."""
    if tally.rule in ("unparseable_date", "unparseable_timestamp", "ambiguous_date") and tally.example:
        fits = [f for f in COMMON_DATE_FORMATS if _parses(tally.example.strip(), f)]
        if fits:
            return f"values look like {' or '.join(repr(f) for f in fits)}; declare that format for {tally.column}"
    if tally.rule == "value_not_mapped" and tally.example:
        return f"add {tally.example!r} (and the other codes) to the map of {tally.column}"
    return RULES[tally.rule].fix


def _parses(value: str, fmt: str) -> bool:
    try:
        dt.datetime.strptime(value, fmt)
    except ValueError:
        return False
    return True


def rejection(problems: list[tuple[str, str]]) -> BatchVerdict:
    """The verdict on a batch that breaks batch rules: its message names every problem."""
    message = "; ".join(f"{name}: {text}" for name, text in problems)
    return BatchVerdict(True, message, [], dict(Counter(name for name, _ in problems)))


def _collapse(landed: int, previous: int | None, threshold: float) -> str | None:
    if not previous or landed == 0 or landed >= previous * (1 - threshold):
        return None
    drop = 1 - landed / previous
    return (
        f"{landed} rows against {previous} in the previous load, a drop of {drop:.1%} "
        f"beyond the threshold of {threshold:.0%}; the export looks truncated"
    )


def decode(encoded: str) -> tuple[str, str | None, str]:
    """(rule, column, detail) of a failure as the SQL encodes it."""
    name, column, text = encoded.split(FAILURE_SEPARATOR, 2)
    return name, column or None, text


# --- batches handed over as frames ------------------------------------------------------------


@dataclass(frozen=True)
class BatchContext:
    """What the validator knows about a batch beyond its rows; defaults suit a first load.

    ``landed_row_count`` is the number of rows the batch had as landed (defaults to the frame's
    length): "empty" and "collapsed" judge the export, not what typing left of it.
    ``previous_row_count`` is the previous load of the same source table; the batch is rejected
    when it has fewer than ``previous * (1 - row_count_drop_threshold)`` rows. ``bounds`` are the
    sane windows of dates and amounts. ``known_account_ids`` are CRM accounts landed earlier that
    a parent link may name.
    """

    as_of: dt.date | None = None
    landed_row_count: int | None = None
    previous_row_count: int | None = None
    row_count_drop_threshold: float = 0.5
    known_account_ids: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.row_count_drop_threshold <= 1:
            raise ValueError("row_count_drop_threshold must be a fraction between 0 and 1")
        for name in ("landed_row_count", "previous_row_count"):
            if (getattr(self, name) or 0) < 0:
                raise ValueError(f"{name} cannot be negative")

    @property
    def bounds(self) -> Bounds:
        return Bounds(as_of=self.as_of)


def validate_batch(
    entity: str,
    frame: pd.DataFrame,
    *,
    reporting_currency: str,
    known_customer_ids: Set[str] | None = None,
    context: BatchContext | None = None,
) -> BatchVerdict:
    """Validate one typed batch of ``entity``; see the module docstring for the contract.

    ``known_customer_ids`` (the customer master, normalized ids) turns on ``unknown_customer``
    for every column referencing a customer, and is where a customer's ERP parent may also be
    found. Raises ``ValueError``/``KeyError`` for caller errors (unknown entity, reporting
    currency that is not ISO 4217, ``_row_number`` missing or repeated), never for bad data.
    """
    return validate_batches(
        entity,
        [(frame, context or BatchContext())],
        reporting_currency=reporting_currency,
        known_customer_ids=known_customer_ids,
    )[0]


def validate_batches(
    entity: str,
    batches: Sequence[tuple[pd.DataFrame, BatchContext]],
    *,
    reporting_currency: str,
    known_customer_ids: Set[str] | None = None,
) -> list[BatchVerdict]:
    """Validate several batches of one entity, one verdict each, judged together as landing does.

    Batch rules are judged per batch, in order (:func:`judge_batches`); the row rules run once
    over the batches that pass them. Every batch's context must give the same date bounds and
    known accounts: they are one landing.
    """
    ent = contracts.entity(entity)
    scoped_columns(ent.name, reporting_currency)  # rejects a reporting currency that is not ISO 4217
    for frame, _ in batches:
        _check_row_numbers(frame)
    counts = [
        BatchCounts(
            ctx.landed_row_count if ctx.landed_row_count is not None else len(frame),
            ctx.previous_row_count,
            frozenset(frame.columns) - {"_row_number"},
            {name: int(frame[name].notna().sum()) for name in ent.required if name in frame},
        )
        for frame, ctx in batches
    ]
    problems = judge_batches(ent, counts, batches[0][1].row_count_drop_threshold if batches else 0.5)
    live = [i for i, p in enumerate(problems) if not p]
    contexts = {(batches[i][1].bounds, batches[i][1].known_account_ids) for i in live}
    if len(contexts) > 1:
        raise ValueError("batches validated together must share their date bounds and known account ids")
    failures = _row_failures(
        ent,
        {i: batches[i][0] for i in live},
        reporting_currency,
        known_customer_ids,
        batches[live[0]][1] if live else BatchContext(),
    )
    return [rejection(p) if p else _verdict(failures.get(i, [])) for i, p in enumerate(problems)]


def _check_row_numbers(frame: pd.DataFrame) -> None:
    if "_row_number" not in frame:
        raise ValueError("the batch frame needs a _row_number column (1-based data row in the file)")
    rows = frame["_row_number"]
    if rows.isna().any() or not rows.is_unique:
        raise ValueError("_row_number must be present and unique on every row of a batch")


def _typed_frame(ent: Entity, frames: Mapping[int, pd.DataFrame]) -> pd.DataFrame:
    """The batches stacked, with every canonical column (absent optional ones as nulls) and ``_batch``."""
    parts = []
    for ordinal, frame in frames.items():
        part = pd.DataFrame(
            {
                c.name: frame[c.name] if c.name in frame else pd.Series([None] * len(frame), dtype=object)
                for c in ent.columns
            },
            index=frame.index,
        )
        part["_batch"] = ordinal
        part["_row_number"] = frame["_row_number"].to_numpy()
        parts.append(part.reset_index(drop=True))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _row_failures(
    ent: Entity,
    frames: Mapping[int, pd.DataFrame],
    reporting_currency: str,
    known_customer_ids: Set[str] | None,
    ctx: BatchContext,
) -> dict[int, list[RowFailure]]:
    """Row failures per batch ordinal, from the same SQL landing runs."""
    stacked = _typed_frame(ent, frames)
    if stacked.empty:
        return {}
    con = duckdb.connect()
    try:
        con.register("_frames", stacked)
        casts = ", ".join(f"cast({c.name} as {c.duckdb_type}) as {c.name}" for c in ent.columns)
        con.execute(
            f"create temp table _typed as select {casts}, cast(_batch as bigint) as _batch, "  # noqa: S608 (identifiers from the contract; literals through lit())
            "cast(_row_number as bigint) as _row_number, cast([] as varchar[]) as _typing_failures "
            "from _frames"  # noqa: S608 (identifiers from the contract; literals through lit())
        )
        known = Known(
            customers=_ids_table(con, "_known_customers", "customer_id", known_customer_ids),
            parents=_ids_table(
                con, "_known_parents", "id", ctx.known_account_ids if ent.name == "crm_accounts" else known_customer_ids
            ),
        )
        judged = rules_sql(ent, "select * from _typed", reporting_currency, ctx.bounds, known)
        rows = con.execute(f"select _batch, _row_number, unnest(_failures) from ({judged})").fetchall()  # noqa: S608 (identifiers from the contract; literals through lit())
        out: dict[int, list[RowFailure]] = {}
        for batch, row_number, encoded in rows:
            out.setdefault(batch, []).append(RowFailure(row_number, *decode(encoded)))
        if ent.parent:
            links = con.execute(f"select _batch, _row_number, {ent.key[0]}, {ent.parent} from _typed").fetchall()  # noqa: S608 (identifiers from the contract; literals through lit())
            for f in cycle_failures(ent, (Link(*link) for link in links)):
                out.setdefault(f.batch, []).append(RowFailure(f.row_number, f.rule, f.column, f.detail))
        return out
    finally:
        con.close()


def _ids_table(con: duckdb.DuckDBPyConnection, name: str, column: str, ids: Set[str] | None) -> str | None:
    if ids is None:
        return None
    con.register(f"{name}_frame", pd.DataFrame({column: pd.Series(sorted(ids), dtype=object)}))
    con.execute(f"create temp table {name} as select cast({column} as varchar) as {column} from {name}_frame")  # noqa: S608 (identifiers from the contract; literals through lit())
    return name


def _verdict(failures: list[RowFailure]) -> BatchVerdict:
    """Row failures ordered by row, then rule, then column, with their count per rule."""
    failures = sorted(failures, key=lambda f: (f.row_number, f.rule, f.column or ""))
    return BatchVerdict(False, None, failures, dict(Counter(f.rule for f in failures)))
