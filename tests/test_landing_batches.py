"""Catalogue of bad batches: each named case lands with its expected outcome.

Either rows are quarantined with a named rule (the rest of the batch loads), or the whole batch is
rejected with a message naming the file, column and rule and nothing of it reaches raw. In every
case the load is recorded and rows_landed = rows_accepted + rows_quarantined.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
import yaml
from openpyxl import Workbook

from expectations.contracts import ENTITIES
from orchestration.config import load_config
from orchestration.defs.ingestion import landing
from orchestration.defs.ingestion.landing import land_table
from orchestration.defs.quality.store import LoadRecord
from orchestration.warehouse import prepare_landing

AS_OF = dt.date(2026, 11, 27)
HEADER = "DocNo,CustNo,DocType,DocDate,DueDate,Curr,Amount"
GOOD_ROWS = [
    "1,10,invoice,2026-01-05,2026-02-04,USD,100.50",
    "2,10,invoice,2026-01-06,2026-02-05,EUR,200.00",
]
MAPPING = {
    "document_id": "DocNo",
    "customer_id": "CustNo",
    "document_type": "DocType",
    "document_date": "DocDate",
    "due_date": "DueDate",
    "currency": "Curr",
    "amount": "Amount",
}


def _config(folder: Path, fmt: str = "csv", path: str = "inv*.csv", **options: object) -> Path:
    table = {"entity": "invoices", "format": fmt, "path": path, "columns": MAPPING}
    if options:
        table["options"] = options
    cfg = {
        "company": "Test",
        "reporting_currency": "USD",
        "sources": {
            "erp": {
                "system": "erp",
                "role": "system_of_record",
                "transport": "file",
                "owner": "ar@test.example",
                "tables": {"invoices": table},
            }
        },
    }
    target = folder / "inflow.yml"
    target.write_text(yaml.safe_dump(cfg))
    return target


def _land(
    config_path: Path, con: duckdb.DuckDBPyConnection | None = None
) -> tuple[duckdb.DuckDBPyConnection, list[LoadRecord]]:
    config = load_config(config_path)
    con = con or duckdb.connect()
    prepare_landing(con, {e: config.tables_of(e) for e in ENTITIES})
    return con, land_table(con, config, "erp", "invoices", AS_OF)


def _assert_conserved(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute("select file, rows_landed, rows_accepted, rows_quarantined from quality.source_loads").fetchall()
    assert rows, "every batch is recorded"
    for file, landed, accepted, quarantined in rows:
        assert landed == accepted + quarantined, file


def _assert_rejected(con: duckdb.DuckDBPyConnection, records: list[LoadRecord], rule: str, *needles: str) -> None:
    (rec,) = records
    assert rec.status == "rejected"
    for needle in needles:
        assert needle in rec.message, rec.message
    assert con.execute("select count(*) from raw.erp__invoices").fetchall()[0][0] == 0
    (got,) = con.execute("select rule from quality.exceptions").fetchall()
    assert got[0] == rule
    _assert_conserved(con)


def _write(folder: Path, text: str, name: str = "inv.csv", encoding: str = "utf-8") -> Path:
    target = folder / name
    target.write_bytes(text.encode(encoding))
    return target


def test_clean_file_lands_every_row(tmp_path: Path) -> None:
    _write(tmp_path, "\n".join([HEADER, *GOOD_ROWS]) + "\n")
    con, (rec,) = _land(_config(tmp_path))
    assert (rec.status, rec.rows_landed, rec.rows_accepted, rec.rows_quarantined) == ("loaded", 2, 2, 0)
    _assert_conserved(con)


def test_truncated_file_is_rejected(tmp_path: Path) -> None:
    _write(tmp_path, "\n".join([HEADER, *GOOD_ROWS, "3,10,invoice,2026-01"]) + "\n")
    con, records = _land(_config(tmp_path))
    _assert_rejected(
        con, records, "unparseable_file", "inv.csv", "Line: 4", "Expected Number of Columns: 7 Found: 4",
        "(lines of the file, the header included): correct or remove that line at the source",
    )  # fmt: skip
    assert "Possible fixes" not in records[0].message and "null_padding" not in records[0].message, (
        "no reader option Inflow refuses is suggested"
    )
    assert "\n" not in records[0].message


def test_semicolon_file_with_comma_config_is_rejected_with_a_delimiter_hint(tmp_path: Path) -> None:
    _write(tmp_path, "\n".join([HEADER.replace(",", ";"), *(r.replace(",", ";") for r in GOOD_ROWS)]) + "\n")
    con, records = _land(_config(tmp_path))
    _assert_rejected(con, records, "required_column_missing", "inv.csv", "'DocNo'", "options.delimiter")


def test_semicolon_file_declared_as_such_lands(tmp_path: Path) -> None:
    rows = ["1;10;invoice;05.01.2026;04.02.2026;EUR;1.100,50"]
    _write(tmp_path, "\n".join([HEADER.replace(",", ";"), *rows]) + "\n")
    con, (rec,) = _land(_config(tmp_path, delimiter=";", decimal=",", thousands=".", date_formats=["%d.%m.%Y"]))
    assert rec.rows_accepted == 1
    amount, date = con.execute("select amount, document_date from raw.erp__invoices").fetchall()[0]
    assert str(amount) == "1100.50" and date == dt.date(2026, 1, 5)


def test_latin1_file_read_as_utf8_is_rejected(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "\n".join([HEADER + ",Name", "1,10,invoice,2026-01-05,2026-02-04,USD,1.00,Société"]) + "\n",
        encoding="latin-1",
    )
    con, records = _land(_config(tmp_path))
    _assert_rejected(con, records, "wrong_encoding", "inv.csv", "utf-8", "options.encoding")


def test_latin1_file_declared_as_latin1_lands(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "\n".join([HEADER + ",Name", "1,10,invoice,2026-01-05,2026-02-04,USD,1.00,Société"]) + "\n",
        encoding="latin-1",
    )
    con, (rec,) = _land(_config(tmp_path, encoding="latin-1"))
    assert rec.rows_accepted == 1
    assert json.loads(con.execute("select _extra from raw.erp__invoices").fetchall()[0][0]) == {"Name": "Société"}


def test_utf8_bom_lands(tmp_path: Path) -> None:
    _write(tmp_path, "\ufeff" + "\n".join([HEADER, *GOOD_ROWS]) + "\n")
    _, (rec,) = _land(_config(tmp_path))
    assert (rec.status, rec.rows_accepted) == ("loaded", 2)


def test_header_only_file_is_rejected(tmp_path: Path) -> None:
    """A snapshot (one file: the whole table) that is empty is never 'nothing is owed'."""
    _write(tmp_path, HEADER + "\n")
    con, records = _land(_config(tmp_path, path="inv.csv"))
    _assert_rejected(con, records, "batch_empty", "inv.csv", "no data rows")


def test_header_only_delta_file_adds_nothing(tmp_path: Path) -> None:
    """A delta file (one of a glob) may be empty: the new month's file on its first day."""
    _write(tmp_path, HEADER + "\n")
    _, (rec,) = _land(_config(tmp_path))
    assert (rec.status, rec.rows_landed) == ("loaded", 0)


def test_empty_file_is_rejected(tmp_path: Path) -> None:
    _write(tmp_path, "")
    con, records = _land(_config(tmp_path))
    _assert_rejected(con, records, "empty_file", "inv.csv")


def test_missing_required_column_is_rejected(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "\n".join(["DocNo,CustNo,DocType,DocDate,DueDate,Curr", "1,10,invoice,2026-01-05,2026-02-04,USD"]) + "\n",
    )
    con, records = _land(_config(tmp_path))
    _assert_rejected(con, records, "required_column_missing", "inv.csv", "'Amount'", "'amount'")


def test_extra_columns_are_kept_with_a_warning(tmp_path: Path) -> None:
    _write(tmp_path, "\n".join([HEADER + ",Region", GOOD_ROWS[0] + ",EMEA"]) + "\n")
    con, (rec,) = _land(_config(tmp_path))
    assert rec.rows_accepted == 1
    assert any("Region" in w for w in rec.warnings)
    assert json.loads(con.execute("select _extra from raw.erp__invoices").fetchall()[0][0]) == {"Region": "EMEA"}


def test_xlsx_with_title_row_lands(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["Open items export — Sample Co"])
    sheet.append(HEADER.split(","))
    sheet.append(["1", "10", "invoice", dt.datetime(2026, 1, 5), dt.datetime(2026, 2, 4), "USD", 100.5])
    book.save(tmp_path / "inv.xlsx")
    con, (rec,) = _land(_config(tmp_path, fmt="xlsx", path="inv.xlsx", header_row=2))
    assert (rec.status, rec.rows_accepted) == ("loaded", 1)
    row = con.execute("select document_date, amount from raw.erp__invoices").fetchall()[0]
    assert row[0] == dt.date(2026, 1, 5) and str(row[1]) == "100.50"


def test_xlsx_title_row_without_header_row_option_is_rejected(tmp_path: Path) -> None:
    book = Workbook()
    book.active.append(["Open items export — Sample Co"])
    book.active.append(HEADER.split(","))
    book.save(tmp_path / "inv.xlsx")
    con, records = _land(_config(tmp_path, fmt="xlsx", path="inv.xlsx"))
    _assert_rejected(con, records, "required_column_missing", "inv.xlsx", "'DocNo'")


def test_jsonl_with_wrong_types_quarantines_rows(tmp_path: Path) -> None:
    lines = [
        {"DocNo": "1", "CustNo": "10", "DocType": "invoice", "DocDate": "2026-01-05", "Curr": "USD", "Amount": 10},
        {"DocNo": "2", "CustNo": "10", "DocType": "invoice", "DocDate": 20260105, "Curr": "USD", "Amount": "ten"},
        {
            "DocNo": "3",
            "CustNo": "10",
            "DocType": "invoice",
            "DocDate": "2026-01-07",
            "Curr": "USD",
            "Amount": {"v": 1},
        },
    ]
    (tmp_path / "inv.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    con, (rec,) = _land(_config(tmp_path, fmt="jsonl", path="inv.jsonl"))
    assert (rec.rows_landed, rec.rows_accepted, rec.rows_quarantined) == (3, 1, 2)
    rules = con.execute("select row_number, rule, column_name from quality.exceptions order by 1, 2").fetchall()
    assert rules == [
        (2, "unparseable_amount", "amount"),
        (2, "unparseable_date", "document_date"),
        (3, "unparseable_amount", "amount"),
    ]
    _assert_conserved(con)


def test_day_month_order_is_decided_once_per_column_from_the_values(tmp_path: Path) -> None:
    """Both orders declared: 25/03 proves day-first, so 05/03 reads as 5 March too (never row by row)."""
    rows = ["1,10,invoice,05/03/2026,,USD,1.00", "2,10,invoice,25/03/2026,,USD,1.00"]
    _write(tmp_path, "\n".join([HEADER, *rows]) + "\n")
    con, (rec,) = _land(_config(tmp_path, date_formats=["%d/%m/%Y", "%m/%d/%Y"]))
    assert (rec.rows_accepted, rec.rows_quarantined) == (2, 0)
    assert con.execute("select document_date from raw.erp__invoices order by _row_number").fetchall() == [
        (dt.date(2026, 3, 5),),
        (dt.date(2026, 3, 25),),
    ]


def test_ambiguous_day_month_without_evidence_is_quarantined_not_guessed(tmp_path: Path) -> None:
    rows = ["1,10,invoice,05/03/2026,,USD,1.00", "2,10,invoice,2026-03-25,,USD,1.00"]
    _write(tmp_path, "\n".join([HEADER, *rows]) + "\n")
    con, (rec,) = _land(_config(tmp_path, date_formats=["%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y"]))
    assert (rec.rows_accepted, rec.rows_quarantined) == (1, 1)
    assert con.execute("select rule, row_number from quality.exceptions").fetchall() == [("ambiguous_date", 1)]


def test_european_decimal_in_us_file_is_quarantined(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "\n".join([HEADER, '1,10,invoice,2026-01-05,,USD,"1.234,56"', '2,10,invoice,2026-01-05,,USD,"1,234.56"'])
        + "\n",
    )
    con, (rec,) = _land(_config(tmp_path, thousands=","))
    assert (rec.rows_accepted, rec.rows_quarantined) == (1, 1)
    assert con.execute("select rule, row_number from quality.exceptions").fetchall() == [("unparseable_amount", 1)]


def test_a_file_whose_dates_all_fail_typing_is_rejected_whole(tmp_path: Path) -> None:
    """Every DocDate in an undeclared format: nothing of the file is accepted, and the run says so
    (rejected as required_column_empty), instead of landing 3 quarantined rows as a success."""
    rows = [f"{n},10,invoice,0{n}.01.2026,,USD,5.00" for n in range(1, 4)]
    _write(tmp_path, "\n".join([HEADER, *rows]) + "\n")
    con, records = _land(_config(tmp_path))
    _assert_rejected(con, records, "required_column_empty", "'document_date'", "empty on all 3 rows")


def test_duplicates_exact_and_conflicting(tmp_path: Path) -> None:
    header = HEADER + ",Modified"
    rows = [
        "1,10,invoice,2026-01-05,,USD,100.00,2026-01-05 10:00:00",
        "1,10,invoice,2026-01-05,,USD,100.00,2026-01-05 10:00:00",  # exact duplicate
        "2,10,invoice,2026-01-06,,USD,50.00,2026-01-06 10:00:00",
        "2,10,invoice,2026-01-06,,USD,55.00,2026-01-07 10:00:00",  # later version wins
    ]
    _write(tmp_path, "\n".join([header, *rows]) + "\n")
    cfg = _config(tmp_path)
    cfg.write_text(cfg.read_text().replace("amount: Amount", "amount: Amount\n          updated_at: Modified"))
    con, (rec,) = _land(cfg)
    assert (rec.rows_accepted, rec.rows_quarantined) == (2, 2)
    rules = sorted(con.execute("select rule, row_number from quality.exceptions").fetchall())
    assert rules == [("duplicate_conflict", 3), ("duplicate_exact", 2)]
    accepted = con.execute(
        "select document_id, amount from raw.erp__invoices where _status = 'accepted' order by 1"
    ).fetchall()
    assert [(d, str(a)) for d, a in accepted] == [("1", "100.00"), ("2", "55.00")]


def test_later_file_supersedes_and_counts_stay_conserved(tmp_path: Path) -> None:
    header = HEADER + ",Modified"
    _write(tmp_path, "\n".join([header, "1,10,invoice,2026-01-05,,USD,100.00,2026-01-05 10:00:00"]) + "\n", "inv_1.csv")
    cfg = _config(tmp_path)
    cfg.write_text(cfg.read_text().replace("amount: Amount", "amount: Amount\n          updated_at: Modified"))
    con, _ = _land(cfg)
    _write(tmp_path, "\n".join([header, "1,10,invoice,2026-01-05,,USD,90.00,2026-02-01 10:00:00"]) + "\n", "inv_2.csv")
    _, records = _land(cfg, con)
    assert [r.status for r in records] == ["skipped", "loaded"]
    loads = dict(con.execute("select file, rows_accepted from quality.source_loads").fetchall())
    assert loads == {str(tmp_path / "inv_1.csv"): 0, str(tmp_path / "inv_2.csv"): 1}
    _assert_conserved(con)


def _land_three_files(folder: Path, monkeypatch: pytest.MonkeyPatch, group_rows: int) -> tuple[list, list, list]:
    """A good file, one missing a required column, one with a bad row and a later version of a key."""
    monkeypatch.setattr(landing, "GROUP_ROWS", group_rows)
    folder.mkdir()
    _write(folder, "\n".join([HEADER, *GOOD_ROWS]) + "\n", "inv_1.csv")
    _write(folder, "DocNo,CustNo\n3,10\n", "inv_2.csv")
    _write(
        folder,
        "\n".join(
            [HEADER, "2,10,invoice,2026-01-06,2026-02-05,EUR,210.00", "4,10,invoice,2026-01-07,2026-02-06,USD,-1.00"]
        )
        + "\n",
        "inv_3.csv",
    )
    con, records = _land(_config(folder))
    raw = con.execute(
        "select _file, _row_number, _status, document_id, amount from raw.erp__invoices order by all"
    ).fetchall()
    exceptions = con.execute("select file, row_number, rule from quality.exceptions order by all").fetchall()
    _assert_conserved(con)
    return records, [(Path(f).name, *rest) for f, *rest in raw], [(Path(f).name, *rest) for f, *rest in exceptions]


def test_files_landed_in_one_group_or_one_by_one_give_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records, raw, exceptions = _land_three_files(tmp_path / "grouped", monkeypatch, group_rows=1000)
    assert [r.status for r in records] == ["loaded", "rejected", "loaded"]
    assert [(r.rows_accepted, r.rows_quarantined) for r in records] == [(1, 1), (0, 0), (1, 1)]
    assert exceptions == [
        ("inv_1.csv", 2, "duplicate_conflict"),
        ("inv_2.csv", None, "required_column_missing"),
        ("inv_3.csv", 2, "invoice_amount_not_positive"),
    ]
    assert ("inv_3.csv", 1, "accepted", "2", Decimal("210.00")) in raw
    assert _land_three_files(tmp_path / "single", monkeypatch, group_rows=1)[1:] == (raw, exceptions)


def test_a_large_batch_keeps_its_failures_on_the_right_rows(tmp_path: Path) -> None:
    rows = [
        f"{n},10,invoice,2026-01-05,2026-02-04,USD,{'-1.00' if n in (10, 4500) else '5.00'}" for n in range(1, 5001)
    ]
    _write(tmp_path, "\n".join([HEADER, *rows]) + "\n")
    con, (rec,) = _land(_config(tmp_path))
    assert (rec.rows_accepted, rec.rows_quarantined) == (4998, 2)
    assert con.execute("select row_number, rule from quality.exceptions order by 1").fetchall() == [
        (10, "invoice_amount_not_positive"),
        (4500, "invoice_amount_not_positive"),
    ]
    _assert_conserved(con)


def test_credit_memo_sign_convention_is_applied(tmp_path: Path) -> None:
    _write(tmp_path, "\n".join([HEADER, "9,10,Credit_Memo,2026-01-05,,USD,40.00"]) + "\n")
    cfg = _config(tmp_path)
    cfg.write_text(cfg.read_text().replace("format: csv", "format: csv\n        credit_memo_sign: positive"))
    con, _ = _land(cfg)
    assert con.execute("select document_type, amount from raw.erp__invoices").fetchall()[0][1] < 0


def test_no_file_matching_is_an_error(tmp_path: Path) -> None:
    from orchestration.defs.ingestion.readers import BatchRejected

    with pytest.raises(BatchRejected, match="no file matches"):
        _land(_config(tmp_path))


# Re-deliveries (decision L1): a file rewritten under its path, or a new snapshot, replaces what it
# delivered before, so the table holds what a landing of today's files from an empty home holds.


def _state(con: duckdb.DuckDBPyConnection) -> tuple[list, list]:
    """Raw rows (but the versions kept as replaced) and open exceptions, without load times (which
    differ between any two landings)."""
    raw = con.execute(
        "select _file, _checksum, _row_number, _status, document_id, amount from raw.erp__invoices "
        "where _status <> 'replaced' order by all"
    ).fetchall()
    exceptions = con.execute("select file, checksum, row_number, rule from quality.exceptions order by all").fetchall()
    return raw, exceptions


def _assert_as_if_landed_afresh(con: duckdb.DuckDBPyConnection, cfg: Path) -> None:
    fresh, _ = _land(cfg)
    assert _state(con) == _state(fresh)
    _assert_conserved(con)


def test_a_rewritten_file_replaces_its_earlier_delivery(tmp_path: Path) -> None:
    first = [
        "1,10,invoice,2026-01-05,,USD,100.00",
        "1,10,invoice,2026-01-05,,USD,100.00",  # exact duplicate, in both deliveries
        "2,10,invoice,2026-01-06,,USD,50.00",
        "3,10,invoice,2026-01-07,,USD,-5.00",  # fixed in the second delivery
    ]
    _write(tmp_path, "\n".join([HEADER, *first]) + "\n", "inv_1.csv")
    _write(tmp_path, "\n".join([HEADER, "4,10,invoice,2026-01-08,,USD,7.00"]) + "\n", "inv_2.csv")
    cfg = _config(tmp_path)
    con, _ = _land(cfg)
    con.execute("update raw.erp__invoices set _loaded_at = timestamp '2026-01-01 00:00:00'")
    second = [*first[:2], "2,10,invoice,2026-01-06,,USD,45.00", "5,10,invoice,2026-01-09,,USD,9.00"]
    _write(tmp_path, "\n".join([HEADER, *second]) + "\n", "inv_1.csv")
    _, records = _land(cfg, con)
    assert [(Path(r.file).name, r.status, r.replaced) for r in records] == [
        ("inv_1.csv", "loaded", 1),
        ("inv_2.csv", "skipped", 0),
    ]
    statuses = con.execute("select status, count(*) from quality.source_loads group by 1 order by 1").fetchall()
    assert statuses == [("loaded", 2), ("replaced", 1)]
    rules = [rule for *_, rule in _state(con)[1]]
    assert rules == ["duplicate_exact"], "an unchanged row re-exported is not a duplicate of itself"
    accepted = con.execute(
        "select document_id, amount from raw.erp__invoices where _status = 'accepted' order by 1"
    ).fetchall()
    assert [(d, str(a)) for d, a in accepted] == [("1", "100.00"), ("2", "45.00"), ("4", "7.00"), ("5", "9.00")]
    first_landed = dt.datetime(2026, 1, 1)
    landed = con.execute(
        "select document_id, _status, amount, _loaded_at = ? from raw.erp__invoices "
        "where _status <> 'quarantined' order by all",
        [first_landed],
    ).fetchall()
    assert [(d, st, str(a), old) for d, st, a, old in landed] == [
        ("1", "accepted", "100.00", True),  # unchanged: keeps the time it first landed
        ("2", "accepted", "45.00", False),
        ("2", "replaced", "50.00", False),  # the changed version stays, stamped when replaced
        ("4", "accepted", "7.00", True),
        ("5", "accepted", "9.00", False),
    ]
    _assert_as_if_landed_afresh(con, cfg)


def test_a_new_snapshot_replaces_the_whole_table(tmp_path: Path) -> None:
    _write(tmp_path, "\n".join([HEADER, *GOOD_ROWS]) + "\n")
    cfg = _config(tmp_path, path="inv.csv")
    con, _ = _land(cfg)
    _write(tmp_path, "\n".join([HEADER, GOOD_ROWS[0].replace("100.50", "90.00"), "3,10,invoice,2026-01-07,,USD,1.00"]))
    _, (rec,) = _land(cfg, con)
    assert (rec.status, rec.rows_accepted, rec.rows_quarantined, rec.replaced) == ("loaded", 2, 0, 1)
    rows = con.execute("select document_id, amount, _status from raw.erp__invoices order by all").fetchall()
    assert [(d, str(a), st) for d, a, st in rows] == [
        ("1", "90.00", "accepted"),
        ("1", "100.50", "replaced"),
        ("2", "200.00", "replaced"),  # document 2 left the snapshot
        ("3", "1.00", "accepted"),
    ]
    assert con.execute("select count(*) from quality.exceptions").fetchall() == [(0,)]
    _assert_as_if_landed_afresh(con, cfg)


def test_a_rejected_redelivery_replaces_nothing_and_a_second_run_changes_nothing(tmp_path: Path) -> None:
    rows = [f"{n},10,invoice,2026-01-05,,USD,1.00" for n in range(1, 11)]
    _write(tmp_path, "\n".join([HEADER, *rows]) + "\n")
    cfg = _config(tmp_path, path="inv.csv")
    con, _ = _land(cfg)
    before = _state(con)
    _write(tmp_path, "\n".join([HEADER, *rows[:4]]) + "\n")  # 4 of 10 rows: below the 0.5 drop threshold
    _, (rec,) = _land(cfg, con)
    assert rec.status == "rejected" and "row_count" in rec.message
    assert _state(con)[0] == before[0], "the rows of the last good snapshot stay"
    assert con.execute("select count(*) from quality.source_loads where status = 'loaded'").fetchall() == [(1,)]
    open_rejections = "select count(*) from quality.exceptions where row_number is null"
    assert con.execute(open_rejections).fetchall() == [(1,)], "the rejected delivery is open"
    _write(tmp_path, "\n".join([HEADER, *rows[:5]]) + "\n")  # 5 of 10: exactly the threshold, lands
    time.sleep(1.01)  # load times are to the second: a load in the rejection's second settles nothing
    _land(cfg, con)
    assert con.execute(open_rejections).fetchall() == [(0,)], "the file's next delivery loaded: settled"
    assert con.execute("select count(*) from quality.source_loads where status = 'rejected'").fetchall() == [(1,)]
    after = _state(con)
    _, (again,) = _land(cfg, con)
    assert again.status == "skipped" and _state(con) == after
    assert [r[4] for r in after[0]] == ["1", "2", "3", "4", "5"]


def test_a_file_back_to_earlier_bytes_lands_again(tmp_path: Path) -> None:
    text = "\n".join([HEADER, *GOOD_ROWS]) + "\n"
    _write(tmp_path, text, "inv_1.csv")
    cfg = _config(tmp_path)
    con, _ = _land(cfg)
    _write(tmp_path, "\n".join([HEADER, GOOD_ROWS[0]]) + "\n", "inv_1.csv")
    _land(cfg, con)
    _write(tmp_path, text, "inv_1.csv")
    _, (rec,) = _land(cfg, con)
    assert rec.status == "loaded", "a replaced load's checksum is not 'already loaded'"
    assert con.execute("select count(*) from raw.erp__invoices where _status = 'accepted'").fetchall() == [(2,)]
    _assert_as_if_landed_afresh(con, cfg)


def test_a_duplicate_of_a_replaced_row_is_accepted_again(tmp_path: Path) -> None:
    _write(tmp_path, "\n".join([HEADER, *GOOD_ROWS]) + "\n", "inv_1.csv")
    _write(tmp_path, "\n".join([HEADER, "2,10,invoice,2026-01-06,2026-02-05,EUR,210.00"]) + "\n", "inv_3.csv")
    cfg = _config(tmp_path)
    con, _ = _land(cfg)
    assert [(Path(f).name, n, rule) for f, _, n, rule in _state(con)[1]] == [("inv_1.csv", 2, "duplicate_conflict")]
    _write(tmp_path, "\n".join([HEADER, "6,10,invoice,2026-01-09,,USD,3.00"]) + "\n", "inv_3.csv")
    _land(cfg, con)
    assert _state(con)[1] == [], "the row inv_3.csv held the key against is gone"
    loads = dict(con.execute("select file, rows_accepted from quality.source_loads where status = 'loaded'").fetchall())
    assert loads == {str(tmp_path / "inv_1.csv"): 2, str(tmp_path / "inv_3.csv"): 1}
    _assert_as_if_landed_afresh(con, cfg)
