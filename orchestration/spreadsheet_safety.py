"""Spreadsheet safety: the one rule that keeps text in a file for people from running as a formula.

Every CSV, XLSX and HTML file Inflow writes for people (owners' exception files, exports, the
review pack, the ERP's import files) passes its text cells through :func:`neutralise` (or, for
exports DuckDB writes itself, the same rule rendered as SQL by :func:`neutralised_sql`). A
spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula, and a leading
tab or carriage return is how injected formulas hide (OWASP "CSV injection"); a customer named
``=HYPERLINK("http://x", "Pay here")`` must reach finance as text. Such a cell gets a leading
apostrophe, the prefix spreadsheets themselves use for "this is text". A plain number written as
text (``-12.50``, ``+3``, ``-2.5e-05``) is left alone: a spreadsheet reads it as that number, not a formula.
An XLSX can say "this is text" without changing the text: ``orchestration/workbooks.py`` writes
such a cell verbatim with Excel's quote-prefix style (:func:`needs_prefix` decides which), so a
customer named ``+31 Holding BV`` keeps its name there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TypeVar

#: First characters that make a spreadsheet read a cell as a formula (or hide one).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: A signed decimal number, ASCII digits only, optionally in scientific notation (how DuckDB
#: writes a small DOUBLE in a CSV): a spreadsheet reads it as a number, so it needs no prefix.
PLAIN_NUMBER = r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?"
#: What is put in front of a text cell that would otherwise be a formula.
TEXT_PREFIX = "'"

_PLAIN_NUMBER = re.compile(PLAIN_NUMBER)
T = TypeVar("T")


def needs_prefix(text: str) -> bool:
    """Whether a spreadsheet would read this text as a formula."""
    return text.startswith(FORMULA_START) and _PLAIN_NUMBER.fullmatch(text) is None


def neutralise(value: T) -> T | str:
    """A cell made inert for spreadsheets: text that would be a formula gets a leading apostrophe;
    anything that is not text (numbers, dates, None) is returned as it is."""
    if isinstance(value, str) and needs_prefix(value):
        return TEXT_PREFIX + value
    return value


def safe_row(row: Iterable[object]) -> list[object]:
    """A whole row of cells through :func:`neutralise` (for ``csv.writer.writerow``)."""
    return [neutralise(cell) for cell in row]


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def neutralised_sql(expression: str) -> str:
    """The same rule as :func:`neutralise`, as a DuckDB expression over a VARCHAR ``expression``
    (a quoted column name from an allow-list), for files DuckDB writes itself (``COPY ... TO``
    a CSV of millions of rows). A test holds both renderings to the same answers."""
    starts = ", ".join(f"chr({ord(c)})" if c in "\t\r" else _sql_literal(c) for c in FORMULA_START)
    return (
        f"case when left({expression}, 1) in ({starts}) "
        f"and not regexp_full_match({expression}, {_sql_literal(PLAIN_NUMBER)}) "
        f"then {_sql_literal(TEXT_PREFIX)} || {expression} else {expression} end"
    )
