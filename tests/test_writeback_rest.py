"""REST emitter against a local endpoint that fails, times out, rate-limits and replays answers."""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time

import pytest

from orchestration.defs.writeback.changes import Change
from orchestration.defs.writeback.emitters.rest import backoff_seconds, retry_after_seconds
from orchestration.defs.writeback.outbox import OutboxStore
from orchestration.defs.writeback.sender import send
from orchestration.defs.writeback.settings import ChangeKind, RestTarget, RetryConfig, SecretMissing, WritebackConfig
from tests.erp_test_server import FakeErp

AS_OF = dt.date(2026, 11, 27)
TOKEN = "s3cr3t-token-value-42"


def _config(url: str, **target: object) -> WritebackConfig:
    return WritebackConfig.model_validate(
        {
            "targets": {
                "erp_api": {
                    "type": "rest",
                    "url": url,
                    "owner": "ar@x.example",
                    "kinds": ["note", "risk_band"],
                    "headers": {"Authorization": "Bearer ${INFLOW_TEST_ERP_TOKEN}"},
                    "timeout": {"connect_seconds": 1, "read_seconds": 0.4},
                    "retry": {
                        "max_retries": 3,
                        "base_seconds": 0.01,
                        "max_seconds": 0.05,
                        "max_retry_after_seconds": 5,
                    },
                    "max_attempts": 10,
                    "batch_size": 3,
                    **target,
                }
            },
            "approval": {"risk_band": "auto"},
        }
    )


def _notes(count: int) -> list[Change]:
    return [
        Change(ChangeKind.NOTE, f"ACT-{i}", "note.text", {"text": f"note {i}", "author": "Ann"})
        for i in range(1, count + 1)
    ]


@pytest.fixture
def token(monkeypatch):
    monkeypatch.setenv("INFLOW_TEST_ERP_TOKEN", TOKEN)


def _keys(store: OutboxStore) -> list[str]:
    return [r.idempotency_key for r in store.rows()]


def test_every_change_arrives_exactly_once_through_failures_timeouts_429_and_replays(tmp_path, token, caplog):
    caplog.set_level(logging.DEBUG)
    with FakeErp() as erp, OutboxStore.at_home(tmp_path) as store:
        config = _config(erp.url)
        store.enqueue(_notes(6), config, AS_OF)
        k = _keys(store)
        erp.plan = {
            k[0]: ["500", "500", "ok"],  # fails twice, then works
            k[1]: ["timeout:1.0"],  # applied, but the answer comes too late: replayed on retry
            k[2]: ["429:1", "ok"],  # rate limited: Retry-After 1 s honoured
            k[3]: ["502", "timeout:1.0"],  # a failure, then a lost answer
        }
        report = send(store, config, tmp_path)
        assert report.delivered == 6 and report.failed == 0 and report.retry_later == 0
        assert erp.delivered_counts() == dict.fromkeys(k, 1), "each change applied exactly once"
        assert erp.deliveries == k, "in order"
        assert [r.status for r in store.rows()] == ["acknowledged"] * 6
        assert [r.attempts for r in store.rows()] == [3, 2, 2, 3, 1, 1]
        waited = erp.arrivals_of(k[2])
        assert waited[1] - waited[0] >= 1.0, "Retry-After: 1 was honoured"
        replays = [e for e in store.events(k[1]) if e[4] and "replayed" in e[4]]
        assert replays, "the timed-out change was acknowledged by the endpoint's replayed answer"
        assert all(h["Authorization"] == f"Bearer {TOKEN}" for h in erp.headers)
        assert all(h["Idempotency-Key"] == b["idempotency_key"] for h, b in zip(erp.headers, erp.bodies, strict=True))
        assert TOKEN not in caplog.text
        assert not any(TOKEN in str(v) for row in store.rows() for v in row.__dict__.values())


def test_a_second_send_sends_nothing_again(tmp_path, token):
    with FakeErp() as erp, OutboxStore.at_home(tmp_path) as store:
        config = _config(erp.url)
        store.enqueue(_notes(4), config, AS_OF)
        send(store, config, tmp_path)
        arrivals = len(erp.arrivals)
        store.enqueue(_notes(4), config, AS_OF)
        again = send(store, config, tmp_path)
        assert again.delivered == 0 and len(erp.arrivals) == arrivals


def test_a_refusal_fails_the_change_and_the_rest_still_go(tmp_path, token):
    with FakeErp() as erp, OutboxStore.at_home(tmp_path) as store:
        config = _config(erp.url)
        store.enqueue(_notes(3), config, AS_OF)
        k = _keys(store)
        erp.plan = {k[1]: ["400"]}
        report = send(store, config, tmp_path)
        assert (report.delivered, report.failed) == (2, 1)
        failed = store.rows(keys=[k[1]])[0]
        assert failed.status == "failed" and failed.last_error.startswith("HTTP 400")
        assert "unknown customer" in failed.last_error and failed.attempts == 1


def test_an_endpoint_that_stays_down_stops_the_target_and_keeps_the_order(tmp_path, token):
    with FakeErp() as erp, OutboxStore.at_home(tmp_path) as store:
        config = _config(erp.url)
        store.enqueue(_notes(3), config, AS_OF)
        k = _keys(store)
        erp.plan = {k[0]: ["503"] * 10}
        report = send(store, config, tmp_path)
        assert report.delivered == 0 and report.retry_later == 1 and report.targets["erp_api"].stopped
        assert [len(erp.arrivals_of(key)) for key in k] == [4, 0, 0], "later changes never overtake"
        first = store.rows(keys=[k[0]])[0]
        assert (first.status, first.attempts) == ("approved", 4) and first.last_error.startswith("HTTP 503")
        erp.plan = {}
        assert send(store, config, tmp_path).delivered == 3
        assert erp.deliveries == k


def test_attempts_run_out_into_failed(tmp_path, token):
    with FakeErp() as erp, OutboxStore.at_home(tmp_path) as store:
        config = _config(erp.url, max_attempts=6)
        store.enqueue(_notes(1), config, AS_OF)
        (key,) = _keys(store)
        erp.plan = {key: ["500"] * 20}
        send(store, config, tmp_path)
        assert store.rows()[0].status == "approved"
        send(store, config, tmp_path)
        row = store.rows()[0]
        assert (row.status, row.attempts) == ("failed", 8)
        assert "gave up after 8 attempts" in store.events(key)[-1][4]


def test_a_retry_after_beyond_the_limit_stops_this_send(tmp_path, token):
    with FakeErp() as erp, OutboxStore.at_home(tmp_path) as store:
        config = _config(erp.url)
        store.enqueue(_notes(2), config, AS_OF)
        k = _keys(store)
        erp.plan = {k[0]: ["429:3600"]}
        started = time.monotonic()
        report = send(store, config, tmp_path)
        assert time.monotonic() - started < 2, "did not sleep for an hour"
        assert report.delivered == 0 and len(erp.arrivals) == 1
        assert "asked to wait 3600 s" in store.rows(keys=[k[0]])[0].last_error


def test_a_missing_secret_names_the_variable_and_sends_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv("INFLOW_TEST_ERP_TOKEN", raising=False)
    with FakeErp() as erp, OutboxStore.at_home(tmp_path) as store:
        config = _config(erp.url)
        store.enqueue(_notes(1), config, AS_OF)
        with pytest.raises(SecretMissing, match=r"INFLOW_TEST_ERP_TOKEN \(named by writeback\.targets\.erp_api"):
            send(store, config, tmp_path)
        assert erp.arrivals == []


def test_a_literal_credential_in_the_configuration_is_refused():
    with pytest.raises(ValueError, match="carries a credential"):
        RestTarget.model_validate(
            {
                "type": "rest",
                "url": "https://erp.example/x",
                "owner": "a",
                "kinds": ["note"],
                "headers": {"Authorization": "Bearer abc123"},
            }
        )
    RestTarget.model_validate(
        {
            "type": "rest",
            "url": "https://erp.example/x",
            "owner": "a",
            "kinds": ["note"],
            "headers": {"Accept": "application/json"},
        }
    )


def test_connection_errors_are_redacted_and_retried(tmp_path, token):
    """Nothing listens on the port: the error is kept (without the secret in the URL) and the
    change stays queued."""
    with FakeErp() as erp:
        dead = erp.url
    config = _config(dead.replace("/inflow/changes", "/x?api_key=${INFLOW_TEST_ERP_TOKEN}"))
    with OutboxStore.at_home(tmp_path) as store:
        store.enqueue(_notes(1), config, AS_OF)
        report = send(store, config, tmp_path)
        row = store.rows()[0]
        assert report.retry_later == 1 and row.status == "approved"
        assert row.last_error.startswith("ConnectionError") and TOKEN not in row.last_error and "***" in row.last_error


def test_backoff_is_exponential_capped_and_jittered():
    policy = RetryConfig(base_seconds=0.5, max_seconds=4)
    rng = random.Random(7)
    for retry, cap in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (6, 4.0)]:
        draws = [backoff_seconds(retry, policy, rng) for _ in range(200)]
        assert min(draws) >= 0 and max(draws) <= cap
        assert max(draws) > cap * 0.9 and min(draws) < cap * 0.1, "full jitter spreads over [0, cap]"


def test_retry_after_reads_seconds_and_http_dates():
    now = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
    assert retry_after_seconds("7", now) == 7
    assert retry_after_seconds("Fri, 27 Nov 2026 12:00:30 GMT", now) == 30
    assert retry_after_seconds("Fri, 27 Nov 2026 11:00:00 GMT", now) == 0
    assert retry_after_seconds("soon", now) is None and retry_after_seconds(None, now) is None


def test_the_refresh_and_approvals_never_wait_on_a_send_that_is_backing_off(tmp_path, token):
    with FakeErp() as erp:
        config = _config(erp.url)
        with OutboxStore.at_home(tmp_path) as store:
            store.enqueue(_notes(1), config, AS_OF)
            erp.plan = {store.rows()[0].idempotency_key: ["429:2", "ok"]}
        reports = []

        def sender() -> None:
            with OutboxStore.at_home(tmp_path) as own:
                reports.append(send(own, config, tmp_path))

        thread = threading.Thread(target=sender)
        thread.start()
        deadline = time.monotonic() + 10
        while not erp.arrivals and time.monotonic() < deadline:
            time.sleep(0.01)
        with OutboxStore(tmp_path / "outbox" / "outbox.sqlite", busy_timeout_seconds=5) as refresh:
            started = time.monotonic()
            refresh.enqueue(
                [Change(ChangeKind.RISK_BAND, "INV-1", "invoice.risk_band", "high")],
                config.model_copy(update={"approval": {**config.approval, "risk_band": "manual"}}),
                AS_OF,
            )
            refresh.approve([r.idempotency_key for r in refresh.rows(statuses=("pending",))], "ann")
            elapsed = time.monotonic() - started
        assert thread.is_alive(), "the sender was still waiting out Retry-After"
        thread.join()
        assert elapsed < 0.5
        assert reports[0].delivered == 2, "and the change approved meanwhile went out in the same send"
