"""A local ERP endpoint for the writeback tests: honours ``Idempotency-Key`` and misbehaves on cue.

It listens on 127.0.0.1 only. Like Stripe's API, it stores the answer to the first request of a
key that it processed and replays that answer (header ``Idempotent-Replayed: true``) to any later
request with the same key, without applying the change again. ``plan`` scripts the answers per
key and arrival: ``ok``, a status such as ``500`` or ``400`` (answered without applying),
``429:<seconds>`` (Retry-After), ``timeout:<seconds>`` (apply, then answer too late) and
``block`` (apply, then hold the answer until ``release``).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeErp:
    def __init__(self) -> None:
        self.plan: dict[str, list[str]] = {}
        self.block_on_arrival: int | None = None  # block the n-th request overall (1-based)
        self.deliveries: list[str] = []  # keys applied, in order
        self.arrivals: list[tuple[str, float]] = []
        self.headers: list[dict[str, str]] = []
        self.bodies: list[dict] = []
        self.answers: dict[str, tuple[int, bytes]] = {}
        self.blocked = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/inflow/changes"

    def __enter__(self) -> FakeErp:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()

    def delivered_counts(self) -> Counter:
        return Counter(self.deliveries)

    def arrivals_of(self, key: str) -> list[float]:
        return [t for k, t in self.arrivals if k == key]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        erp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                try:
                    self.send_response(status)
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout) or was killed

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                key = self.headers.get("Idempotency-Key", "")
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                with erp._lock:
                    erp.arrivals.append((key, time.monotonic()))
                    erp.headers.append(dict(self.headers))
                    erp.bodies.append(body)
                    arrival = len(erp.arrivals)
                    nth = sum(1 for k, _ in erp.arrivals if k == key)
                    step = erp.plan.get(key, [])
                    action = step[nth - 1] if nth <= len(step) else "ok"
                    if erp.block_on_arrival == arrival:
                        action = "block"
                    replay = erp.answers.get(key)
                if not key:
                    self._answer(400, b'{"error": "Idempotency-Key required"}')
                    return
                if replay is not None:
                    self._answer(replay[0], replay[1], {"Idempotent-Replayed": "true"})
                    return
                if action.isdigit():
                    self._answer(
                        int(action),
                        b'{"error": "unknown customer"}' if action.startswith("4") else b'{"error": "internal"}',
                    )
                    return
                if action.startswith("429:"):
                    self._answer(429, b'{"error": "slow down"}', {"Retry-After": action.split(":")[1]})
                    return
                answer = (201, json.dumps({"id": f"erp-{len(erp.deliveries) + 1}", "key": key}).encode())
                with erp._lock:
                    erp.deliveries.append(key)
                    erp.answers[key] = answer
                if action.startswith("timeout:"):
                    time.sleep(float(action.split(":")[1]))
                elif action == "block":
                    erp.blocked.set()
                    erp.release.wait(timeout=60)
                self._answer(*answer)

        return Handler
