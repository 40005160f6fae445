"""Parent-link cycles: the one rule that is a graph walk rather than a predicate over rows.

An entity with a hierarchy (``Entity.parent``: CRM accounts, the ERP's customer parents) must not
loop. Finding the rows on a cycle of a functional graph is one linear pass in Python
(:func:`find_cycles`); landing hands over only the id/parent pairs of a hierarchy batch's rows
that typed cleanly, a small set (one row per customer or account), and gets the failures back in
the same form as the SQL rules produce them. The other relational rules are SQL
(:mod:`expectations.sql`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from expectations.contracts import Entity
from expectations.rules import rule


class Link(NamedTuple):
    """One row of a hierarchy batch: its batch, data row, id and parent id."""

    batch: int
    row_number: int
    id: str | None
    parent: str | None


class BatchFailure(NamedTuple):
    """One broken rule on one row of a batch (the batch's ordinal among those judged together)."""

    batch: int
    row_number: int
    rule: str
    column: str | None
    detail: str


def cycle_failures(ent: Entity, links: Iterable[Link]) -> list[BatchFailure]:
    """Every row whose id lies on a cycle of parent links within its batch, a self-parent included.

    An id repeated in a batch uses its last row's parent, as landing keeps the last row of a
    conflicting duplicate; descendants hanging below a cycle are not flagged (their own links are
    fine, and the customer dimension marks their hierarchy as cyclic).
    """
    if not ent.parent:
        return []
    by_batch: dict[int, list[Link]] = {}
    for link in links:
        by_batch.setdefault(link.batch, []).append(link)
    id_column, out = ent.key[0], []
    for batch, rows in by_batch.items():
        parent_of = {r.id: r.parent for r in sorted(rows, key=lambda r: r.row_number) if r.id is not None}
        on_cycle = find_cycles({i: p for i, p in parent_of.items() if p is not None})
        out += [
            BatchFailure(
                batch, r.row_number, rule("parent_account_cycle"), ent.parent, describe_cycle(id_column, on_cycle[r.id])
            )
            for r in rows
            if r.id in on_cycle
        ]
    return out


def find_cycles(parent_of: dict[str, str]) -> dict[str, list[str]]:
    """Map each node on a cycle to its cycle, starting at that node, in parent order.

    ``parent_of`` is a functional graph (one parent per node), so each walk from an unvisited
    node either ends at a root, joins an earlier walk, or closes a cycle on itself: O(nodes).
    """
    walk_of: dict[str, str] = {}
    on_cycle: dict[str, list[str]] = {}
    for start in parent_of:
        path: list[str] = []
        node: str | None = start
        while node is not None and node not in walk_of:
            walk_of[node] = start
            path.append(node)
            node = parent_of.get(node)
        if node is not None and walk_of[node] == start:
            cycle = path[path.index(node) :]
            for offset, member in enumerate(cycle):
                on_cycle[member] = cycle[offset:] + cycle[:offset]
    return on_cycle


def describe_cycle(id_column: str, cycle: list[str]) -> str:
    if len(cycle) == 1:
        return f"{id_column} {cycle[0]!r} is its own parent"
    loop = " -> ".join(repr(node) for node in [*cycle, cycle[0]])
    return f"{id_column} {cycle[0]!r} is on a parent cycle {loop}"
