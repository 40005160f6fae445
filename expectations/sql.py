"""The source contracts compiled to DuckDB SQL: row rules, relations and failure details.

Landing types a batch with SQL built from the reader options (``typing_sql``) and judges it with
SQL built here from the contract, in the same statement: every row gets ``_failures``, a list of
encoded failures (``rule<US>column<US>detail``), and a row with any failure is quarantined. The
checks are :mod:`expectations.suites`; each compiles to a predicate that is true when the row
breaks it, skipping nulls exactly as Great Expectations does (the GX oracle test holds both to the
same verdicts). Relations look beyond the row: a customer reference against the customer master
landed so far, a parent link against the batch's own rows and the rows landed before. Parent
*cycles* are a graph walk, done in Python on the few id/parent pairs (:mod:`expectations.relations`).

Identifiers come from the contract, values from the contract or the checks (no data reaches the
SQL text); literals are quoted by :func:`lit`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from string import Formatter

from expectations.contracts import Column, Entity
from expectations.privacy import mask_sql
from expectations.rules import rule
from expectations.suites import Bounds, Check, entity_checks, scoped_columns

#: Separates rule, column and detail of one encoded failure (ASCII unit separator).
FAILURE_SEPARATOR = "\x1f"


def lit(value: object) -> str:
    """A SQL literal for a value of the contract or a check (text, number, date, timestamp)."""
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return f"timestamp '{value.isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"date '{value.isoformat()}'"
    if isinstance(value, int | float):
        return repr(value)
    raise TypeError(f"no SQL literal for {value!r}")


def failure(rule_name: str, column: str, detail_sql: str) -> str:
    """SQL text of one encoded failure: 'rule<US>column<US>' || detail."""
    sep = lit(FAILURE_SEPARATOR)
    return f"{lit(rule(rule_name))} || {sep} || {lit(column)} || {sep} || {detail_sql}"


def failure_list(cases: list[str]) -> str:
    """SQL of the list of the failures that apply (each case yields a failure or null)."""
    if not cases:
        return "cast([] as varchar[])"
    return f"cast(list_filter([{', '.join(cases)}], lambda x: x is not null) as varchar[])"


def show(col: Column, expr: str) -> str:
    """SQL text naming a value as a detail does: quoted text, ISO dates, money with cents, 'null';
    a personal column's value masked (a detail reaches owners' files, serving and exports)."""
    if col.pii:
        expr = mask_sql(expr, col.pii)
    if col.type in ("money", "rate"):
        shown = f"printf('%.{2 if col.type == 'money' else 8}f', {expr})"
    elif col.type in ("date", "timestamp"):
        shown = f"cast({expr} as varchar)"
    else:
        text = f"cast({expr} as varchar)"
        shown = (
            f"case when contains({text}, '''') and not contains({text}, '\"') then '\"' || {text} || '\"' "
            f"else '''' || {text} || '''' end"
        )
    return f"coalesce({shown}, 'null')"


def detail(ent: Entity, template: str, qualifier: str = "") -> str:
    """SQL text filling a detail template with the row's canonical values."""
    parts = []
    for literal, field, _, _ in Formatter().parse(template):
        if literal:
            parts.append(lit(literal))
        if field:
            parts.append(show(ent.column(field), qualifier + field))
    return " || ".join(parts) or "''"


def unexpected(check: Check) -> str:
    """SQL true when a row breaks the check; nulls are skipped except by ``not_null`` (as in GX)."""
    target = check.target
    if check.kind == "not_null":
        return f"{target} is null"
    present = f"{target} is not null"
    if check.kind == "between":
        inside = []
        if check.low is not None:
            inside.append(f"{target} {'>' if check.strict_low else '>='} {lit(check.low)}")
        if check.high is not None:
            inside.append(f"{target} {'<' if check.strict_high else '<='} {lit(check.high)}")
        return f"{present} and not ({' and '.join(inside) or 'true'})"
    if check.kind in ("in_set", "not_in_set"):
        listed = f"{target} in ({', '.join(lit(v) for v in check.values)})"
        return f"{present} and {'not ' if check.kind == 'in_set' else ''}({listed})"
    if check.kind == "not_below":
        return f"{present} and {check.other} is not null and not ({target} >= {check.other})"
    return f"{present} and not regexp_matches({target}, {lit(check.pattern or '')})"


def check_failure(ent: Entity, check: Check) -> str:
    """SQL yielding the encoded failure of one check on a row, or null."""
    return f"case when {unexpected(check)} then {failure(check.rule, check.column, detail(ent, check.detail))} end"


@dataclass(frozen=True)
class Known:
    """Relations holding ids landed before this batch, or None where nothing is known yet.

    ``customers``: one ``customer_id`` column, the customer master (turns on ``unknown_customer``);
    ``parents``: one ``id`` column, rows of the entity itself that a parent link may name.
    """

    customers: str | None = None
    parents: str | None = None


def _parent_id_column(ent: Entity) -> str:
    return ent.key[0]


def relation_cases(ent: Entity, known: Known) -> tuple[list[str], list[str]]:
    """(joins, failure cases) of the relational rules over ``r``, the row being judged.

    A parent may be named by a clean row of the same batch (``_clean_ids``, a CTE of the
    rules query) or by a row landed before (``known.parents``).
    """
    joins, cases = [], []
    if known.customers is not None and ent.name != "customers":
        for col in ent.customer_references():
            alias = f"_known_{col.name}"
            joins.append(
                f"left join (select distinct customer_id from {known.customers}) {alias} "  # noqa: S608 (identifiers from the contract; literals through lit())
                f"on {alias}.customer_id = r.{col.name}"  # noqa: S608 (identifiers from the contract; literals through lit())
            )
            text = f"{lit(col.name + ' ')} || {show(col, 'r.' + col.name)} || ' is not in the customer master'"
            cases.append(
                f"case when r.{col.name} is not null and {alias}.customer_id is null "
                f"then {failure('unknown_customer', col.name, text)} end"
            )
    if ent.parent:
        id_col, parent = _parent_id_column(ent), ent.parent
        joins.append(
            f"left join (select distinct _batch, {id_col} from _clean_ids) _in_batch "  # noqa: S608 (identifiers from the contract; literals through lit())
            f"on _in_batch._batch = r._batch and _in_batch.{id_col} = r.{parent}"  # noqa: S608 (identifiers from the contract; literals through lit())
        )
        found = f"_in_batch.{id_col} is not null"
        where = f"is not an {id_col} in this batch"
        if known.parents is not None:
            joins.append(
                f"left join (select distinct id from {known.parents}) _known_parent on _known_parent.id = r.{parent}"  # noqa: S608 (identifiers from the contract; literals through lit())
            )
            found += " or _known_parent.id is not null"
            where = f"is neither an {id_col} in this batch nor a known one"
        text = (
            f"{lit(parent + ' ')} || {show(ent.column(parent), 'r.' + parent)} || {lit(' of ' + id_col + ' ')} "
            f"|| {show(ent.column(id_col), 'r.' + id_col)} || {lit(' ' + where)}"
        )
        cases.append(
            f"case when r.{parent} is not null and not ({found}) "
            f"then {failure('parent_account_unknown', parent, text)} end"
        )
    return joins, cases


def rules_sql(ent: Entity, typed_select: str, reporting_currency: str, bounds: Bounds, known: Known) -> str:
    """SELECT every row of ``typed_select`` with ``_failures``: its typing failures, or — when it
    typed cleanly — the failures of every check and relational rule of the entity.

    ``typed_select`` yields the entity's typed canonical columns, ``_batch``, ``_row_number`` and
    ``_typing_failures`` (a list; empty when the row typed cleanly), and may yield other columns,
    which are passed through.
    """
    scoped = scoped_columns(ent.name, reporting_currency)
    scope_list = "".join(f", {sql} as {name}" for name, sql in scoped.items())
    checks = [check_failure(ent, c) for c in entity_checks(ent.name, bounds)]
    joins, relation = relation_cases(ent, known)
    clean_ids = (
        (f"_clean_ids as (select _batch, {_parent_id_column(ent)} from typed where len(_typing_failures) = 0),")  # noqa: S608 (identifiers from the contract; literals through lit())
        if ent.parent
        else ""
    )
    return f"""
with typed as (
{typed_select}
),
{clean_ids}
scoped as (
    select *{scope_list} from typed
),
judged as (
    select *, {failure_list(checks)} as _check_failures from scoped
)
select r.* exclude (_check_failures{"".join(", " + n for n in scoped)}),
       case when len(r._typing_failures) > 0 then r._typing_failures
            else list_concat(r._check_failures, {failure_list(relation)}) end as _failures
from judged r
{" ".join(joins)}
"""  # noqa: S608 (identifiers from the contract; literals through lit())


def batch_counts_sql(ent: Entity, typed: str) -> str:
    """Per batch of ``typed``: rows, rows failing a rule, and rows with a usable (typed, non-null)
    value in each required column — what the batch rules judge after typing."""
    usable = ", ".join(f"count({name}) as {name}" for name in ent.required)
    return (
        f"select _batch, count(*) as _rows, count(*) filter (where len(_failures) > 0) as _quarantined, {usable} "  # noqa: S608 (identifiers from the contract; literals through lit())
        f"from {typed} group by _batch order by _batch"  # noqa: S608 (identifiers from the contract; literals through lit())
    )
