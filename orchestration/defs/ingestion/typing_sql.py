"""SQL that types a landed batch of strings onto the canonical contract, row by row.

Each canonical column gets a typed expression (parsed with the source's declared formats) and a
failure expression that names the rule, the column and the offending value when the value is
present but does not parse, or when a required value is missing. Nothing is guessed: a date that
parses under two declared formats to two different days is ambiguous and quarantined, and an amount
written with the wrong separators is rejected rather than read as a different number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from expectations.contracts import Column, Entity
from expectations.privacy import mask_sql
from expectations.sql import failure, failure_list, lit
from orchestration.config import ColumnSpec, ReaderOptions, TableConfig

#: Typed readers hand over ISO text, which is accepted besides the declared formats.
TYPED_FORMATS = frozenset({"xlsx", "parquet", "query"})


def amount_pattern(options: ReaderOptions) -> str:
    """Regex an amount must match under the declared decimal and thousands separators."""
    dec = re.escape(options.decimal)
    if options.thousands:
        th = re.escape(options.thousands)
        integer = rf"([0-9]+|[0-9]{{1,3}}({th}[0-9]{{3}})+)"
    else:
        integer = "[0-9]+"
    return rf"^[-+]?{integer}({dec}[0-9]+)?$"


#: A number written by an export as a float: ``1928000000.0`` (read as ``1928000000``).
NUMBER_TEXT = r"^([-+]?[0-9]+)\.0*$"
#: The declared format that reads ISO dates and timestamps (``2019-04-05``, ``2019-04-05T10:00:00``).
ISO = "iso"


def trimmed(name: str, spec: ColumnSpec | None) -> str:
    """Trimmed source text, empty as NULL, a float-written number without its ``.0``."""
    t = f"nullif(trim({name}), '')"
    if spec is not None and spec.number_text:
        t = f"regexp_replace({t}, {lit(NUMBER_TEXT)}, '\\1')"
    return t


def _normalized(column: Column, spec: ColumnSpec | None = None) -> str:
    """Trimmed text, empty as NULL; codes through the value map; ids lose leading zeros when all
    digits; codes in one case; then the prefix (derived ids)."""
    t = trimmed(column.name, spec)
    if spec is not None and spec.map:
        cases = " ".join(f"when {lit(code)} then {lit(value)}" for code, value in spec.map.items())
        t = f"(case {t} {cases} end)"
    if column.type == "id":
        t = f"case when regexp_full_match({t}, '[0-9]+') then coalesce(nullif(ltrim({t}, '0'), ''), '0') else {t} end"
    elif column.case:
        t = f"{column.case}({t})"
    if spec is not None and spec.prefix:
        t = f"{lit(spec.prefix)} || ({t})"
    return t


def column_formats(column: Column, tbl: TableConfig) -> tuple[str, ...]:
    """The declared formats of a date/timestamp column: its own, else the table's."""
    spec = tbl.columns.get(column.name)
    if spec is not None and spec.formats is not None:
        return spec.formats
    return tbl.options.date_formats if column.type == "date" else tbl.options.timestamp_formats


def _parse_candidates(column: Column, tbl: TableConfig, formats: tuple[str, ...] | None = None) -> list[str]:
    """Typed parses of a date/timestamp under each declared format (and ISO for typed readers)."""
    src = f"n.{column.name}"
    target = "date" if column.type == "date" else "timestamp"
    formats = column_formats(column, tbl) if formats is None else formats
    parses = [
        f"cast(try_cast({src} as timestamp) as {target})"
        if f == ISO
        else f"cast(try_strptime({src}, {lit(f)}) as {target})"
        for f in formats
    ]
    if tbl.format in TYPED_FORMATS and ISO not in formats:
        parses.append(f"try_cast({src} as {target})")
    return parses


def typed_expression(column: Column, tbl: TableConfig, formats: tuple[str, ...] | None = None) -> str:
    src = f"n.{column.name}"
    if column.type in ("id", "text"):
        return src
    if column.type in ("date", "timestamp"):
        return f"coalesce({', '.join(_parse_candidates(column, tbl, formats))})"
    if column.type in ("money", "rate"):
        opts = tbl.options
        cleaned = src
        if opts.thousands:
            cleaned = f"replace({cleaned}, {lit(opts.thousands)}, '')"
        if opts.decimal != ".":
            cleaned = f"replace({cleaned}, {lit(opts.decimal)}, '.')"
        pattern = amount_pattern(opts)
        return (
            f"case when regexp_full_match({src}, {lit(pattern)}) then try_cast({cleaned} as {column.duckdb_type}) end"
        )
    raise ValueError(f"no typing for logical type {column.type!r} of column {column.name}")


def _value_detail(column: Column, src: str, suffix: str) -> str:
    """SQL text '<column> value <value><suffix>' for a failure's detail (a personal value masked)."""
    value = mask_sql(src, column.pii) if column.pii else src
    return f"{lit(column.name + ' value ')} || {value} || {lit(suffix)}"


def failure_expressions(column: Column, tbl: TableConfig, formats: tuple[str, ...] | None = None) -> list[str]:
    """Failure expressions of one column: a code the value map lacks, required value, and values
    that do not parse."""
    name = column.name
    src = f"n.{name}"
    typed = f"t_{name}"
    unparsed = f"{src} is not null and {typed} is null"
    out = []
    spec = tbl.columns.get(name)
    if spec is not None and spec.map:
        raw = f"n._code_{name}"
        known = ", ".join(sorted(spec.map))
        text = (
            f"{lit(name + ' code ' + chr(39))} || {mask_sql(raw, column.pii) if column.pii else raw} || "
            f"{lit(chr(39) + ' is not in the value map (' + known + ')')}"
        )
        out.append(f"case when {raw} is not null and {src} is null then {failure('value_not_mapped', name, text)} end")
        if column.required:
            empty = lit(f"required {name} is empty")
            out.append(f"case when {raw} is null then {failure('required_value_missing', name, empty)} end")
        return out
    if column.required:
        out.append(
            f"case when {src} is null then "
            f"{failure('required_value_missing', name, lit(f'required {name} is empty'))} end"
        )
    if column.type in ("date", "timestamp"):
        formats = column_formats(column, tbl) if formats is None else formats
        suffix = " matches none of the formats " + ", ".join(formats)
        out.append(
            f"case when {unparsed} then "
            f"{failure(f'unparseable_{column.type}', name, _value_detail(column, src, suffix))} end"
        )
        candidates = _parse_candidates(column, tbl, formats)
        if len(candidates) > 1:
            distinct = f"list_distinct(list_filter([{', '.join(candidates)}], lambda x: x is not null))"
            suffix = " reads as different dates under the declared formats (day/month ambiguity)"
            out.append(
                f"case when len({distinct}) > 1 then "
                f"{failure('ambiguous_date', name, _value_detail(column, src, suffix))} end"
            )
    elif column.type in ("money", "rate"):
        opts = tbl.options
        suffix = f" is not a number with decimal {opts.decimal!r} and thousands {opts.thousands!r}"
        out.append(
            f"case when {unparsed} then {failure('unparseable_amount', name, _value_detail(column, src, suffix))} end"
        )
    return out


def _signed(column: Column, tbl: TableConfig, entity: Entity) -> str:
    """Apply the source's credit-memo sign convention so credit memos land negative."""
    typed = f"t_{column.name}"
    if entity.name == "invoices" and column.type == "money" and tbl.credit_memo_sign == "positive":
        return f"case when n.document_type = 'credit_memo' then -{typed} else {typed} end"
    return typed


def typed_batch_sql(
    entity: Entity, tbl: TableConfig, landing: str, formats: Mapping[str, tuple[str, ...]] | None = None
) -> str:
    """SELECT typing ``landing`` onto the entity: typed columns, ``_typing_failures``, lineage inputs.

    ``landing`` holds the reader's columns and ``_batch``, the batch's ordinal in its group.
    ``formats`` narrows the declared formats of date columns whose day/month order was decided
    from the values (:mod:`orchestration.defs.ingestion.date_order`).
    """
    formats = formats or {}
    normalized = []
    for col in entity.columns:
        spec = tbl.columns.get(col.name)
        expr = _normalized(col, spec) if spec is not None else "cast(null as varchar)"
        normalized.append(f"{expr} as {col.name}")
        if spec is not None and spec.map:
            normalized.append(f"{trimmed(col.name, spec)} as _code_{col.name}")
    typed = [f"{typed_expression(col, tbl, formats.get(col.name))} as t_{col.name}" for col in entity.columns]
    failures = [f for col in entity.columns for f in failure_expressions(col, tbl, formats.get(col.name))]
    finals = [f"{_signed(col, tbl, entity)} as {col.name}" for col in entity.columns]
    return f"""
with n as (
    select {", ".join(normalized)}, _batch, _row_number, _extra from {landing}
),
t as (
    select n.*, {", ".join(typed)} from n
)
select {", ".join(finals)}, _batch, _row_number, _extra,
       {failure_list(failures)} as _typing_failures
from t as n
"""  # noqa: S608 (identifiers from the contract; literals through lit())
