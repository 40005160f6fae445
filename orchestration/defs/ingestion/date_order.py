"""Day/month order of a date column, decided once per column from its values, never row by row.

A date written ``05/03/2026`` reads as 5 March or 3 May; only values whose first or second part
exceeds 12 tell the order. Before a group of batches is typed, every date column declared with a
day/month format is counted per batch:

- ``declared only``: values that read under the declared order and not under the swapped one;
- ``swapped only``: values that read only under the swapped order.

With one order declared, a batch is rejected as ``date_order_mismatch`` when some values read only
swapped and the declared order has no evidence of its own (it reads only the days up to 12, which
would land with day and month exchanged) or less than half as much. With both orders declared
(``%d/%m/%Y`` and ``%m/%d/%Y``), the column has one order, decided once and kept in
``quality.date_orders``: the order an earlier accepted load established, or else the order the
batches' evidence shows (the majority of the batches with evidence). That order is the only one
used for the column (ambiguous values read that way); a batch showing both orders is rejected, and
so is a batch whose evidence contradicts the column's order. Because the order outlives the run, a
file gets the same verdict whether it lands with others or alone on a retry (the verdict does not
depend on how files happen to be grouped). Without any evidence, ambiguous values stay quarantined
as ``ambiguous_date``.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from expectations.contracts import Entity
from expectations.rules import rule
from expectations.sql import lit
from orchestration.config import ColumnSpec, TableConfig
from orchestration.defs.ingestion.typing_sql import column_formats, trimmed

Problems = dict[int, list[tuple[str, str]]]


def swapped(fmt: str) -> str | None:
    """The format with day and month exchanged, for formats that put day and month before the year."""
    if "%d" not in fmt or "%m" not in fmt or fmt.startswith(("%Y", "%y")):
        return None
    return fmt.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")


@dataclass(frozen=True)
class Evidence:
    """Counts of one batch's values of one column under a format and its swap."""

    batch: int
    declared_only: int
    swapped_only: int
    either: int
    declared_example: str | None
    swapped_example: str | None


def _evidence(
    con: duckdb.DuckDBPyConnection, relation: str, column: str, spec: ColumnSpec, fmt: str, swap: str, others: list[str]
) -> list[Evidence]:
    value = trimmed(column, spec)
    not_other = " and ".join(f"try_strptime(v, {lit(o)}) is null" for o in others) or "true"
    rows = con.execute(
        f"""
        with v as (
            select _batch, v, try_strptime(v, {lit(fmt)}) is not null as a,
                   try_strptime(v, {lit(swap)}) is not null as b
            from (select _batch, {value} as v from {relation}) where v is not null and {not_other}
        )
        select _batch,
               count(*) filter (where a and not b), count(*) filter (where b and not a),
               count(*) filter (where a and b),
               min(v) filter (where a and not b), min(v) filter (where b and not a)
        from v group by _batch order by _batch
        """  # noqa: S608 (identifiers from the contract; literals through lit())
    ).fetchall()
    return [Evidence(*row) for row in rows]


def _describe(ev: Evidence, fmt: str, swap: str) -> str:
    def example(text: str | None) -> str:
        return f" (e.g. {text!r})" if text else ""

    return (
        f"{ev.declared_only:,} value(s) read only as {fmt!r}{example(ev.declared_example)}, "
        f"{ev.swapped_only:,} only as {swap!r}{example(ev.swapped_example)}, {ev.either:,} either way"
    )


@dataclass
class DateOrders:
    """What judging a group's day/month orders found."""

    #: Per batch ordinal, its ``date_order_mismatch`` problems.
    problems: Problems
    #: Per column, the formats to type it with where its order is decided (both orders declared).
    formats: dict[str, tuple[str, ...]]
    #: Per column, an order decided by this group (none established before) and the batch ordinals
    #: whose evidence shows it: recorded once one of them is accepted.
    decided: dict[str, tuple[str, frozenset[int]]]


def established_orders(con: duckdb.DuckDBPyConnection, source_table: str) -> dict[str, frozenset[str]]:
    """Per column of a raw table, the day/month orders earlier accepted loads established."""
    rows = con.execute(
        "select column_name, list(date_format) from quality.date_orders where source_table = ? group by 1",
        [source_table],
    ).fetchall()
    return {column: frozenset(formats) for column, formats in rows}


def record_order(con: duckdb.DuckDBPyConnection, source_table: str, column: str, fmt: str, file: str) -> None:
    """Keep the order a load established for a column, so later loads are judged against it."""
    con.execute(
        "insert into quality.date_orders values (?, ?, ?, ?, current_localtimestamp()::timestamp(0))",
        [source_table, column, fmt, file],
    )


def judge_date_order(
    con: duckdb.DuckDBPyConnection,
    ent: Entity,
    tbl: TableConfig,
    relation: str,
    files: list[str],
    established: dict[str, frozenset[str]] | None = None,
) -> DateOrders:
    """Judge every day/month date column of a group of batches (``relation``, with ``_batch``)
    against its declared formats and the orders ``established`` by earlier loads."""
    problems: Problems = {}
    narrowed: dict[str, tuple[str, ...]] = {}
    decided_now: dict[str, tuple[str, frozenset[int]]] = {}
    for name, spec in tbl.columns.items():
        col = ent.column(name)
        if col.type not in ("date", "timestamp") or spec.is_constant:
            continue
        formats = column_formats(col, tbl)
        pairs = [(f, swapped(f)) for f in formats if swapped(f)]
        seen: set[frozenset[str]] = set()
        for fmt, swap in pairs:
            assert swap is not None
            if frozenset((fmt, swap)) in seen:
                continue
            seen.add(frozenset((fmt, swap)))
            others = [f for f in formats if f not in (fmt, swap)]
            label = f"column {name} ({spec.label()})"
            evidence = _evidence(con, relation, name, spec, fmt, swap, others)
            if swap in formats:
                known = (established or {}).get(name, frozenset()) & {fmt, swap}
                decided = next(iter(known), None) or _vote(evidence, fmt, swap)
                if decided:
                    _reject_contradictions(evidence, fmt, swap, decided, label, files, problems)
                    narrowed[name] = tuple(f for f in formats if f != (swap if decided == fmt else fmt))
                    if not known:
                        decided_now[name] = (decided, _supporting(evidence, fmt, decided))
                else:
                    _reject_mixed(evidence, fmt, swap, label, files, problems)
            else:
                for ev in evidence:
                    contradicted = ev.swapped_only > 0 and (
                        ev.declared_only == 0 or ev.swapped_only > 2 * ev.declared_only
                    )
                    if contradicted:
                        problems.setdefault(ev.batch, []).append(
                            (
                                rule("date_order_mismatch"),
                                f"{files[ev.batch]}: {label} is declared {fmt!r} but {_describe(ev, fmt, swap)}; "
                                f"the values look like {swap!r}: declare it (no row of this file was accepted)",
                            )
                        )
    return DateOrders(problems, narrowed, decided_now)


def _vote(evidence: list[Evidence], fmt: str, swap: str) -> str | None:
    """The order most batches with one-sided evidence show (ties go to the first declared), or
    ``None`` when no batch shows either."""
    votes = {fmt: 0, swap: 0}
    for ev in evidence:
        if bool(ev.declared_only) != bool(ev.swapped_only):
            votes[fmt if ev.declared_only else swap] += 1
    if not any(votes.values()):
        return None
    return fmt if votes[fmt] >= votes[swap] else swap


def _supporting(evidence: list[Evidence], fmt: str, decided: str) -> frozenset[int]:
    """The batches whose values show only the decided order."""
    return frozenset(
        ev.batch
        for ev in evidence
        if (ev.declared_only if decided == fmt else ev.swapped_only) and not (ev.declared_only and ev.swapped_only)
    )


def _reject_mixed(
    evidence: list[Evidence], fmt: str, swap: str, label: str, files: list[str], problems: Problems
) -> None:
    """Reject every batch whose values show both orders: none of its ambiguous values is safe."""
    for ev in evidence:
        if ev.declared_only and ev.swapped_only:
            problems.setdefault(ev.batch, []).append(
                (
                    rule("date_order_mismatch"),
                    f"{files[ev.batch]}: {label} mixes both declared orders: {_describe(ev, fmt, swap)}; "
                    "no value up to the 12th can be read safely: export one order",
                )
            )


def _reject_contradictions(
    evidence: list[Evidence], fmt: str, swap: str, decided: str, label: str, files: list[str], problems: Problems
) -> None:
    """Reject every batch showing both orders or only the order the column does not have.

    The message depends on the batch alone (not on which files share its run), so a file retried
    alone gets the same verdict and its rejection is recorded once."""
    _reject_mixed(evidence, fmt, swap, label, files, problems)
    other = swap if decided == fmt else fmt
    for ev in evidence:
        own = ev.declared_only if other == fmt else ev.swapped_only
        if own and not (ev.declared_only and ev.swapped_only):
            problems.setdefault(ev.batch, []).append(
                (
                    rule("date_order_mismatch"),
                    f"{files[ev.batch]}: {label} reads {other!r} ({_describe(ev, fmt, swap)}) while the column's "
                    f"other files read {decided!r}: export one order",
                )
            )
