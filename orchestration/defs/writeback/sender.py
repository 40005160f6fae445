"""The sender: deliver approved changes to their targets, never twice and never lost.

Order of work for each target: first finish batches an earlier send handed out but did not
complete (it crashed or was stopped), then hand out new batches of approved changes until none is
left or the target asks to stop. Every state a change passes through is committed before the
next step that could crash, so a sender killed at any point resumes where it was:

1. ``claim_batch`` commits the batch membership before anything is sent;
2. ``attempt`` commits the attempt count before the request / file / insert is made;
3. the outcome is committed after the target answered.

A crash between 2 and 3 means the target may hold the change while the outbox still says
``approved``; the next send delivers it again with the same idempotency key, which the endpoint
(REST), the staging table's primary key (database) or the import's external id and the batch file
name (files) turn into a no-op. Nothing is held across a network call, so the daily refresh and
``inflow outbox approve`` write to the outbox while a send is backing off.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from orchestration.audit import AuditTrail
from orchestration.defs.writeback.emitters.base import Emitter
from orchestration.defs.writeback.emitters.database import DatabaseEmitter
from orchestration.defs.writeback.emitters.files import FileEmitter
from orchestration.defs.writeback.emitters.rest import RestEmitter
from orchestration.defs.writeback.outbox import OutboxError, OutboxStore, utc_now
from orchestration.defs.writeback.settings import DatabaseTarget, FileTarget, RestTarget, WritebackConfig


@dataclass
class TargetReport:
    delivered: int = 0
    failed: int = 0
    retry_later: int = 0
    acknowledged_by_poll: int = 0
    batches: int = 0
    stopped: str | None = None


@dataclass
class SendReport:
    targets: dict[str, TargetReport] = field(default_factory=dict)

    @property
    def delivered(self) -> int:
        return sum(t.delivered for t in self.targets.values())

    @property
    def failed(self) -> int:
        return sum(t.failed for t in self.targets.values())

    @property
    def retry_later(self) -> int:
        return sum(t.retry_later for t in self.targets.values())


class _StoreRecorder:
    """The ``Recorder`` of one target: writes each outcome to the outbox as it happens."""

    def __init__(
        self, store: OutboxStore, name: str, max_attempts: int, report: TargetReport, now: Callable[[], dt.datetime]
    ) -> None:
        self.store, self.actor, self.max_attempts = store, f"sender:{name}", max_attempts
        self.report, self.now = report, now
        self._retrying: set[str] = set()

    def attempt(self, keys: Sequence[str]) -> None:
        self.store.record_attempt(keys, now=self.now())

    def delivered(self, keys: Sequence[str], acknowledged: bool, detail: str) -> None:
        self.store.mark_delivered(keys, self.actor, acknowledged, detail, now=self.now())
        self.report.delivered += len(keys)
        self._retrying.difference_update(keys)

    def retry(self, keys: Sequence[str], error: str) -> int:
        failed = self.store.mark_retry(keys, error, self.max_attempts, self.actor, now=self.now())
        self.report.failed += failed
        self._retrying.update(keys)
        return failed

    def failed(self, keys: Sequence[str], error: str) -> None:
        self.store.mark_failed(keys, error, self.actor, now=self.now())
        self.report.failed += len(keys)

    def still_queued(self) -> int:
        return len(self.store.rows(statuses=("approved",), keys=sorted(self._retrying))) if self._retrying else 0


def make_emitter(
    name: str,
    target: FileTarget | RestTarget | DatabaseTarget,
    home: Path,
    *,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
    now: Callable[[], dt.datetime] = utc_now,
) -> Emitter:
    if isinstance(target, FileTarget):
        return FileEmitter(name, target, home, now)
    if isinstance(target, RestTarget):
        return RestEmitter(name, target, sleep=sleep, rng=rng or random.Random(), now=now)  # noqa: S311 (retry jitter, not a secret)
    return DatabaseEmitter(name, target, now)


def send(
    store: OutboxStore,
    config: WritebackConfig,
    home: Path,
    *,
    targets: Sequence[str] = (),
    max_batches: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
    now: Callable[[], dt.datetime] = utc_now,
) -> SendReport:
    """Deliver every approved change of the chosen targets (all by default), then read their
    acknowledgements. Refuses to start while another sender runs (``SenderBusy``)."""
    unknown = sorted(set(targets) - set(config.targets))
    if unknown:
        raise OutboxError(f"unknown target(s) {unknown}; configured: {sorted(config.targets)}")
    report = SendReport()
    with store.sender_lock():
        for name, target in config.targets.items():
            if targets and name not in targets:
                continue
            emitter = make_emitter(name, target, home, sleep=sleep, rng=rng, now=now)
            done = _send_target(store, name, target.batch_size, target.max_attempts, emitter, max_batches, now)
            report.targets[name] = done
            if done.batches:
                AuditTrail(home).record(
                    "writeback_send",
                    "stopped" if done.stopped else ("failed" if done.failed and not done.delivered else "sent"),
                    subject=f"target {name}",
                    rows=done.delivered,
                    detail=f"{done.batches} batch(es): {done.delivered} delivered, {done.failed} failed, "
                    f"{done.retry_later} queued for a retry",
                )
    return report


def _send_target(
    store: OutboxStore,
    name: str,
    batch_size: int,
    max_attempts: int,
    emitter: Emitter,
    max_batches: int | None,
    now: Callable[[], dt.datetime],
) -> TargetReport:
    report = TargetReport()
    recorder = _StoreRecorder(store, name, max_attempts, report, now)
    pending = [store.batch(batch_id) for batch_id in store.outstanding_batches(name)]
    while max_batches is None or report.batches < max_batches:
        batch = pending.pop(0) if pending else store.claim_batch(name, batch_size, now=now())
        if batch is None:
            break
        report.batches += 1
        if batch.rows and not emitter.deliver(batch, recorder):
            report.stopped = "the target failed or asked to wait; the rest stays queued for the next send"
            break
    report.retry_later = recorder.still_queued()
    report.acknowledged_by_poll = emitter.poll_acknowledgements(store)
    return report
