"""Day/month order of a date column, decided once per column from its values, never row by row.

A date written ``05/03/2026`` reads as 5 March or 3 May; only values whose first or second part
exceeds 12 tell the order. Before a group of batches is typed, every date column declared with a
day/month format is counted per batch:

- ``declared only``: values that read under the declared order and not under the swapped one;
- ``swapped only``: values that read only under the swapped order.

With one order declared, a batch is rejected as ``date_order_mismatch`` when some values read only
swapped and the declared order has no evidence of its own (it reads only the days up to 12, which
would land with day and month exchanged) or less than half as much. With both orders declared
(``%d/%m/%Y`` and ``%m/%d/%Y``), the column's order is decided from the batches' evidence: the
order with evidence is the only one used for the column (ambiguous values read that way); a batch
showing both orders is rejected, and so is a batch whose evidence contradicts the group's other
batches. Without any evidence, ambiguous values stay quarantined as ``ambiguous_date``.
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


def judge_date_order(
    con: duckdb.DuckDBPyConnection, ent: Entity, tbl: TableConfig, relation: str, files: list[str]
) -> tuple[Problems, dict[str, tuple[str, ...]]]:
    """Per batch ordinal, the ``date_order_mismatch`` problems; per column, the formats to type
    it with where the order was decided from the values (both orders declared)."""
    problems: Problems = {}
    narrowed: dict[str, tuple[str, ...]] = {}
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
                decided = _decide(evidence, fmt, swap, label, files, problems)
                if decided:
                    narrowed[name] = tuple(f for f in formats if f != (swap if decided == fmt else fmt))
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
    return problems, narrowed


def _decide(
    evidence: list[Evidence], fmt: str, swap: str, label: str, files: list[str], problems: Problems
) -> str | None:
    """The one order of a column declared with both orders, from the batches' evidence."""
    votes = {fmt: 0, swap: 0}
    for ev in evidence:
        if ev.declared_only and ev.swapped_only:
            problems.setdefault(ev.batch, []).append(
                (
                    rule("date_order_mismatch"),
                    f"{files[ev.batch]}: {label} mixes both declared orders: {_describe(ev, fmt, swap)}; "
                    "no value up to the 12th can be read safely: export one order",
                )
            )
        elif ev.declared_only or ev.swapped_only:
            votes[fmt if ev.declared_only else swap] += 1
    if not any(votes.values()):
        return None
    decided = fmt if votes[fmt] >= votes[swap] else swap
    other = swap if decided == fmt else fmt
    for ev in evidence:
        own = ev.declared_only if other == fmt else ev.swapped_only
        if own and not (ev.declared_only and ev.swapped_only):
            problems.setdefault(ev.batch, []).append(
                (
                    rule("date_order_mismatch"),
                    f"{files[ev.batch]}: {label} reads {other!r} ({_describe(ev, fmt, swap)}) while the other files "
                    f"of this load read {decided!r}",
                )
            )
    return decided
