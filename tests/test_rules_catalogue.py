"""Every rule in the catalogue fires: each reader, batch, typing and dedupe rule through the real
landing path (``land_table`` on a small file), the writeback rules through the outbox's exception
builder, and the row and relation rules through ``tests/test_expectations.py::ROW_CASES`` (the
same SQL landing runs). A rule added to the catalogue without a case here (or there) fails
``test_every_rule_in_the_catalogue_fires``: a rule that cannot fire is a defect.

Also: an unchanged rejected file is recorded once, however often it is landed again.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml

from expectations.contracts import ENTITIES
from expectations.rules import RULES
from orchestration.config import load_config
from orchestration.defs.ingestion.landing import land_table
from orchestration.defs.ingestion.readers import BatchRejected
from orchestration.defs.quality.store import write_owner_reports
from orchestration.defs.writeback.confirmation import outbox_exceptions
from orchestration.warehouse import prepare_landing
from tests.test_expectations import ROW_CASES

LOAD_DATE = dt.date(2026, 11, 27)
HEADER = "DocNo,CustNo,DocType,DocDate,DueDate,Curr,Amount,Upd"
ROW = "{n},10,invoice,2026-01-05,2026-02-04,USD,{amount},2026-01-05 10:00:00"
GOOD = [ROW.format(n=n, amount="10.00") for n in range(1, 4)]
MAPPING = {
    "document_id": "DocNo",
    "customer_id": "CustNo",
    "document_type": "DocType",
    "document_date": "DocDate",
    "due_date": "DueDate",
    "currency": "Curr",
    "amount": "Amount",
    "updated_at": "Upd",
}


def _csv(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


#: rule -> (files of the invoices table, reader options). Each case breaks exactly what its rule catches.
LANDING_CASES: dict[str, tuple[dict[str, bytes], dict[str, object]]] = {
    "no_files": ({}, {}),
    "empty_file": ({"inv_1.csv": b""}, {}),
    "wrong_encoding": ({"inv_1.csv": (HEADER + "\n" + GOOD[0] + ",Société\n").encode("latin-1")}, {}),
    "unparseable_file": ({"inv_1.csv": _csv(HEADER, *GOOD, "4,10,invoice,2026-01")}, {}),
    "duplicate_header": ({"inv_1.csv": _csv(HEADER.replace("Upd", "DocNo"), *GOOD)}, {}),
    "required_column_missing": (
        {"inv_1.csv": _csv(HEADER.replace(",Amount", ""), "1,10,invoice,2026-01-05,,USD,x")},
        {},
    ),
    # An empty delta (a glob's new file) is legitimate; an empty snapshot is not.
    "batch_empty": ({"inv_1.csv": _csv(HEADER)}, {"load": "snapshot"}),
    "required_column_empty": (
        {"inv_1.csv": _csv(HEADER, *(g.replace("2026-01-05,", "05.01.2026,", 1) for g in GOOD))},
        {},
    ),
    "row_count_collapsed": (
        {
            "inv_1.csv": _csv(HEADER, *(ROW.format(n=n, amount="1.00") for n in range(1, 11))),
            "inv_2.csv": _csv(HEADER, ROW.format(n=11, amount="1.00")),
        },
        {"load": "snapshot"},
    ),
    "required_value_missing": ({"inv_1.csv": _csv(HEADER, *GOOD, ROW.format(n=4, amount=""))}, {}),
    "unparseable_date": (
        {"inv_1.csv": _csv(HEADER, *GOOD, ROW.format(n=4, amount="1.00").replace("2026-01-05,", "2026-13-45,", 1))},
        {},
    ),
    "unparseable_timestamp": (
        {"inv_1.csv": _csv(HEADER, *GOOD, ROW.format(n=4, amount="1.00").replace("10:00:00", "25:61"))},
        {},
    ),
    "ambiguous_date": (
        {
            "inv_1.csv": _csv(
                HEADER,
                *(
                    ROW.format(n=n, amount="1.00").replace("2026-01-05,2026-02-04", day)
                    for n, day in [(1, "03/04/2026,"), (2, "05/06/2026,")]  # no day above 12: no evidence
                ),
            )
        },
        {"date_formats": ["%d/%m/%Y", "%m/%d/%Y"]},
    ),
    "unparseable_amount": ({"inv_1.csv": _csv(HEADER, *GOOD, ROW.format(n=4, amount="12.5x"))}, {}),
    "duplicate_exact": ({"inv_1.csv": _csv(HEADER, *GOOD, GOOD[0])}, {}),
    "duplicate_conflict": ({"inv_1.csv": _csv(HEADER, *GOOD, ROW.format(n=1, amount="99.00"))}, {}),
}


#: Keys of a case's options that are table settings, not reader options.
TABLE_KEYS = ("load",)
#: Rules fired by a case in another module, which asserts the rule by name.
FIRED_ELSEWHERE = {
    "value_not_mapped": "tests/test_onboarding.py (a code the column's map lacks)",
    "quarantine_share_exceeded": "tests/test_onboarding.py (batches mostly quarantined)",
    "date_order_mismatch": "tests/test_onboarding.py (day-first declared on month-first dates)",
    "fx_rate_missing": "tests/test_onboarding.py (an open document without its FX rate)",
    "path_outside_roots": "tests/test_paths.py (a source file outside the configuration's roots)",
}


def _config(folder: Path, options: dict[str, object], query: str | None = None) -> Path:
    if query is None:
        table = {"entity": "invoices", "format": "csv", "path": "inv_*.csv", "columns": MAPPING}
        source = {"transport": "file"}
    else:
        table = {"entity": "invoices", "format": "query", "query": query, "columns": MAPPING}
        source = {"transport": "database", "url": "sqlite:///erp.sqlite"}
    table |= {key: options[key] for key in TABLE_KEYS if key in options}
    options = {key: value for key, value in options.items() if key not in TABLE_KEYS}
    if options:
        table["options"] = options
    config = {
        "company": "Test",
        "reporting_currency": "USD",
        "sources": {
            "erp": {
                "system": "erp",
                "role": "system_of_record",
                "owner": "ar@test.example",
                **source,
                "tables": {"invoices": table},
            }
        },
    }
    path = folder / "inflow.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def _land(folder: Path, con: duckdb.DuckDBPyConnection, options: dict[str, object], query: str | None = None):
    config = load_config(_config(folder, options, query))
    prepare_landing(con, {e: config.tables_of(e) for e in ENTITIES})
    return land_table(con, config, "erp", "invoices", LOAD_DATE)


def _fired(folder: Path, files: dict[str, bytes], options: dict[str, object], query: str | None = None) -> set[str]:
    for name, content in files.items():
        (folder / name).write_bytes(content)
    con = duckdb.connect()
    try:
        _land(folder, con, options, query)
    except BatchRejected as exc:
        return {exc.rule}
    return {rule for (rule,) in con.execute("select distinct rule from quality.exceptions").fetchall()}


@pytest.mark.parametrize("rule", sorted(LANDING_CASES))
def test_landing_rule_fires(rule: str, tmp_path: Path) -> None:
    files, options = LANDING_CASES[rule]
    fired = _fired(tmp_path, files, options)
    assert rule in fired
    assert fired <= {rule, "required_value_missing"}, f"{rule}'s case breaks only what it catches: {fired}"


def test_query_failed_fires(tmp_path: Path) -> None:
    sqlite3.connect(tmp_path / "erp.sqlite").close()
    assert _fired(tmp_path, {}, {}, query="select * from no_such_table") == {"query_failed"}


def test_writeback_rules_fire() -> None:
    now = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)
    base = {
        "target": "erp",
        "entity_type": "invoice",
        "entity_key": "INV-1",
        "field": "invoice.risk_band",
        "kind": "risk_band",
        "attempts": 3,
        "last_error": "HTTP 422",
        "batch_id": "b1",
        "value": '"high"',
    }
    outbox = pd.DataFrame(
        [
            {**base, "seq": 1, "idempotency_key": "k1", "status": "failed", "sent_at": None},
            {
                **base,
                "seq": 2,
                "idempotency_key": "k2",
                "status": "sent",
                "sent_at": "2026-11-01T00:00:00+00:00",
                "entity_key": "INV-2",
            },
        ]
    )
    fired = outbox_exceptions(outbox, {"erp": "ar@x.example"}, 7, now)
    assert sorted(fired["rule"]) == ["writeback_failed", "writeback_unconfirmed"]


def test_every_rule_in_the_catalogue_fires() -> None:
    fired_here = (
        set(LANDING_CASES) | {"query_failed", "writeback_failed", "writeback_unconfirmed"} | set(FIRED_ELSEWHERE)
    )
    assert fired_here.isdisjoint(ROW_CASES) or fired_here & set(ROW_CASES) == {"required_value_missing"}
    assert fired_here | set(ROW_CASES) == set(RULES), (
        "a catalogued rule without a firing case, or a case without a rule"
    )


def test_an_unchanged_rejected_file_is_recorded_once(tmp_path: Path) -> None:
    (tmp_path / "inv_1.csv").write_bytes(_csv(HEADER))  # header only in a snapshot: batch_empty, every run
    con = duckdb.connect()
    first = _land(tmp_path, con, {"load": "snapshot"})
    owners = tmp_path / "exceptions"
    write_owner_reports(con, owners)
    report = next(owners.iterdir()).read_bytes()
    for _ in range(2):
        (again,) = _land(tmp_path, con, {"load": "snapshot"})
        assert again.status == "rejected" and again.repeated and again.load_id == first[0].load_id
        assert again.message == first[0].message
    assert con.execute("select count(*) from quality.source_loads").fetchall() == [(1,)]
    assert con.execute("select count(*) from quality.exceptions").fetchall() == [(1,)]
    write_owner_reports(con, owners)
    assert next(owners.iterdir()).read_bytes() == report, "the owner's file does not grow"
    (tmp_path / "inv_1.csv").write_bytes(_csv(HEADER, *GOOD))  # fixed: a new content lands
    (fixed,) = _land(tmp_path, con, {"load": "snapshot"})
    assert fixed.status == "loaded" and not fixed.repeated and fixed.rows_accepted == 3
