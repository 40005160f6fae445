"""The one spreadsheet-safety rule: formula starts are neutralised, plain numbers are not, and the
SQL rendering DuckDB uses for large CSV exports gives the same answer as the Python function."""

from __future__ import annotations

import datetime as dt
import decimal

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestration.spreadsheet_safety import FORMULA_START, neutralise, neutralised_sql, safe_row

EVIL = [
    '=HYPERLINK("http://x", "Pay")', "+SUM(1)", "-2+3+cmd|' /C calc'!A0", "@SUM(A1)", "\tTAB", "\rCR", "-", "+",
    "-e5", "-1e", "-1e+", "-.", "+1.2.3", "-1,5",
]  # fmt: skip
PLAIN = [
    "-12.50", "+3", "-7", "12", "0.5", "-2.000533185583968e-05", "+1E10", "-.5", "-5.", "plain text", "a=b", "",
    "'quoted", " =padded", "Acme-Corp",
]  # fmt: skip


def test_formula_starts_get_an_apostrophe() -> None:
    for cell in EVIL:
        assert neutralise(cell) == "'" + cell


def test_plain_numbers_and_ordinary_text_are_left_alone() -> None:
    for cell in PLAIN:
        assert neutralise(cell) == cell


def test_numbers_with_a_tail_are_text_and_neutralised() -> None:
    # The number pattern must match the whole cell: a trailing newline or formula is not a number.
    assert neutralise("-12.50x") == "'-12.50x"
    assert neutralise("-12\n") == "'-12\n"
    assert neutralise("-1+1") == "'-1+1"
    assert neutralise("-١٢") == "'-١٢"  # non-ASCII digits are not a number to a spreadsheet


def test_values_that_are_not_text_pass_through() -> None:
    values = [None, -12.5, 3, decimal.Decimal("-1.00"), dt.date(2026, 1, 2), True]
    assert safe_row(values) == values


def _sql_answer(text: str) -> str:
    con = duckdb.connect()
    try:
        return con.execute(f"select {neutralised_sql('v')} from (select ?::varchar as v)", [text]).fetchone()[0]
    finally:
        con.close()


def test_sql_rendering_agrees_on_the_catalogue() -> None:
    for cell in [*EVIL, *PLAIN, "-12\n", "-12.50x", "'; drop table x; --"]:
        assert _sql_answer(cell) == neutralise(cell), cell


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.sampled_from([*FORMULA_START, "1", "2", ".", "e", "E", "a", " ", "'", "\n", "é"]), max_size=8)
)
def test_sql_rendering_agrees_with_python(text: str) -> None:
    assert _sql_answer(text) == neutralise(text)


def test_the_evaluation_csv_neutralises_every_cell(tmp_path) -> None:
    """``inflow evaluate --out`` writes its CSVs through the same rule (an ERP id like ``=1+1``)."""
    import csv

    import pandas as pd

    from orchestration.commands import write_safe_csv

    frame = pd.DataFrame({"invoice_id": ["=1+1", "INV-1"], "p_late": [0.25, None], "note": ["@SUM(A1)", "-2.5"]})
    write_safe_csv(frame, tmp_path / "predictions.csv")
    with (tmp_path / "predictions.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows == [["invoice_id", "p_late", "note"], ["'=1+1", "0.25", "'@SUM(A1)"], ["INV-1", "", "-2.5"]]
    assert list(tmp_path.iterdir()) == [tmp_path / "predictions.csv"]
