"""The ERP outbox store: keys, idempotent enqueueing, ownership, approval, the state machine, locks."""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import itertools
import threading
import time

import pytest

from orchestration.defs.writeback.changes import Change, OwnershipError, canonical_json, idempotency_key, money_text
from orchestration.defs.writeback.outbox import (
    STATUSES,
    TRANSITIONS,
    IllegalTransition,
    OutboxError,
    OutboxStore,
    SenderBusy,
    check_transition,
)
from orchestration.defs.writeback.settings import ChangeKind, Owner, OwnershipConfig, WritebackConfig

AS_OF = dt.date(2026, 11, 27)
NOW = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.UTC)


def _config(**overrides: object) -> WritebackConfig:
    return WritebackConfig.model_validate(
        {
            "targets": {
                "erp": {
                    "type": "file",
                    "format": "generic_csv",
                    "directory": "drop",
                    "owner": "ar@x.example",
                    "kinds": [k.value for k in ChangeKind],
                }
            },
            **overrides,
        }
    )


@pytest.fixture
def store(tmp_path):
    with OutboxStore.at_home(tmp_path) as opened:
        yield opened


def _band(invoice: str, band: str) -> Change:
    return Change(ChangeKind.RISK_BAND, invoice, "invoice.risk_band", band)


def _note(activity: str, text: str) -> Change:
    return Change(ChangeKind.NOTE, activity, "note.text", {"text": text, "author": "Ann", "activity_date": AS_OF})


# ---- keys and canonical values -------------------------------------------------------------


def test_idempotency_key_is_the_documented_hash():
    value = {"promised_amount": decimal.Decimal("100.5"), "promised_date": dt.date(2026, 12, 1)}
    expected = hashlib.sha256(
        "\x1f".join(
            [
                "inflow-outbox-v1",
                "promise",
                "erp",
                "P1",
                "promise.promise",
                '{"promised_amount":"100.50","promised_date":"2026-12-01"}',
                "",
            ]
        ).encode()
    ).hexdigest()
    assert idempotency_key("promise", "erp", "P1", "promise.promise", canonical_json(value), None) == expected
    assert idempotency_key("promise", "erp", "P1", "promise.promise", canonical_json(value), "abc") != expected
    assert idempotency_key("promise", "erp2", "P1", "promise.promise", canonical_json(value), None) != expected


def test_canonical_money_is_scale_free_and_floats_are_refused():
    assert money_text(decimal.Decimal("1200.5")) == money_text(decimal.Decimal("1200.500")) == "1200.50"
    assert money_text(decimal.Decimal("1.125")) == "1.125"
    assert money_text(decimal.Decimal("0")) == "0.00"
    assert money_text(decimal.Decimal("-3E+2")) == "-300.00"
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'
    with pytest.raises(TypeError, match="float"):
        Change(ChangeKind.PROMISE, "P1", "promise.promise", {"promised_amount": 100.5})
    with pytest.raises(ValueError, match="qualified"):
        Change(ChangeKind.RISK_BAND, "INV-1", "risk_band", "high")
    with pytest.raises(ValueError, match="empty entity key"):
        Change(ChangeKind.RISK_BAND, " ", "invoice.risk_band", "high")


# ---- enqueueing ----------------------------------------------------------------------------


def test_second_run_on_unchanged_inputs_adds_no_rows(store):
    changes = [_band("INV-1", "high"), _band("INV-2", "low"), _note("A1", "called, will pay Friday")]
    first = store.enqueue(changes, _config(), AS_OF, now=NOW)
    second = store.enqueue(changes, _config(), AS_OF, now=NOW + dt.timedelta(days=1))
    third = store.enqueue(changes, _config(), AS_OF + dt.timedelta(days=1), now=NOW + dt.timedelta(days=1))
    assert (first.added, second.added, second.unchanged, third.added) == (3, 0, 3, 0)
    assert len(store.rows()) == 3


def test_each_target_gets_its_own_row_and_key(store):
    config = WritebackConfig.model_validate(
        {
            "targets": {
                "files": {
                    "type": "file",
                    "format": "sap_flat",
                    "directory": "d",
                    "owner": "a@x",
                    "kinds": ["risk_band"],
                },
                "api": {"type": "rest", "url": "http://127.0.0.1:1/x", "owner": "b@x", "kinds": ["risk_band", "note"]},
            }
        }
    )
    store.enqueue([_band("INV-1", "high"), _note("A1", "hello")], config, AS_OF, now=NOW)
    rows = store.rows()
    assert sorted((r.target, r.kind) for r in rows) == [("api", "note"), ("api", "risk_band"), ("files", "risk_band")]
    assert len({r.idempotency_key for r in rows}) == 3


def test_a_value_that_returns_to_an_earlier_one_is_sent_again(store):
    """high -> low -> high: hashing the value alone would make the third change collide with the
    first and be dropped, leaving the ERP at 'low'."""
    config = _config(approval={"risk_band": "auto"})
    for day, band in enumerate(["high", "low", "high"]):
        store.enqueue([_band("INV-1", band)], config, AS_OF + dt.timedelta(days=day), now=NOW)
        store.mark_delivered([store.rows()[-1].idempotency_key], "test", acknowledged=True, now=NOW)
    rows = store.rows()
    assert [r.value for r in rows] == ['"high"', '"low"', '"high"']
    assert rows[2].idempotency_key != rows[0].idempotency_key
    assert rows[2].previous_key == rows[1].idempotency_key and rows[1].previous_key == rows[0].idempotency_key


def test_a_newer_value_supersedes_an_unsent_one_with_a_reason(store):
    store.enqueue([_band("INV-1", "high")], _config(), AS_OF, now=NOW)
    store.enqueue([_band("INV-1", "medium")], _config(), AS_OF, now=NOW)
    old, new = store.rows()
    assert (old.status, new.status) == ("rejected", "pending")
    assert old.reason == f"superseded by {new.idempotency_key[:12]} (newer value)"
    assert old.rejected_by == "inflow"


def test_a_value_already_in_a_batch_is_not_superseded(store):
    config = _config(approval={"risk_band": "auto"})
    store.enqueue([_band("INV-1", "high")], config, AS_OF, now=NOW)
    store.claim_batch("erp", 10, now=NOW)
    result = store.enqueue([_band("INV-1", "low")], config, AS_OF, now=NOW)
    assert result.superseded == 0
    assert [r.status for r in store.rows()] == ["approved", "approved"]


def test_an_unsent_state_change_whose_entity_left_the_derivation_is_withdrawn(store):
    """A band proposed yesterday for an invoice paid today (no band derived today) is withdrawn when
    the day's bands are complete; one still derived, one already in a batch, and notes (events) stay."""
    auto = _config(approval={"risk_band": "auto"})
    store.enqueue([_band("INV-SENT", "high")], auto, AS_OF, now=NOW)
    store.claim_batch("erp", 10, now=NOW)
    store.enqueue(
        [_band("INV-PAID", "high"), _band("INV-OPEN", "low"), _note("A-1", "called")], _config(), AS_OF, now=NOW
    )
    next_day = AS_OF + dt.timedelta(days=1)
    result = store.enqueue(
        [_band("INV-OPEN", "low")], _config(), next_day, now=NOW, complete=frozenset({ChangeKind.RISK_BAND})
    )
    assert result.withdrawn == 1
    status = {r.entity_key: (r.status, r.reason) for r in store.rows()}
    assert status["INV-PAID"] == (
        "rejected",
        f"withdrawn: no longer derived as of {next_day} (its entity left the state it proposed)",
    )
    assert status["INV-OPEN"][0] == "pending"
    assert status["INV-SENT"][0] == "approved"  # in a batch: delivered, not withdrawn
    assert status["A-1"][0] != "rejected"  # an event, not a state


def test_nothing_is_withdrawn_when_the_day_s_states_are_not_complete(store):
    """Without the day's bands (scores not refreshed), absence means nothing: the proposal stays."""
    store.enqueue([_band("INV-PAID", "high")], _config(), AS_OF, now=NOW)
    result = store.enqueue([], _config(), AS_OF + dt.timedelta(days=1), now=NOW)
    assert result.withdrawn == 0
    assert [r.status for r in store.rows()] == ["pending"]


def test_changes_of_an_older_as_of_date_are_ignored(store):
    store.enqueue([_band("INV-1", "high")], _config(), AS_OF, now=NOW)
    result = store.enqueue([_band("INV-1", "low")], _config(), AS_OF - dt.timedelta(days=1), now=NOW)
    assert result.stale and result.added == 0
    assert [r.value for r in store.rows()] == ['"high"']
    same_day = store.enqueue([_band("INV-1", "low")], _config(), AS_OF, now=NOW)
    assert not same_day.stale and same_day.added == 1


def test_two_values_for_one_field_in_one_call_are_refused(store):
    with pytest.raises(OutboxError, match="two values"):
        store.enqueue([_band("INV-1", "high"), _band("INV-1", "low")], _config(), AS_OF, now=NOW)
    assert store.rows() == []


def test_kinds_routed_to_no_target_add_nothing(store):
    config = WritebackConfig.model_validate(
        {"targets": {"api": {"type": "rest", "url": "http://127.0.0.1:1/x", "owner": "b@x", "kinds": ["note"]}}}
    )
    assert store.enqueue([_band("INV-1", "high")], config, AS_OF, now=NOW).added == 0


# ---- ownership -----------------------------------------------------------------------------


def test_a_write_to_an_erp_owned_field_is_refused_and_nothing_is_written(store):
    changes = [_band("INV-1", "high"), Change(ChangeKind.RISK_BAND, "INV-1", "invoice.amount", decimal.Decimal("1"))]
    with pytest.raises(OwnershipError, match=r"field invoice\.amount is owned by erp"):
        store.enqueue(changes, _config(), AS_OF, now=NOW)
    assert store.rows() == []


def test_a_field_without_a_declared_owner_is_refused(store):
    with pytest.raises(OwnershipError, match=r"invoice\.colour has no declared owner"):
        store.enqueue([Change(ChangeKind.RISK_BAND, "INV-1", "invoice.colour", "red")], _config(), AS_OF, now=NOW)


def test_payment_applications_are_reserved_until_an_owner_is_configured(store):
    change = Change(ChangeKind.PAYMENT_APPLICATION, "PMT-1", "payment.application", {"document_id": "INV-1"})
    with pytest.raises(OwnershipError, match=r"payment\.application has no declared owner"):
        store.enqueue([change], _config(), AS_OF, now=NOW)
    assert _config().approval[ChangeKind.PAYMENT_APPLICATION] == "manual"


def test_relayed_fields_are_written_only_while_their_owner_is_relayed(store):
    note = _note("A1", "hello")
    assert store.enqueue([note], _config(), AS_OF, now=NOW).added == 1
    no_relay = _config(ownership={"relayed": []})
    with pytest.raises(OwnershipError, match=r"note\.text is owned by workflow.*relays \(none\)"):
        store.enqueue([_note("A2", "again")], no_relay, AS_OF, now=NOW)


def test_default_ownership_follows_the_issue():
    owners = OwnershipConfig().fields
    for name in (
        "invoice.amount",
        "invoice.due_date",
        "invoice.document_date",
        "payment.amount",
        "payment_application.applied_amount",
        "customer.credit_limit",
    ):
        assert owners[name] == Owner.ERP
    for name in ("invoice.risk_band", "customer.risk_band", "invoice.priority", "customer.collector"):
        assert owners[name] == Owner.INFLOW
    for name in ("note.text", "promise.promise", "invoice.dispute_flag"):
        assert owners[name] == Owner.WORKFLOW
    with pytest.raises(ValueError, match="never relayed"):
        OwnershipConfig(relayed=(Owner.ERP,))


# ---- approval and the state machine ---------------------------------------------------------


def test_approval_state_comes_from_configuration_per_kind(store):
    store.enqueue([_band("INV-1", "high"), _note("A1", "hi")], _config(approval={"note": "manual"}), AS_OF, now=NOW)
    by_kind = {r.kind: r for r in store.rows()}
    assert (by_kind["risk_band"].approval, by_kind["risk_band"].status) == ("manual", "pending")
    assert (by_kind["note"].approval, by_kind["note"].status) == ("manual", "pending")
    store.enqueue([_note("A2", "hi")], _config(), AS_OF, now=NOW)
    auto = store.rows(keys=[r.idempotency_key for r in store.rows() if r.entity_key == "A2"])[0]
    assert (auto.approval, auto.status, auto.approved_by) == ("auto", "approved", "auto")


def test_every_transition_outside_the_table_is_refused():
    for current, new in itertools.product(STATUSES, STATUSES):
        if new in TRANSITIONS[current]:
            check_transition(current, new)
        else:
            with pytest.raises(IllegalTransition):
                check_transition(current, new)
    assert TRANSITIONS["confirmed"] == TRANSITIONS["rejected"] == frozenset()
    assert "sent" not in TRANSITIONS["pending"], "nothing is sent without approval"


def test_store_refuses_illegal_moves_and_leaves_the_row_unchanged(store):
    store.enqueue([_band("INV-1", "high")], _config(), AS_OF, now=NOW)
    (row,) = store.rows()
    with pytest.raises(IllegalTransition, match="a pending change cannot become sent"):
        store.transition(row.idempotency_key, "sent", "test", now=NOW)
    with pytest.raises(IllegalTransition, match="a pending change cannot become confirmed"):
        store.transition(row.idempotency_key, "confirmed", "test", now=NOW)
    assert store.rows()[0].status == "pending"
    store.reject([row.idempotency_key], "wrong band", "ann", now=NOW)
    with pytest.raises(IllegalTransition, match="pending or failed"):
        store.approve([row.idempotency_key], "bob", now=NOW)


def test_a_rejected_change_keeps_its_reason_and_is_not_enqueued_again(store):
    store.enqueue([_band("INV-1", "high")], _config(), AS_OF, now=NOW)
    (row,) = store.rows()
    with pytest.raises(OutboxError, match="needs a reason"):
        store.reject([row.idempotency_key], "  ", "ann", now=NOW)
    store.reject([row.idempotency_key], "customer is on a payment plan", "ann", now=NOW)
    assert store.enqueue([_band("INV-1", "high")], _config(), AS_OF, now=NOW).added == 0
    (row,) = store.rows()
    assert (row.status, row.reason, row.rejected_by) == ("rejected", "customer is on a payment plan", "ann")
    assert store.events(row.idempotency_key)[-1] == (
        row.idempotency_key,
        "pending",
        "rejected",
        "ann",
        "customer is on a payment plan",
    )


def test_a_change_in_a_batch_cannot_be_rejected(store):
    store.enqueue([_note("A1", "hi")], _config(), AS_OF, now=NOW)
    batch = store.claim_batch("erp", 10, now=NOW)
    with pytest.raises(OutboxError, match="may already have reached"):
        store.reject([batch.rows[0].idempotency_key], "no", "ann", now=NOW)


def test_failed_changes_are_reapproved_unless_superseded(store):
    config = _config(approval={"risk_band": "auto"})
    store.enqueue([_band("INV-1", "high")], config, AS_OF, now=NOW)
    store.claim_batch("erp", 10, now=NOW)
    key = store.rows()[0].idempotency_key
    store.record_attempt([key], now=NOW)
    assert store.mark_retry([key], "HTTP 503", max_attempts=1, actor="t", now=NOW) == 1
    row = store.rows()[0]
    assert (row.status, row.last_error, row.attempts) == ("failed", "HTTP 503", 1)
    store.approve([key], "bob", now=NOW)
    row = store.rows()[0]
    assert (row.status, row.attempts, row.batch_id, row.approved_by) == ("approved", 0, None, "bob")
    store.claim_batch("erp", 10, now=NOW)
    store.mark_failed([key], "HTTP 400", "t", now=NOW)
    store.enqueue([_band("INV-1", "low")], config, AS_OF, now=NOW)
    assert store.rows()[0].status == "rejected", "a failed change is superseded by the newer value"


def test_reapproving_an_older_value_is_refused(store):
    config = _config(approval={"risk_band": "auto"})
    store.enqueue([_band("INV-1", "high")], config, AS_OF, now=NOW)
    store.claim_batch("erp", 10, now=NOW)
    store.enqueue([_band("INV-1", "low")], config, AS_OF, now=NOW)
    old = store.rows()[0].idempotency_key
    store.mark_failed([old], "HTTP 400", "t", now=NOW)
    with pytest.raises(OutboxError, match="superseded by"):
        store.approve([old], "bob", now=NOW)


def test_key_prefixes_resolve_uniquely(store):
    store.enqueue([_band("INV-1", "high")], _config(), AS_OF, now=NOW)
    key = store.rows()[0].idempotency_key
    assert store.resolve_keys([key[:8].upper()]) == [key]
    with pytest.raises(OutboxError, match="at least 8"):
        store.resolve_keys([key[:7]])
    with pytest.raises(OutboxError, match="no change"):
        store.resolve_keys(["00000000"] if not key.startswith("00000000") else ["ffffffff"])


# ---- concurrency ---------------------------------------------------------------------------


def test_a_second_sender_is_refused_and_a_dead_one_leaves_no_lock(tmp_path):
    with OutboxStore.at_home(tmp_path) as one, OutboxStore.at_home(tmp_path) as two:
        with one.sender_lock():
            with pytest.raises(SenderBusy, match=r"another sender holds .*sender\.lock \(pid \d+"):
                with two.sender_lock():
                    pass
        with two.sender_lock():
            pass


def test_writers_do_not_wait_on_a_sender_that_holds_no_transaction(tmp_path):
    """The sender commits before each request, so while it waits on an endpoint the refresh's
    enqueue and an approval go through at once (a held write transaction would make them wait
    out the busy timeout)."""
    with OutboxStore.at_home(tmp_path) as setup:
        setup.enqueue([_band("INV-1", "high")], _config(), AS_OF, now=NOW)
    holding = threading.Event()
    done = threading.Event()

    def sender() -> None:
        with OutboxStore.at_home(tmp_path) as store, store.sender_lock():
            store.record_attempt([store.rows()[0].idempotency_key])
            holding.set()
            done.wait(10)  # "backing off": lock held, no transaction open

    thread = threading.Thread(target=sender)
    thread.start()
    assert holding.wait(10)
    try:
        with OutboxStore(tmp_path / "outbox" / "outbox.sqlite", busy_timeout_seconds=5) as refresh:
            started = time.monotonic()
            refresh.enqueue([_band("INV-2", "low")], _config(), AS_OF, now=NOW)
            refresh.approve([refresh.rows()[0].idempotency_key], "ann")
            assert time.monotonic() - started < 1.0
    finally:
        done.set()
        thread.join()


def test_a_writer_holding_a_transaction_would_block_the_refresh(tmp_path):
    """The counterpart of the test above: the busy timeout is real, so that test can fail."""
    with (
        OutboxStore(tmp_path / "outbox" / "outbox.sqlite", busy_timeout_seconds=0.2) as one,
        OutboxStore(tmp_path / "outbox" / "outbox.sqlite", busy_timeout_seconds=0.2) as two,
    ):
        with one._write():
            with pytest.raises(Exception, match="locked"):
                two.enqueue([_band("INV-2", "low")], _config(), AS_OF, now=NOW)
