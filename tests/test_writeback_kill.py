"""Never twice, never lost: SIGKILL the sender mid-batch, run it again, count what the ERP got."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from orchestration.config import REPO_ROOT, load_config
from orchestration.defs.writeback.changes import Change
from orchestration.defs.writeback.outbox import OutboxStore
from orchestration.defs.writeback.settings import ChangeKind
from tests.erp_test_server import FakeErp
from tests.test_writeback_commands import write_config

CHANGES = 12
BATCH = 5
KILLED_ON = 7  # the 7th request: second of the second batch


def _write_config(folder: Path, url: str) -> Path:
    return write_config(
        folder,
        {
            "targets": {
                "erp_api": {
                    "type": "rest",
                    "url": url,
                    "owner": "ar@x.example",
                    "kinds": ["note"],
                    "batch_size": BATCH,
                    "headers": {"Authorization": "Bearer ${INFLOW_TEST_ERP_TOKEN}"},
                    "timeout": {"connect_seconds": 2, "read_seconds": 30},
                    "retry": {"max_retries": 2, "base_seconds": 0.01, "max_seconds": 0.05},
                }
            }
        },
    )


def _sender(config: Path, home: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", "outbox", "--config", str(config), "--home", str(home), "send"],
        cwd=REPO_ROOT,
        env={**os.environ, "INFLOW_TEST_ERP_TOKEN": "t0ken"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_sender_killed_mid_batch_resumes_without_duplicates_or_losses(tmp_path):
    home = tmp_path / "home"
    with FakeErp() as erp:
        config_path = _write_config(tmp_path, erp.url)
        with OutboxStore.at_home(home) as store:
            store.enqueue(
                [
                    Change(ChangeKind.NOTE, f"ACT-{i:02d}", "note.text", {"text": f"note {i}"})
                    for i in range(1, CHANGES + 1)
                ],
                load_config(config_path).writeback,
                dt.date(2026, 11, 27),
            )
            keys = [r.idempotency_key for r in store.rows()]
        erp.block_on_arrival = KILLED_ON  # applies the change, then holds its answer

        first = _sender(config_path, home)
        assert erp.blocked.wait(timeout=15), f"sender never reached request {KILLED_ON}: {first.communicate()}"
        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=10) == -signal.SIGKILL
        erp.release.set()

        with OutboxStore.at_home(home) as store:
            after_kill = {r.idempotency_key: r for r in store.rows()}
        done, in_flight = keys[: KILLED_ON - 1], keys[KILLED_ON - 1]
        assert all(after_kill[k].status == "acknowledged" for k in done)
        assert (after_kill[in_flight].status, after_kill[in_flight].attempts) == ("approved", 1), (
            "the ERP applied it, the outbox never heard: must not be lost"
        )
        claimed_batches = {after_kill[k].batch_id for k in keys[BATCH : 2 * BATCH]}
        assert len(claimed_batches) == 1 and None not in claimed_batches
        assert all(after_kill[k].batch_id is None for k in keys[2 * BATCH :]), "third batch not yet handed out"

        started = time.monotonic()
        second = _sender(config_path, home)
        out, err = second.communicate(timeout=30)
        assert second.returncode == 0, err
        assert time.monotonic() - started < 15

        with OutboxStore.at_home(home) as store:
            final = store.rows()
            events = store.events(in_flight)
        assert erp.delivered_counts() == dict.fromkeys(keys, 1), "every change applied exactly once"
        assert erp.deliveries == keys, "in the outbox's order"
        assert len(erp.arrivals_of(in_flight)) == 2 and "(replayed)" in (events[-1][4] or "")
        assert [r.status for r in final] == ["acknowledged"] * CHANGES
        assert {r.batch_id for r in final[BATCH : 2 * BATCH]} == claimed_batches, "the interrupted batch was finished"
        assert f"delivered {CHANGES - (KILLED_ON - 1)}" in out
