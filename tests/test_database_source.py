"""Database-view sources: a query over a SQLAlchemy URL lands like a file, against SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa
import yaml

from expectations.contracts import ENTITIES
from orchestration.config import InflowConfig, load_config
from orchestration.defs.ingestion.landing import land_table
from orchestration.warehouse import prepare_landing

PROMISES = [
    ("P1", "10", "INV-1", dt.date(2026, 11, 30), "1200.50", dt.datetime(2026, 11, 20, 9, 30), "open"),
    ("P2", "0011", None, dt.date(2026, 12, 5), "300", dt.datetime(2026, 11, 21, 10, 0), "kept"),
    ("P3", "12", "INV-9", None, "50", dt.datetime(2026, 11, 22, 11, 0), "broken"),
]


def _seed_promises(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("drop table if exists crm_promises"))
        conn.execute(
            sa.text(
                "create table crm_promises (pid varchar(10), cust varchar(10), doc varchar(10), "
                "due date, amt numeric(12,2), created timestamp, state varchar(10))"
            )
        )
        conn.execute(
            sa.text("insert into crm_promises values (:p, :c, :d, :due, :a, :cr, :s)"),
            [dict(zip(["p", "c", "d", "due", "a", "cr", "s"], row, strict=True)) for row in PROMISES],
        )
    engine.dispose()


def _config(tmp_path: Path, url: str) -> Path:
    cfg = {
        "company": "Test",
        "reporting_currency": "USD",
        "sources": {
            # a configuration must land invoices from a system of record; these tests land promises only
            "erp": {
                "system": "erp",
                "role": "system_of_record",
                "transport": "file",
                "owner": "ar@test.example",
                "tables": {
                    "invoices": {
                        "entity": "invoices",
                        "format": "csv",
                        "path": "unused_*.csv",
                        "columns": {
                            "document_id": "DocNo",
                            "customer_id": "CustNo",
                            "document_type": "DocType",
                            "document_date": "DocDate",
                            "currency": "Curr",
                            "amount": "Amount",
                        },
                    }
                },
            },
            "workflow": {
                "system": "workflow",
                "role": "workflow",
                "transport": "database",
                "owner": "collections@test.example",
                "url": url,
                "tables": {
                    "promises": {
                        "entity": "promises",
                        "format": "query",
                        "query": "select pid, cust, doc, due, amt, created, state from crm_promises order by pid",
                        "columns": {
                            "promise_id": "pid",
                            "customer_id": "cust",
                            "document_id": "doc",
                            "promised_date": "due",
                            "promised_amount": "amt",
                            "created_at": "created",
                            "status": "state",
                        },
                    }
                },
            },
        },
    }
    path = tmp_path / "inflow.yml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _land(config_path: Path) -> tuple[duckdb.DuckDBPyConnection, list]:
    config = load_config(config_path)
    con = duckdb.connect()
    prepare_landing(con, {e: config.tables_of(e) for e in ENTITIES})
    records = land_table(con, config, "workflow", "promises", dt.date(2026, 11, 27))
    return con, records


def _check_landed(con: duckdb.DuckDBPyConnection, records: list) -> None:
    (rec,) = records
    assert rec.status == "loaded"
    assert (rec.rows_landed, rec.rows_accepted, rec.rows_quarantined) == (3, 2, 1)
    rows = con.execute(
        "select promise_id, customer_id, promised_date, promised_amount, created_at, status "
        "from raw.promises where _status = 'accepted' order by promise_id"
    ).fetchall()
    assert rows[0][0:4] == ("P1", "10", dt.date(2026, 11, 30), pytest.approx(1200.50))
    assert rows[0][4] == dt.datetime(2026, 11, 20, 9, 30)
    assert rows[1][1] == "11", "leading zeros of an all-digit id are normalized at landing"
    (exc,) = con.execute("select row_number, rule, column_name from quality.exceptions").fetchall()
    assert exc == (3, "required_value_missing", "promised_date")


def test_sqlite_view_source(tmp_path: Path) -> None:
    url = "sqlite:///workflow.sqlite"  # relative: resolved against the config's folder
    _seed_promises(f"sqlite:///{tmp_path / 'workflow.sqlite'}")
    con, records = _land(_config(tmp_path, url))
    _check_landed(con, records)


def test_sqlite_same_result_is_skipped(tmp_path: Path) -> None:
    _seed_promises(f"sqlite:///{tmp_path / 'workflow.sqlite'}")
    config = load_config(_config(tmp_path, "sqlite:///workflow.sqlite"))
    con = duckdb.connect()
    prepare_landing(con, {e: config.tables_of(e) for e in ENTITIES})
    first = land_table(con, config, "workflow", "promises", dt.date(2026, 11, 27))
    second = land_table(con, config, "workflow", "promises", dt.date(2026, 11, 27))
    assert first[0].status == "loaded" and second[0].status == "skipped"
    assert con.execute("select count(*) from raw.promises").fetchone()[0] == 3


def test_failing_query_is_rejected_with_the_source_named(tmp_path: Path) -> None:
    _seed_promises(f"sqlite:///{tmp_path / 'workflow.sqlite'}")
    path = _config(tmp_path, "sqlite:///workflow.sqlite")
    path.write_text(path.read_text().replace("from crm_promises", "from no_such_table"))
    con, (rec,) = _land(path)
    assert rec.status == "rejected"
    assert "workflow.sqlite#promises: query failed" in rec.message and "no_such_table" in rec.message
    assert con.execute("select rule from quality.exceptions").fetchall() == [("query_failed",)]
    assert con.execute("select count(*) from raw.promises").fetchone()[0] == 0


def test_a_query_rejection_is_settled_by_the_next_load_and_a_new_failure_is_open_again(tmp_path: Path) -> None:
    """A query that could not be read was rejected without a checksum: the table's next load
    settles it; the same failure after that load is open again, not an old one repeated."""
    _seed_promises(f"sqlite:///{tmp_path / 'workflow.sqlite'}")
    path = _config(tmp_path, "sqlite:///workflow.sqlite")
    fixed = load_config(path)
    path.write_text(path.read_text().replace("from crm_promises", "from no_such_table"))
    broken = load_config(path)
    con, _ = _land(path)

    def next_run(config: InflowConfig) -> str:
        """The table's batch in a run a minute after the ones before (load times are to the second)."""
        con.execute("update quality.source_loads set loaded_at = loaded_at - interval 1 minute")
        con.execute("update quality.exceptions set detected_at = detected_at - interval 1 minute")
        (rec,) = land_table(con, config, "workflow", "promises", dt.date(2026, 11, 27))
        return rec.status

    def rules() -> list[str]:
        return [r for (r,) in con.execute("select rule from quality.exceptions order by rule").fetchall()]

    assert next_run(fixed) == "loaded" and rules() == ["required_value_missing"]
    assert next_run(broken) == "rejected" and rules() == ["query_failed", "required_value_missing"]
    assert next_run(broken) == "rejected" and rules() == ["query_failed", "required_value_missing"], "recorded once"


@pytest.mark.postgres
def test_postgres_view_source(tmp_path: Path, postgres_url: str) -> None:
    _seed_promises(postgres_url)
    con, records = _land(_config(tmp_path, postgres_url))
    _check_landed(con, records)
    assert "postgresql" in records[0].file and "inflow" in records[0].file


def test_sqlite_result_landed_in_chunks_keeps_rows_and_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A result larger than one fetch lands chunk by chunk with the same rows and row numbers."""
    from orchestration.defs.ingestion import readers

    monkeypatch.setattr(readers, "QUERY_CHUNK_ROWS", 2)
    _seed_promises(f"sqlite:///{tmp_path / 'workflow.sqlite'}")
    con, records = _land(_config(tmp_path, "sqlite:///workflow.sqlite"))
    _check_landed(con, records)
    numbered = con.execute("select _row_number, promise_id from raw.promises order by 1").fetchall()
    assert [n for n, _ in numbered] == [1, 2, 3]


def test_sqlite_changed_result_lands_again(tmp_path: Path) -> None:
    """A result differing in one value (or only in row order) is a new batch, not a skipped one."""
    url = f"sqlite:///{tmp_path / 'workflow.sqlite'}"
    _seed_promises(url)
    path = _config(tmp_path, "sqlite:///workflow.sqlite")
    config = load_config(path)
    con = duckdb.connect()
    prepare_landing(con, {e: config.tables_of(e) for e in ENTITIES})
    land_table(con, config, "workflow", "promises", dt.date(2026, 11, 27))
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("update crm_promises set state = 'kept' where pid = 'P1'"))
    engine.dispose()
    (changed,) = land_table(con, config, "workflow", "promises", dt.date(2026, 11, 27))
    assert changed.status == "loaded"
    cfg = yaml.safe_load(path.read_text())
    cfg["sources"]["workflow"]["tables"]["promises"]["query"] += " desc"
    path.write_text(yaml.safe_dump(cfg))
    reordered = load_config(path)
    (again,) = land_table(con, reordered, "workflow", "promises", dt.date(2026, 11, 27))
    assert again.status == "loaded" and again.checksum != changed.checksum


# A watermarked query (decision L2): read from the day of the latest value landed, whole every few days.


def _watermarked(tmp_path: Path, full_every_days: int = 7, url: str = "sqlite:///workflow.sqlite") -> InflowConfig:
    path = _config(tmp_path, url)
    cfg = yaml.safe_load(path.read_text())
    cfg["sources"]["workflow"]["tables"]["promises"]["watermark"] = {
        "column": "created_at",
        "full_every_days": full_every_days,
    }
    path.write_text(yaml.safe_dump(cfg))
    return load_config(path)


def _execute(url: str, *statements: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement))
    engine.dispose()


def _empty_landing(config: InflowConfig) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    prepare_landing(con, {e: config.tables_of(e) for e in ENTITIES})
    return con


def _a_day_passes(con: duckdb.DuckDBPyConnection) -> None:
    """Load times are the clock's: the next run's loads come a day after these."""
    con.execute("update quality.source_loads set loaded_at = loaded_at - interval 1 day")


def _promises(con: duckdb.DuckDBPyConnection) -> tuple[list, list]:
    """Accepted promises and open exceptions as (promise, status) and (promise, rule)."""
    accepted = con.execute(
        "select promise_id, status from raw.promises where _status = 'accepted' order by all"
    ).fetchall()
    exceptions = con.execute(
        "select json_extract_string(payload, '$.promise_id'), rule from quality.exceptions order by all"
    ).fetchall()
    return accepted, exceptions


def test_a_watermarked_query_reads_from_the_latest_day_and_whole_every_few_days(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'workflow.sqlite'}"
    _seed_promises(url)
    config = _watermarked(tmp_path, full_every_days=3)
    con = _empty_landing(config)
    day = dt.date(2026, 11, 27)

    (first,) = land_table(con, config, "workflow", "promises", day)
    assert not first.partial and first.rows_landed == 3
    _a_day_passes(con)
    _execute(
        url,
        "insert into crm_promises values ('P4', '10', 'INV-4', '2026-12-01', 10, '2026-11-22 15:00:00', 'open')",
        "insert into crm_promises values ('P5', '10', 'INV-5', '2026-12-01', 20, '2026-11-23 08:00:00', 'open')",
        "insert into crm_promises values ('P0', '10', 'INV-0', '2026-12-01', 30, '2026-11-01 08:00:00', 'open')",
        "update crm_promises set state = 'broken' where pid = 'P2'",  # created 11-21: the latest accepted day
        "update crm_promises set state = 'broken' where pid = 'P1'",  # created 11-20: before it
    )
    (second,) = land_table(con, config, "workflow", "promises", day)
    _a_day_passes(con)
    assert second.partial and second.file.endswith("where created >= 2026-11-21")
    # read again: P2 (changed), P3 (created 11-22, still quarantined), P4 and P5 (new); not P1, not P0
    assert (second.rows_landed, second.rows_accepted, second.rows_quarantined) == (4, 3, 1)
    accepted, exceptions = _promises(con)
    assert accepted == [("P1", "open"), ("P2", "broken"), ("P4", "open"), ("P5", "open")]
    assert exceptions == [("P3", "required_value_missing")], "a row read again is not reported twice"
    assert con.execute("select count(*) from raw.promises where _status = 'replaced'").fetchone() == (1,)
    (third,) = land_table(con, config, "workflow", "promises", day)
    _a_day_passes(con)
    assert third.partial and third.file.endswith("where created >= 2026-11-23")
    assert (third.rows_landed, third.rows_accepted) == (1, 1), "only P5's day"
    assert _promises(con)[0] == accepted, "P5 read again unchanged replaces itself"
    assert con.execute("select count(*) from raw.promises where _status = 'replaced'").fetchone() == (1,)
    _execute(url, "delete from crm_promises where pid = 'P4'")
    (whole,) = land_table(con, config, "workflow", "promises", day)
    assert not whole.partial, "three days after the last whole read the table is read whole"
    accepted, exceptions = _promises(con)
    assert accepted == [("P0", "open"), ("P1", "broken"), ("P2", "broken"), ("P5", "open")]
    fresh = _empty_landing(config)
    land_table(fresh, config, "workflow", "promises", day)
    assert _promises(con) == _promises(fresh), "after a whole read, what an empty home would land"


def test_a_watermark_must_be_a_mapped_date_in_year_month_day_order(tmp_path: Path) -> None:
    from pydantic import ValidationError

    path = _config(tmp_path, "sqlite:///workflow.sqlite")
    cfg = yaml.safe_load(path.read_text())
    table = cfg["sources"]["workflow"]["tables"]["promises"]
    for watermark, options, message in [
        ({"column": "status"}, {}, "must be a date or timestamp column"),
        ({"column": "created_at"}, {"timestamp_formats": ["%d.%m.%Y %H:%M"]}, "must start with %Y-%m-%d"),
        ({"column": "created_at", "full_every_days": 0}, {}, "greater than or equal to 1"),
    ]:
        table["watermark"], table["options"] = watermark, options
        path.write_text(yaml.safe_dump(cfg))
        with pytest.raises((ValidationError, ValueError), match=message):
            load_config(path)
    table["watermark"], table["options"] = {"column": "created_at"}, {"timestamp_formats": ["%Y-%m-%d %H:%M:%S"]}
    path.write_text(yaml.safe_dump(cfg))
    assert load_config(path).sources["workflow"].tables["promises"].watermark is not None


def test_a_whole_read_is_judged_against_the_last_whole_read_not_a_partial_one(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'workflow.sqlite'}"
    _seed_promises(url)
    config = _watermarked(tmp_path, full_every_days=2)
    con = _empty_landing(config)
    day = dt.date(2026, 11, 27)
    land_table(con, config, "workflow", "promises", day)  # whole: 3 rows
    _a_day_passes(con)
    (partial,) = land_table(con, config, "workflow", "promises", day)
    assert partial.partial and partial.rows_landed == 2  # P2 and P3, from P2's day
    _a_day_passes(con)
    _execute(url, "delete from crm_promises where pid in ('P1', 'P2')")
    (whole,) = land_table(con, config, "workflow", "promises", day)
    assert not whole.partial and whole.status == "rejected", "1 row against the last whole read's 3"
    assert "row_count_collapsed" in (whole.message or "")
    assert con.execute("select count(*) from raw.promises where _status = 'accepted'").fetchone() == (2,)


@pytest.mark.postgres
def test_postgres_watermarked_query_binds_the_day_in_the_drivers_style(tmp_path: Path, postgres_url: str) -> None:
    """psycopg2 takes %s where SQLite takes ?: the partial read works on both."""
    _seed_promises(postgres_url)
    config = _watermarked(tmp_path, url=postgres_url)
    con = _empty_landing(config)
    (whole,) = land_table(con, config, "workflow", "promises", dt.date(2026, 11, 27))
    _a_day_passes(con)
    _execute(
        postgres_url,
        "insert into crm_promises values ('P4', '10', 'INV-4', '2026-12-01', 10, '2026-11-22 15:00', 'open')",
    )
    (partial,) = land_table(con, config, "workflow", "promises", dt.date(2026, 11, 27))
    assert not whole.partial and partial.partial and partial.file.endswith("where created >= 2026-11-21")
    assert partial.rows_landed == 3  # P2, P3 and P4
    assert [p for p, _ in _promises(con)[0]] == ["P1", "P2", "P4"]
