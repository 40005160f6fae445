"""Every defect the generator injects is caught by landing: quarantined with its rule, or normalized.

The generator logs each defect it writes (`defects.csv`: file, data row, column, defect). Landing a
defective company must put each logged row in `quality.exceptions` with the rule that defect
breaks — or, for defects that are only spelling (leading zeros, stray whitespace), land it
accepted with the value normalized. Nothing is lost: every load conserves its rows.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from expectations.contracts import ENTITIES
from orchestration.config import load_config
from orchestration.defs.ingestion.landing import land_table
from orchestration.warehouse import prepare_landing
from seeds.generator import generate_company

AS_OF = dt.date(2026, 11, 27)

#: The rule(s) a row carrying each defect must be quarantined with.
QUARANTINED_AS = {
    "duplicate_row": {"duplicate_exact"},
    "conflicting_duplicate": {"duplicate_conflict"},
    "european_decimal": {"unparseable_amount"},
    "negative_amount": {"invoice_amount_not_positive"},
    "credit_memo_wrong_sign": {"credit_memo_amount_not_negative"},
    "unknown_currency": {"currency_not_iso4217"},
    "unknown_customer": {"unknown_customer"},
    "hierarchy_cycle": {"parent_account_cycle"},
}
#: Spelling defects: the row lands accepted, with the value normalized.
NORMALIZED = {"leading_zeros", "stray_whitespace"}


@pytest.fixture(scope="module")
def landed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, duckdb.DuckDBPyConnection]:
    out = tmp_path_factory.mktemp("defective")
    generate_company(out, customers=80, invoices=2000, seed=5, defect_rate=0.05, as_of=AS_OF, progress=False)
    config = load_config(out / "inflow.yml")
    con = duckdb.connect()
    prepare_landing(con, {e: config.tables_of(e) for e in ENTITIES})
    ordered = sorted(
        config.tables(), key=lambda t: (t[3].entity not in ("customers", "crm_accounts"), t[3].entity != "customers")
    )
    for source, table, _, _ in ordered:
        land_table(con, config, source, table, AS_OF)
    return out, con


def _defects(out: Path) -> list[dict[str, str]]:
    with (out / "defects.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def _rules_at(con: duckdb.DuckDBPyConnection, out: Path, file: str, row: int) -> set[str]:
    rows = con.execute(
        "select rule from quality.exceptions where file = ? and row_number = ?", [str(out / file), row]
    ).fetchall()
    return {r[0] for r in rows}


def test_generator_injected_every_kind(landed: tuple[Path, duckdb.DuckDBPyConnection]) -> None:
    kinds = Counter(d["defect"] for d in _defects(landed[0]))
    assert set(kinds) == set(QUARANTINED_AS) | NORMALIZED | {"date_format"}, kinds


@pytest.mark.parametrize("defect", sorted(QUARANTINED_AS))
def test_defect_is_quarantined_with_its_rule(landed: tuple[Path, duckdb.DuckDBPyConnection], defect: str) -> None:
    out, con = landed
    rows = [d for d in _defects(out) if d["defect"] == defect]
    assert rows
    for d in rows:
        rules = _rules_at(con, out, d["file"], int(d["row_number"]))
        assert rules & QUARANTINED_AS[defect], f"{d} quarantined with {rules or 'nothing'}"


def test_date_format_defects_are_read_correctly(landed: tuple[Path, duckdb.DuckDBPyConnection]) -> None:
    """Day-first dates are declared day-first (one order per column), so every one, day <= 12
    included, reads as its true date; none is guessed row by row."""
    out, con = landed
    outcomes = Counter()
    for d in (d for d in _defects(out) if d["defect"] == "date_format"):
        rules = _rules_at(con, out, d["file"], int(d["row_number"]))
        status, document_date = con.execute(
            "select _status, document_date from raw.invoices where _file = ? and _row_number = ?",
            [str(out / d["file"]), int(d["row_number"])],
        ).fetchall()[0]
        assert "ambiguous_date" not in rules and "unparseable_date" not in rules, (d, rules)
        if status == "accepted":
            month_of_file = Path(d["file"]).stem.split("_")[-1]  # invoices_YYYY-MM.csv holds that month's documents
            assert document_date.strftime("%Y-%m") == month_of_file, d
            outcomes["read"] += 1
        else:
            assert rules & {"duplicate_exact", "duplicate_conflict", "unknown_customer"}, (d, rules)
    assert outcomes["read"] > 0, outcomes


@pytest.mark.parametrize("defect", sorted(NORMALIZED))
def test_spelling_defects_land_normalized(landed: tuple[Path, duckdb.DuckDBPyConnection], defect: str) -> None:
    out, con = landed
    for d in (d for d in _defects(out) if d["defect"] == defect):
        rules = _rules_at(con, out, d["file"], int(d["row_number"]))
        assert not rules - {"duplicate_exact", "duplicate_conflict", "unknown_customer"}, (d, rules)


def test_every_load_conserves_rows(landed: tuple[Path, duckdb.DuckDBPyConnection]) -> None:
    _, con = landed
    loads = con.execute(
        "select file, status, rows_landed, rows_accepted, rows_quarantined from quality.source_loads"
    ).fetchall()
    assert all(status == "loaded" for _, status, *_ in loads), loads
    for file, _, landed_rows, accepted, quarantined in loads:
        assert landed_rows == accepted + quarantined, file
    raw_total = sum(con.execute(f"select count(*) from raw.{e}").fetchall()[0][0] for e in ENTITIES)
    assert raw_total == sum(row[2] for row in loads)


def test_accepted_keys_are_unique(landed: tuple[Path, duckdb.DuckDBPyConnection]) -> None:
    _, con = landed
    for name, ent in ENTITIES.items():
        key = ", ".join(ent.key)
        dupes = con.execute(
            f"select count(*) from (select {key} from raw.{name} where _status = 'accepted' "
            f"group by all having count(*) > 1)"
        ).fetchall()[0][0]
        assert dupes == 0, name
