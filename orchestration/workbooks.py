"""Formatted XLSX sheets for people: the one writer of every spreadsheet Inflow produces.

A sheet is a table a finance user reads, filters and prints: readable headers (the column's
description, where the serving file has one, as the header cell's note), a bold header row that
stays in view, number and date formats by what a column holds (money with thousands separators,
rates as percentages), widths from the content, an autofilter, landscape pages one page wide with
the header repeated, and optionally a native Excel chart over the sheet's own cells. Text cells go
through the spreadsheet safety rule: a text a spreadsheet would run as a formula is written as it
is, in a string cell with Excel's quote-prefix style (the cell shows the name without a visible
apostrophe and stays text when edited), where a CSV needs the apostrophe in the text itself. The
workbook is also told never to turn text into formulas or links, so no string can become live
even if the rule were bypassed.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import xlsxwriter
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from orchestration.spreadsheet_safety import needs_prefix, neutralise

Kind = Literal["text", "integer", "money", "one_decimal", "percent", "rate", "number", "date", "timestamp", "boolean"]

#: Excel number formats by kind (negative money in red, as finance expects).
NUMBER_FORMATS: dict[Kind, str] = {
    "integer": "#,##0",
    "money": "#,##0.00;[Red]-#,##0.00",
    "one_decimal": "#,##0.0",
    "percent": "0.0%",
    "rate": "0.000000",
    "number": "#,##0.000",
    "date": "yyyy-mm-dd",
    "timestamp": "yyyy-mm-dd hh:mm:ss",
}
#: Words printed in capitals (or as a symbol) in headers.
_WORDS = {
    "id": "ID",
    "dso": "DSO",
    "bpdso": "BPDSO",
    "cei": "CEI",
    "add": "ADD",
    "fx": "FX",
    "ecl": "ECL",
    "pct": "%",
    "p10": "P10",
    "p50": "P50",
    "p90": "P90",
    "wape": "WAPE",
    "erp": "ERP",
    "crm": "CRM",
    "po": "PO",
    "ar": "AR",
    "avg": "Avg",
}
#: Fractions shown as percentages: names that say so, whatever their type.
_FRACTION = re.compile(r"(^|_)(rate|share|wape|coverage|accuracy|bias)(_|$)|^p_")
_DECIMAL = re.compile(r"^DECIMAL\(\d+,\s*(\d+)\)$")
MIN_WIDTH, MAX_WIDTH = 8, 48
#: A sheet with a title has its header on the fourth row (two title lines and a blank one), so
#: every titled sheet reads the same way (``pd.read_excel(path, header=3)``).
HEADER_ROW = 3
#: Rows looked at to size a column.
_WIDTH_SAMPLE = 2000


def header_label(name: str) -> str:
    """``open_amount_reporting`` -> ``Open amount (reporting)``; ``dso_countback_days`` -> ``DSO countback days``."""
    suffix = ""
    if name.endswith("_reporting") and name != "reporting":
        name, suffix = name[: -len("_reporting")], " (reporting)"
    words = [_WORDS.get(w, w) for w in name.split("_") if w]
    if words and words[0] == words[0].lower():
        words[0] = words[0][:1].upper() + words[0][1:]
    return " ".join(words) + suffix


def column_kind(name: str, duckdb_type: str) -> Kind:
    """How a column is shown, from its DuckDB type and, for fractions and rates, its name."""
    kind_of_type = duckdb_type.upper()
    decimal_scale = _DECIMAL.match(kind_of_type)
    if kind_of_type == "BOOLEAN":
        return "boolean"
    if kind_of_type == "DATE":
        return "date"
    if kind_of_type.startswith("TIMESTAMP"):
        return "timestamp"
    if kind_of_type in {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UBIGINT", "UINTEGER"}:
        return "integer"
    if decimal_scale or kind_of_type in {"DOUBLE", "FLOAT", "REAL"}:
        if name.endswith("_pct"):
            return "one_decimal"  # already a percentage (85.3), not a fraction
        if "fx_rate" in name:
            return "rate"
        if _FRACTION.search(name):
            return "percent"
        scale = int(decimal_scale.group(1)) if decimal_scale else None
        if scale == 2:
            return "money"
        if scale == 1:
            return "one_decimal"
        if scale == 0:
            return "integer"
        return "number"
    return "text"


@dataclass(frozen=True)
class Column:
    """A column of a sheet: where its values are in a row, its header and its format."""

    name: str
    kind: Kind
    label: str = ""
    note: str | None = None

    @property
    def header(self) -> str:
        return self.label or header_label(self.name)


def columns_of(description: Sequence[tuple[str, str]], notes: dict[str, str] | None = None) -> list[Column]:
    """Columns from (name, DuckDB type) pairs, with header notes from a description per column."""
    notes = notes or {}
    return [Column(name, column_kind(name, typ), note=notes.get(name)) for name, typ in description]


@dataclass(frozen=True)
class Chart:
    """A native chart over the sheet's own cells: ``kind`` line or stacked column, one series per
    value column, categories from ``category`` (the rows are the ones written, in order)."""

    kind: Literal["line", "stacked_column"]
    title: str
    category: str
    values: tuple[str, ...]
    y_axis: str = ""
    percent_axis: bool = False


@dataclass(frozen=True)
class Sheet:
    """One table for one worksheet. ``title``: up to two lines printed above the header (what, as
    of when, and a note)."""

    name: str
    columns: list[Column]
    rows: Sequence[Sequence[object]]
    title: Sequence[str] = field(default_factory=tuple)
    chart: Chart | None = None
    #: A format per row for its numbers, where rows measure different things (a summary: an
    #: amount, a count, a percentage); None, or a row beyond the list, keeps the columns' formats.
    row_kinds: Sequence[Kind | None] = field(default_factory=tuple)


def new_workbook(path: Path) -> Workbook:
    """A workbook that never turns text into a formula, a link or a number on its own."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return xlsxwriter.Workbook(
        str(path),
        {
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
            "nan_inf_to_errors": True,
        },
    )


def _cell_text(value: object) -> str:
    if isinstance(value, float | decimal.Decimal):
        return f"{value:,.2f}"
    return "" if value is None else str(value)


def _width(column: Column, rows: Sequence[Sequence[object]], index: int) -> float:
    longest = max((len(_cell_text(row[index])) for row in rows[:_WIDTH_SAMPLE]), default=0)
    header = max(len(word) for word in column.header.split()) if column.header else 0
    wanted = max(longest, header, min(len(column.header), 18)) + 2
    return float(min(MAX_WIDTH, max(MIN_WIDTH, wanted)))


def _write_cell(
    sheet: Worksheet, row: int, col: int, value: object, cell_format: object, styles: dict[str, object]
) -> None:
    """One value with the column's format (a date in a column of another kind, as in a summary
    sheet, gets a date format); text always as text (never a formula), and text a spreadsheet
    would run with the quote-prefix style (``styles["quoted"]``) instead of an apostrophe in it."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        sheet.write_blank(row, col, None, cell_format)
    elif isinstance(value, bool):
        sheet.write_boolean(row, col, value, cell_format)
    elif isinstance(value, int | float | decimal.Decimal):
        sheet.write_number(row, col, float(value), cell_format)
    elif isinstance(value, dt.datetime):
        sheet.write_datetime(row, col, value.replace(tzinfo=None), styles["timestamp"])
    elif isinstance(value, dt.date):
        sheet.write_datetime(row, col, dt.datetime(value.year, value.month, value.day), styles["date"])
    else:
        text = str(value)
        sheet.write_string(row, col, text, styles["quoted"] if needs_prefix(text) else cell_format)


def write_sheet(book: Workbook, table: Sheet) -> Worksheet:
    """Write one formatted table (see the module docstring) and return its worksheet."""
    if len(table.title) > HEADER_ROW - 1:
        raise ValueError(f"sheet {table.name!r}: at most {HEADER_ROW - 1} title lines")
    sheet = book.add_worksheet(_sheet_name(table.name))
    title_format = book.add_format({"bold": True, "font_size": 12})
    note_format = book.add_format({"italic": True, "font_color": "#555555"})
    header_format = book.add_format(
        {"bold": True, "bg_color": "#DCE6F1", "bottom": 1, "text_wrap": True, "valign": "top"}
    )
    kinds = {c.kind for c in table.columns} | {k for k in table.row_kinds if k is not None}
    formats = {k: book.add_format({"num_format": NUMBER_FORMATS[k]}) for k in kinds if k in NUMBER_FORMATS}
    for i, line in enumerate(table.title):
        sheet.write_string(i, 0, str(neutralise(line)), title_format if i == 0 else note_format)
    header_row = HEADER_ROW if table.title else 0
    for col, column in enumerate(table.columns):
        sheet.write_string(header_row, col, column.header, header_format)
        if column.note:
            sheet.write_comment(header_row, col, column.note, {"x_scale": 2, "y_scale": 1.5})
        sheet.set_column(col, col, _width(column, table.rows, col))
    styles = {k: book.add_format({"num_format": NUMBER_FORMATS[k]}) for k in ("date", "timestamp")}
    styles["quoted"] = book.add_format({"quote_prefix": True})
    for index, values in enumerate(table.rows):
        row_kind = table.row_kinds[index] if index < len(table.row_kinds) else None
        for col, column in enumerate(table.columns):
            kind = row_kind if row_kind is not None and column.kind in NUMBER_FORMATS else column.kind
            _write_cell(sheet, header_row + 1 + index, col, values[col], formats.get(kind), styles)
    last_row = header_row + max(len(table.rows), 1)
    last_col = max(len(table.columns) - 1, 0)
    sheet.freeze_panes(header_row + 1, 0)
    sheet.autofilter(header_row, 0, last_row, last_col)
    _print_setup(sheet, table, header_row)
    if table.chart and table.rows:
        _add_chart(book, sheet, table, header_row)
    return sheet


def _print_setup(sheet: Worksheet, table: Sheet, header_row: int) -> None:
    """Landscape, one page wide (as many pages tall as it takes), header row on every page."""
    sheet.set_landscape()
    sheet.set_paper(9)  # A4; Letter printers scale it
    sheet.fit_to_pages(1, 0)
    sheet.repeat_rows(header_row)
    sheet.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    heading = (table.title[0] if table.title else table.name).replace("&", "&&")
    sheet.set_header(f"&L&B{heading[:200]}")
    sheet.set_footer("&LInflow&RPage &P of &N")


def _add_chart(book: Workbook, sheet: Worksheet, table: Sheet, header_row: int) -> None:
    chart = table.chart
    assert chart is not None
    names = [c.name for c in table.columns]
    first, last = header_row + 1, header_row + len(table.rows)
    category = names.index(chart.category)
    if chart.kind == "line":
        xl_chart = book.add_chart({"type": "line"})
    else:
        xl_chart = book.add_chart({"type": "column", "subtype": "stacked"})
    for value in chart.values:
        col = names.index(value)
        xl_chart.add_series(
            {
                "name": [sheet.name, header_row, col],
                "categories": [sheet.name, first, category, last, category],
                "values": [sheet.name, first, col, last, col],
                "marker": {"type": "circle", "size": 4} if chart.kind == "line" else {"type": "none"},
            }
        )
    xl_chart.set_title({"name": chart.title})
    axis: dict[str, object] = {"name": chart.y_axis, "major_gridlines": {"visible": True}}
    if chart.percent_axis:
        axis["num_format"] = "0%"
    xl_chart.set_y_axis(axis)
    xl_chart.set_x_axis({"num_format": "yyyy-mm", "date_axis": False})
    xl_chart.set_legend({"position": "bottom"})
    xl_chart.set_size({"width": 760, "height": 360})
    sheet.insert_chart(header_row, len(table.columns) + 1, xl_chart)


def _sheet_name(name: str) -> str:
    """Excel's rules: at most 31 characters, none of ``[]:*?/\\``."""
    return re.sub(r"[\[\]:*?/\\]", " ", name)[:31] or "Sheet"


def write_workbook(path: Path, sheets: Iterable[Sheet]) -> Path:
    """A workbook of formatted sheets, written to ``path``."""
    book = new_workbook(path)
    for table in sheets:
        write_sheet(book, table)
    book.close()
    return path
