"""Acknowledged is not confirmed: the ERP's next load must show the change; overdue ones are exceptions."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from orchestration.defs.quality.store import EXCEPTION_COLUMNS
from orchestration.defs.writeback.changes import Change
from orchestration.defs.writeback.confirmation import confirmed_keys, outbox_exceptions
from orchestration.defs.writeback.outbox import OutboxStore
from orchestration.defs.writeback.serving import copy_exceptions_to_duckdb, copy_outbox_to_duckdb
from orchestration.defs.writeback.settings import ChangeKind, WritebackConfig

AS_OF = dt.date(2026, 11, 27)
SENT = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
CONFIG = WritebackConfig.model_validate(
    {
        "targets": {
            "erp": {
                "type": "file",
                "format": "generic_csv",
                "directory": "d",
                "owner": "ar@x.example",
                "kinds": ["risk_band", "dispute_flag", "note"],
            }
        },
        "approval": {"risk_band": "auto"},
    }
)


def _deliver(store: OutboxStore, changes: list[Change], at: dt.datetime, as_of: dt.date = AS_OF) -> list[str]:
    store.enqueue(changes, CONFIG, as_of, now=at)
    batch = store.claim_batch("erp", 100, now=at)
    keys = [r.idempotency_key for r in batch.rows]
    store.mark_delivered(keys, "test", acknowledged=False, now=at)
    return keys


def test_confirmed_by_value_only_for_the_newest_delivered_value(tmp_path):
    with OutboxStore.at_home(tmp_path) as store:
        (old,) = _deliver(store, [Change(ChangeKind.RISK_BAND, "INV-1", "invoice.risk_band", "high")], SENT)
        new, flag, other = _deliver(
            store,
            [
                Change(ChangeKind.RISK_BAND, "INV-1", "invoice.risk_band", "low"),
                Change(ChangeKind.DISPUTE_FLAG, "INV-2", "invoice.dispute_flag", True),
                Change(ChangeKind.RISK_BAND, "INV-3", "invoice.risk_band", "medium"),
            ],
            SENT + dt.timedelta(days=1),
        )
        observed = pd.DataFrame(
            {
                "entity_key": ["INV-1", "INV-2", "INV-3"],
                "field": ["invoice.risk_band", "invoice.dispute_flag", "invoice.risk_band"],
                "value": ["low", "T", " high "],
            }
        )
        assert confirmed_keys(store.frame(), observed) == sorted([new, flag]), (
            "INV-3 shows another value; INV-1's older 'high' is not what the ERP holds"
        )
        stale_view = observed.assign(value=["high", "F", "medium"])
        assert confirmed_keys(store.frame(), stale_view) == [other], (
            "an ERP still showing the old 'high' does not confirm the newer change, nor the old one"
        )


def test_confirmed_by_key_and_target_filter(tmp_path):
    with OutboxStore.at_home(tmp_path) as store:
        a, b = _deliver(
            store,
            [
                Change(ChangeKind.RISK_BAND, "INV-1", "invoice.risk_band", "high"),
                Change(ChangeKind.NOTE, "A1", "note.text", {"text": "hi"}),
            ],
            SENT,
        )
        assert confirmed_keys(store.frame(), pd.DataFrame({"idempotency_key": [b, "nope"]})) == [b]
        other_target = pd.DataFrame(
            {"target": ["crm"], "entity_key": ["INV-1"], "field": ["invoice.risk_band"], "value": ["high"]}
        )
        assert confirmed_keys(store.frame(), other_target) == []
        assert confirmed_keys(store.frame(), other_target.assign(target="erp")) == [a]
        store.mark_confirmed([a], "test")
        assert store.rows(keys=[a])[0].status == "confirmed"
        assert confirmed_keys(store.frame(), other_target.assign(target="erp")) == [], "confirmed once"


def test_pending_or_rejected_changes_are_never_confirmed(tmp_path):
    with OutboxStore.at_home(tmp_path) as store:
        store.enqueue(
            [Change(ChangeKind.DISPUTE_FLAG, "INV-2", "invoice.dispute_flag", True)],
            CONFIG.model_copy(update={"approval": {**CONFIG.approval, "dispute_flag": "manual"}}),
            AS_OF,
        )
        observed = pd.DataFrame({"entity_key": ["INV-2"], "field": ["invoice.dispute_flag"], "value": ["true"]})
        assert confirmed_keys(store.frame(), observed) == []


def test_unconfirmed_after_n_days_is_an_exception_for_the_target_owner(tmp_path):
    with OutboxStore.at_home(tmp_path) as store:
        late, on_time = _deliver(
            store,
            [
                Change(ChangeKind.RISK_BAND, "INV-1", "invoice.risk_band", "high"),
                Change(ChangeKind.RISK_BAND, "INV-2", "invoice.risk_band", "low"),
            ],
            SENT,
        )
        (recent,) = _deliver(
            store, [Change(ChangeKind.RISK_BAND, "INV-3", "invoice.risk_band", "low")], SENT + dt.timedelta(days=3)
        )
        store.mark_confirmed([on_time], "test")
        owners = {"erp": "ar@x.example"}
        exactly = outbox_exceptions(store.frame(), owners, 7, SENT + dt.timedelta(days=7))
        assert list(exactly.columns) == list(EXCEPTION_COLUMNS)
        assert list(exactly["checksum"]) == [late], "7 days after sending: due now; not the confirmed one"
        row = exactly.iloc[0]
        assert (row["rule"], row["owner"], row["column_name"], row["source"]) == (
            "writeback_unconfirmed",
            "ar@x.example",
            "invoice.risk_band",
            "writeback",
        )
        assert "not shown by the ERP after 7 days" in row["detail"]
        assert outbox_exceptions(store.frame(), owners, 7, SENT + dt.timedelta(days=7) - dt.timedelta(seconds=1)).empty
        later = outbox_exceptions(store.frame(), owners, 7, SENT + dt.timedelta(days=10))
        assert set(later["checksum"]) == {late, recent}
        blind = outbox_exceptions(store.frame(), owners, 7, SENT + dt.timedelta(days=10), confirming=False)
        assert blind.empty, "without an ERP observation nothing can be confirmed: no unconfirmed exceptions"


def test_a_newer_confirmed_value_settles_an_older_unconfirmed_one(tmp_path):
    with OutboxStore.at_home(tmp_path) as store:
        (old,) = _deliver(store, [Change(ChangeKind.RISK_BAND, "INV-1", "invoice.risk_band", "high")], SENT)
        (new,) = _deliver(
            store, [Change(ChangeKind.RISK_BAND, "INV-1", "invoice.risk_band", "low")], SENT + dt.timedelta(days=1)
        )
        assert set(outbox_exceptions(store.frame(), {}, 7, SENT + dt.timedelta(days=9))["checksum"]) == {old, new}
        store.mark_confirmed([new], "test")
        assert outbox_exceptions(store.frame(), {}, 7, SENT + dt.timedelta(days=9)).empty


def test_failed_changes_are_exceptions_at_once(tmp_path):
    with OutboxStore.at_home(tmp_path) as store:
        store.enqueue([Change(ChangeKind.RISK_BAND, "INV-1", "invoice.risk_band", "high")], CONFIG, AS_OF, now=SENT)
        store.claim_batch("erp", 10, now=SENT)
        key = store.rows()[0].idempotency_key
        store.mark_failed([key], "HTTP 400: unknown invoice", "t", now=SENT)
        found = outbox_exceptions(store.frame(), {"erp": "ar@x.example"}, 7, SENT)
        assert list(found["rule"]) == ["writeback_failed"] and "HTTP 400: unknown invoice" in found["detail"][0]


def test_serving_copies_are_typed_and_mask_personal_data(tmp_path):
    with OutboxStore.at_home(tmp_path) as store:
        _deliver(
            store,
            [
                Change(
                    ChangeKind.NOTE,
                    "A1",
                    "note.text",
                    {"text": "Jane said pay Friday", "author": "Ann", "customer_id": "C1"},
                ),
                Change(ChangeKind.RISK_BAND, "INV-1", "invoice.risk_band", "high"),
            ],
            SENT,
        )
        frame = store.frame()
    con = duckdb.connect()
    assert copy_outbox_to_duckdb(frame, con) == 2
    types = dict(
        con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'writeback' and table_name = 'erp_outbox'"
        ).fetchall()
    )
    assert (types["seq"], types["as_of_date"], types["sent_at"], types["attempts"]) == (
        "BIGINT",
        "DATE",
        "TIMESTAMP",
        "BIGINT",
    )
    note, band = con.execute("select value, value_json from writeback.erp_outbox order by seq").fetchall()
    assert note == ("[masked]", '{"author":"A***","customer_id":"C1","text":"[masked]"}')
    assert band == ("high", '"high"')
    assert "Jane" not in str(con.execute("from writeback.erp_outbox").fetchall())
    assert con.execute("select sent_at from writeback.erp_outbox limit 1").fetchone()[0] == dt.datetime(2026, 11, 20, 9)
    exceptions = outbox_exceptions(frame, {"erp": "a"}, 1, SENT + dt.timedelta(days=2))
    assert copy_exceptions_to_duckdb(exceptions, con) == 2
    assert "Jane" not in str(con.execute("from writeback.erp_outbox_exceptions").fetchall())
    assert copy_exceptions_to_duckdb(outbox_exceptions(frame.iloc[0:0], {}, 1, SENT), con) == 0
