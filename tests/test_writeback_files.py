"""File emitters: three layouts read back as an importer reads them, formula neutralisation,
atomic writes, one file per batch named by batch id, import results as acknowledgements."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import os

import pandas as pd
import pytest

from orchestration.defs.writeback.changes import Change
from orchestration.defs.writeback.emitters import files
from orchestration.defs.writeback.emitters.files import batch_file_name, write_atomically
from orchestration.defs.writeback.outbox import OutboxStore
from orchestration.defs.writeback.sender import send
from orchestration.defs.writeback.settings import ChangeKind, WritebackConfig

AS_OF = dt.date(2026, 11, 27)
NOW = dt.datetime(2026, 11, 27, 9, 30, 5, tzinfo=dt.UTC)
EVIL = ['=HYPERLINK("http://x")', "+SUM(1)", "-2+3+cmd|' /C calc'!A0", "@SUM(A1)", "\tTAB", "\rCR"]


def _config(fmt: str, **target: object) -> WritebackConfig:
    return WritebackConfig.model_validate(
        {
            "targets": {
                "erp_files": {
                    "type": "file",
                    "format": fmt,
                    "directory": "drop",
                    "owner": "ar@x.example",
                    "batch_size": 100,
                    "kinds": ["note", "promise", "dispute_flag", "risk_band"],
                    **target,
                }
            },
            "approval": {"risk_band": "auto"},
        }
    )


def _changes() -> list[Change]:
    notes = [
        Change(
            ChangeKind.NOTE,
            f"ACT-{i}",
            "note.text",
            {
                "text": text,
                "author": "Ann; O'Neil",
                "activity_date": dt.date(2026, 11, 20),
                "customer_id": "C1",
                "document_id": None,
            },
        )
        for i, text in enumerate(EVIL + ['multi\nline, "quoted"; text'])
    ]
    return [
        *notes,
        Change(
            ChangeKind.PROMISE,
            "PTP-1",
            "promise.promise",
            {
                "promised_date": dt.date(2026, 12, 4),
                "promised_amount": decimal.Decimal("-1200.5"),
                "currency": "EUR",
                "customer_id": "C1",
                "document_id": "INV-1",
            },
        ),
        Change(ChangeKind.DISPUTE_FLAG, "INV-9", "invoice.dispute_flag", True),
        Change(ChangeKind.RISK_BAND, "-INV-7", "invoice.risk_band", "high"),
    ]


def _send(tmp_path, fmt: str):
    store = OutboxStore.at_home(tmp_path)
    config = _config(fmt)
    store.enqueue(_changes(), config, AS_OF, now=NOW)
    report = send(store, config, tmp_path, now=lambda: NOW)
    (path,) = (tmp_path / "drop").iterdir()
    return store, report, path


def test_generic_csv_round_trips_and_is_named_by_batch(tmp_path):
    store, report, path = _send(tmp_path, "generic_csv")
    rows = store.rows()
    batch_id = rows[0].batch_id
    assert report.delivered == len(rows) == 10 and {r.batch_id for r in rows} == {batch_id}
    assert path.name == batch_file_name("erp_files", batch_id, "generic_csv") == f"inflow_erp_files_{batch_id}.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(frame.columns) == list(files.GENERIC_HEADER)
    assert list(frame["idempotency_key"]) == [r.idempotency_key for r in rows]
    notes = frame[frame["kind"] == "note"]["value"].tolist()
    assert notes == ["'" + e for e in EVIL] + ['multi\nline, "quoted"; text']
    assert frame.loc[frame["kind"] == "promise", "value_json"].item() == rows[7].value
    assert frame.loc[frame["kind"] == "risk_band", "entity_key"].item() == "'-INV-7"
    assert frame.loc[frame["kind"] == "dispute_flag", "value"].item() == "true"
    assert [r.status for r in store.rows()] == ["sent"] * 10


def test_netsuite_csv_has_external_ids_and_netsuite_dates(tmp_path):
    store, _, path = _send(tmp_path, "netsuite_csv")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(frame.columns) == list(files.NETSUITE_HEADER)
    assert frame["External ID"].is_unique and set(frame["External ID"]) == {r.idempotency_key for r in store.rows()}
    promise = frame[frame["Kind"] == "promise"].iloc[0]
    assert (promise["Date"], promise["Amount"], promise["Currency"], promise["Value"]) == (
        "12/4/2026",
        "-1200.50",
        "EUR",
        "2026-12-04",
    )
    note = frame[frame["Record"] == "ACT-0"].iloc[0]
    assert (note["Value"], note["Memo"], note["Date"]) == ("'" + EVIL[0], "Ann; O'Neil", "11/20/2026")


def test_sap_flat_file_has_header_items_and_trailer(tmp_path):
    store, _, path = _send(tmp_path, "sap_flat")
    assert path.suffix == ".txt"
    records = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8"), newline=""), delimiter=";"))
    header, items, trailer = records[0], records[1:-1], records[-1]
    assert header == ["H", store.rows()[0].batch_id, "erp_files", "20261127", "093005", "10"]
    assert trailer == ["T", "10"] and len(items) == 10 and all(r[0] == "D" for r in items)
    promise = next(r for r in items if r[2] == "promise")
    assert promise[7:10] == ["20261204", "-1200.50", "EUR"]
    assert next(r for r in items if r[4] == "ACT-6")[6] == 'multi line, "quoted"; text', "one line, quoted, not cut"
    assert len(path.read_bytes().decode("utf-8").split("\r\n")) == 13, "one physical line per record"


def test_each_batch_is_its_own_file(tmp_path):
    store = OutboxStore.at_home(tmp_path)
    config = _config("generic_csv", batch_size=4)
    store.enqueue(_changes(), config, AS_OF, now=NOW)
    report = send(store, config, tmp_path)
    written = sorted(p.name for p in (tmp_path / "drop").iterdir())
    batches = sorted({r.batch_id for r in store.rows()})
    assert report.targets["erp_files"].batches == 3 and len(batches) == 3
    assert written == [batch_file_name("erp_files", b, "generic_csv") for b in batches]
    sizes = [len(pd.read_csv(tmp_path / "drop" / name)) for name in written]
    assert sorted(sizes) == [2, 4, 4]


def test_a_failed_write_leaves_no_file_and_the_batch_is_finished_next_time(tmp_path, monkeypatch):
    store = OutboxStore.at_home(tmp_path)
    config = _config("generic_csv")
    store.enqueue(_changes(), config, AS_OF, now=NOW)

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "replace", full_disk)
    report = send(store, config, tmp_path)
    assert report.delivered == 0 and report.retry_later == 10
    assert list((tmp_path / "drop").iterdir()) == [], "no partial file, no temporary file left"
    row = store.rows()[0]
    assert (row.status, row.attempts) == ("approved", 1) and "No space left on device" in row.last_error
    monkeypatch.undo()
    batch = row.batch_id
    assert send(store, config, tmp_path).delivered == 10
    assert {r.batch_id for r in store.rows()} == {batch}, "the same batch, under the same name"
    assert [p.name for p in (tmp_path / "drop").iterdir()] == [batch_file_name("erp_files", batch, "generic_csv")]


def test_write_atomically_replaces_whole_files_only(tmp_path):
    target = tmp_path / "out" / "f.csv"
    write_atomically(target, b"one")
    write_atomically(target, b"two")
    assert target.read_bytes() == b"two" and os.listdir(target.parent) == ["f.csv"]


def test_import_results_acknowledge_or_fail_sent_changes(tmp_path):
    store = OutboxStore.at_home(tmp_path)
    config = _config("netsuite_csv", results_directory="results")
    store.enqueue(_changes()[:3], config, AS_OF, now=NOW)
    send(store, config, tmp_path)
    rows = store.rows()
    name = batch_file_name("erp_files", rows[0].batch_id, "netsuite_csv")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / f"{name}.result.csv").write_text(
        "idempotency_key,result,message\n"
        f"{rows[0].idempotency_key},ok,\n{rows[1].idempotency_key},error,Invalid customer reference\n"
        "ffffffffffffffff,ok,\n",
        encoding="utf-8",
    )
    report = send(store, config, tmp_path)
    assert report.targets["erp_files"].acknowledged_by_poll == 2
    statuses = [(r.status, r.last_error) for r in store.rows()]
    assert statuses == [("acknowledged", None), ("failed", "import error: Invalid customer reference"), ("sent", None)]
    assert send(store, config, tmp_path).targets["erp_files"].acknowledged_by_poll == 0, "read once"


def test_an_unknown_format_or_target_is_refused():
    with pytest.raises(ValueError, match="format"):
        _config("xlsx")
    with pytest.raises(ValueError, match="target name"):
        WritebackConfig.model_validate(
            {
                "targets": {
                    "ERP Files": {
                        "type": "file",
                        "format": "generic_csv",
                        "directory": "d",
                        "owner": "a",
                        "kinds": ["note"],
                    }
                }
            }
        )
