"""Row rules that look beyond one row: customers known to the master, parent-account graphs.

GX has no expectation for "this id is in a set only known at run time" that stays cheap with a
million known ids (the set would be copied into the expectation and every result), nor any graph
expectation, so these are plain vectorised pandas (the cycle walk is one linear pass). They
compare ids as landed, i.e. already normalized (trimmed, all-digit ids without leading zeros).
"""

from __future__ import annotations

from collections.abc import Set

import numpy as np
import pandas as pd

from expectations.rules import Violation

#: Entities whose rows point at a parent row of the same entity: (id column, parent column).
HIERARCHIES: dict[str, tuple[str, str]] = {
    "crm_accounts": ("account_id", "parent_account_id"),
    "customers": ("customer_id", "erp_parent_id"),
}


def unknown_customers(frame: pd.DataFrame, known_customer_ids: Set[str]) -> list[Violation]:
    """Rows whose customer_id is present but not in the customer master."""
    ids = frame["customer_id"]
    positions = np.flatnonzero((ids.notna() & ~ids.isin(known_customer_ids)).to_numpy())
    if not len(positions):
        return []
    details = tuple(f"customer_id {v!r} is not in the customer master" for v in ids.take(positions).tolist())
    return [Violation("unknown_customer", "customer_id", positions, details)]


def parent_violations(
    frame: pd.DataFrame, id_column: str, parent_column: str, known_ids: Set[str] | None
) -> list[Violation]:
    """Parents that name no row of the batch (nor a known id), and rows on a cycle of parents."""
    ids, parents = frame[id_column], frame[parent_column]
    return _unknown_parents(ids, parents, id_column, parent_column, known_ids) + _cycles(
        ids, parents, id_column, parent_column
    )


def _unknown_parents(
    ids: pd.Series, parents: pd.Series, id_column: str, parent_column: str, known_ids: Set[str] | None
) -> list[Violation]:
    known = parents.isin(set(ids.dropna()))
    if known_ids is not None:
        known |= parents.isin(known_ids)
    positions = np.flatnonzero((parents.notna() & ~known).to_numpy())
    if not len(positions):
        return []
    where = (
        f"is not an {id_column} in this batch" if known_ids is None
        else f"is neither an {id_column} in this batch nor a known one"
    )
    details = tuple(
        f"{parent_column} {p!r} of {id_column} {i!r} {where}"
        for i, p in zip(ids.take(positions).tolist(), parents.take(positions).tolist())
    )
    return [Violation("parent_account_unknown", parent_column, positions, details)]


def _cycles(ids: pd.Series, parents: pd.Series, id_column: str, parent_column: str) -> list[Violation]:
    """Every row whose id lies on a cycle of parent links, a self-parent included.

    An id repeated in the batch uses its last row's parent, as landing keeps the last row of a
    conflicting duplicate; descendants hanging below a cycle are not flagged (their own links
    are fine, and the customer dimension marks their hierarchy as cyclic).
    """
    links = pd.DataFrame({"id": ids, "parent": parents}).dropna(subset=["id"])
    links = links.drop_duplicates("id", keep="last").dropna(subset=["parent"])
    on_cycle = find_cycles(dict(zip(links["id"].tolist(), links["parent"].tolist())))
    if not on_cycle:
        return []
    positions = np.flatnonzero(ids.isin(set(on_cycle)).to_numpy())
    details = tuple(_describe_cycle(id_column, on_cycle[i]) for i in ids.take(positions).tolist())
    return [Violation("parent_account_cycle", parent_column, positions, details)]


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
            cycle = path[path.index(node):]
            for offset, member in enumerate(cycle):
                on_cycle[member] = cycle[offset:] + cycle[:offset]
    return on_cycle


def _describe_cycle(id_column: str, cycle: list[str]) -> str:
    if len(cycle) == 1:
        return f"{id_column} {cycle[0]!r} is its own parent"
    loop = " -> ".join(repr(node) for node in [*cycle, cycle[0]])
    return f"{id_column} {cycle[0]!r} is on a parent cycle {loop}"
