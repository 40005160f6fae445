"""SQL that types a landed batch of strings onto the canonical contract, row by row.

Each canonical column gets a typed expression (parsed with the source's declared formats) and a
failure expression that names the rule, the column and the offending value when the value is
present but does not parse, or when a required value is missing. Nothing is guessed: a date that
parses under two declared formats to two different days is ambiguous and quarantined, and an amount
written with the wrong separators is rejected rather than read as a different number.
"""

from __future__ import annotations

import re

from expectations.contracts import Column, Entity, duckdb_type
from orchestration.config import ReaderOptions, TableConfig

#: Columns holding a code compared case-insensitively: landed lowercase.
LOWERCASE_COLUMNS = frozenset({"document_type", "status", "kind", "role"})
#: Typed readers hand over ISO text, which is accepted besides the declared formats.
TYPED_FORMATS = frozenset({"xlsx", "parquet", "query"})
FAILURE_SEPARATOR = "\x1f"


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def amount_pattern(options: ReaderOptions) -> str:
    """Regex an amount must match under the declared decimal and thousands separators."""
    dec = re.escape(options.decimal)
    if options.thousands:
        th = re.escape(options.thousands)
        integer = rf"([0-9]+|[0-9]{{1,3}}({th}[0-9]{{3}})+)"
    else:
        integer = "[0-9]+"
    return rf"^[-+]?{integer}({dec}[0-9]+)?$"


def _normalized(column: Column) -> str:
    """Trimmed text, empty as NULL; ids lose leading zeros when all digits; codes in one case."""
    t = f"nullif(trim({column.name}), '')"
    if column.type == "id":
        return (
            f"case when regexp_full_match({t}, '[0-9]+') "
            f"then coalesce(nullif(ltrim({t}, '0'), ''), '0') else {t} end"
        )
    if column.name == "currency":
        return f"upper({t})"
    if column.name in LOWERCASE_COLUMNS:
        return f"lower({t})"
    return t


def _parse_candidates(column: Column, tbl: TableConfig) -> list[str]:
    """Typed parses of a date/timestamp under each declared format (and ISO for typed readers)."""
    src = f"n.{column.name}"
    target = "date" if column.type == "date" else "timestamp"
    formats = tbl.options.date_formats if column.type == "date" else tbl.options.timestamp_formats
    parses = [f"cast(try_strptime({src}, {_lit(f)}) as {target})" for f in formats]
    if tbl.format in TYPED_FORMATS:
        parses.append(f"try_cast({src} as {target})")
    return parses


def typed_expression(column: Column, tbl: TableConfig) -> str:
    src = f"n.{column.name}"
    if column.type in ("id", "text"):
        return src
    if column.type in ("date", "timestamp"):
        return f"coalesce({', '.join(_parse_candidates(column, tbl))})"
    if column.type in ("money", "rate"):
        opts = tbl.options
        cleaned = src
        if opts.thousands:
            cleaned = f"replace({cleaned}, {_lit(opts.thousands)}, '')"
        if opts.decimal != ".":
            cleaned = f"replace({cleaned}, {_lit(opts.decimal)}, '.')"
        pattern = amount_pattern(opts)
        return (
            f"case when regexp_full_match({src}, {_lit(pattern)}) "
            f"then try_cast({cleaned} as {duckdb_type(column)}) end"
        )
    return f"try_cast({src} as {duckdb_type(column)})"


def _failure(rule: str, column: str, detail_sql: str) -> str:
    """A failure encoded as 'rule<US>column<US>detail' so it survives a list of strings."""
    sep = _lit(FAILURE_SEPARATOR)
    return f"{_lit(rule)} || {sep} || {_lit(column)} || {sep} || {detail_sql}"


def _value_detail(name: str, src: str, suffix: str) -> str:
    """SQL text '<column> value <value><suffix>' for a failure's detail."""
    return f"{_lit(name + ' value ')} || {src} || {_lit(suffix)}"


def failure_expressions(column: Column, tbl: TableConfig) -> list[str]:
    """Failure expressions of one column: required value, and values that do not parse."""
    name = column.name
    src = f"n.{name}"
    typed = f"t_{name}"
    unparsed = f"{src} is not null and {typed} is null"
    out = []
    if column.required:
        out.append(
            f"case when {src} is null then "
            f"{_failure('required_value_missing', name, _lit(f'required {name} is empty'))} end"
        )
    if column.type in ("date", "timestamp"):
        formats = tbl.options.date_formats if column.type == "date" else tbl.options.timestamp_formats
        suffix = " matches none of the formats " + ", ".join(formats)
        out.append(
            f"case when {unparsed} then "
            f"{_failure(f'unparseable_{column.type}', name, _value_detail(name, src, suffix))} end"
        )
        candidates = _parse_candidates(column, tbl)
        if len(candidates) > 1:
            distinct = f"list_distinct(list_filter([{', '.join(candidates)}], lambda x: x is not null))"
            suffix = " reads as different dates under the declared formats (day/month ambiguity)"
            out.append(
                f"case when len({distinct}) > 1 then "
                f"{_failure('ambiguous_date', name, _value_detail(name, src, suffix))} end"
            )
    elif column.type in ("money", "rate"):
        opts = tbl.options
        suffix = f" is not a number with decimal {opts.decimal!r} and thousands {opts.thousands!r}"
        out.append(
            f"case when {unparsed} then "
            f"{_failure('unparseable_amount', name, _value_detail(name, src, suffix))} end"
        )
    elif column.type in ("int", "bool"):
        out.append(
            f"case when {unparsed} then "
            f"{_failure('unparseable_' + column.type, name, _value_detail(name, src, ''))} end"
        )
    return out


def _signed(column: Column, tbl: TableConfig, entity: Entity) -> str:
    """Apply the source's credit-memo sign convention so credit memos land negative."""
    typed = f"t_{column.name}"
    if entity.name == "invoices" and column.type == "money" and tbl.credit_memo_sign == "positive":
        return f"case when n.document_type = 'credit_memo' then -{typed} else {typed} end"
    return typed


def typed_batch_sql(entity: Entity, tbl: TableConfig, landing: str) -> str:
    """SELECT typing ``landing`` onto the entity: typed columns, ``_failures``, lineage inputs.

    ``landing`` holds the reader's columns and ``_batch``, the batch's ordinal in its group.
    """
    mapped = set(tbl.columns)
    normalized = []
    for col in entity.columns:
        expr = _normalized(col) if col.name in mapped else "cast(null as varchar)"
        normalized.append(f"{expr} as {col.name}")
    typed = [f"{typed_expression(col, tbl)} as t_{col.name}" for col in entity.columns]
    failures = [f for col in entity.columns for f in failure_expressions(col, tbl)]
    finals = [f"{_signed(col, tbl, entity)} as {col.name}" for col in entity.columns]
    failure_list = f"list_filter([{', '.join(failures)}], lambda x: x is not null)" if failures else "[]"
    return f"""
with n as (
    select {', '.join(normalized)}, _batch, _row_number, _extra from {landing}
),
t as (
    select n.*, {', '.join(typed)} from n
)
select {', '.join(finals)}, _batch, _row_number, _extra,
       cast({failure_list} as varchar[]) as _failures
from t as n
"""
