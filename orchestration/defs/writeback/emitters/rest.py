"""REST: one JSON request per change, with its idempotency key, retried with backoff and jitter.

Delivery is exactly once against an endpoint that honours ``Idempotency-Key`` (as Stripe's,
Adyen's and most payment and ERP integration APIs do): a request whose answer was lost (timeout,
crash of the sender) is sent again with the same key, and the endpoint replays its first answer
instead of applying the change twice. A 2xx answer is the acknowledgement.

Which answers are retried: connection errors, timeouts, 408, 409 (a request with the same key
still in progress), 425, 429, 500, 502, 503, 504. Any other answer is a refusal: the change fails
with the status and the start of the body. Credentials come from environment variables named in
the configuration, are resolved only here, and are redacted from every message that is kept.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import random
from collections.abc import Callable

import requests

from orchestration.defs.writeback.emitters.base import Recorder
from orchestration.defs.writeback.outbox import Batch, OutboxRow, OutboxStore
from orchestration.defs.writeback.settings import RestTarget, RetryConfig
from orchestration.secret_refs import redact, resolve_secrets

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
_BODY_EXCERPT = 200


def backoff_seconds(retry: int, policy: RetryConfig, rng: random.Random) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(max, base * 2**retry)]."""
    return rng.uniform(0.0, min(policy.max_seconds, policy.base_seconds * (2**retry)))


def retry_after_seconds(header: str | None, now: dt.datetime) -> float | None:
    """Seconds asked for by a ``Retry-After`` header: a number of seconds or an HTTP date."""
    if not header:
        return None
    header = header.strip()
    if header.isdigit():
        return float(header)
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now).total_seconds())


class RestEmitter:
    """Posts each change of a batch in order; stops the target when the endpoint is down or
    asks to wait longer than allowed, so a later change never overtakes an earlier one."""

    def __init__(
        self,
        name: str,
        target: RestTarget,
        *,
        sleep: Callable[[float], None],
        rng: random.Random,
        now: Callable[[], dt.datetime],
    ) -> None:
        self.name = name
        self.target = target
        self._sleep = sleep
        self._rng = rng
        self._now = now

    def _resolved(self) -> tuple[str, dict[str, str], list[str]]:
        secrets: list[str] = []
        url, found = resolve_secrets(self.target.url, f"writeback.targets.{self.name}.url")
        secrets += found
        headers = {}
        for header, template in self.target.headers.items():
            headers[header], found = resolve_secrets(template, f"writeback.targets.{self.name}.headers.{header}")
            secrets += found
        return url, headers, secrets

    def deliver(self, batch: Batch, recorder: Recorder) -> bool:
        url, headers, secrets = self._resolved()
        with requests.Session() as session:
            for row in batch.rows:
                if not self._post(session, url, headers, secrets, row, recorder):
                    return False
        return True

    def _post(
        self,
        session: requests.Session,
        url: str,
        headers: dict[str, str],
        secrets: list[str],
        row: OutboxRow,
        recorder: Recorder,
    ) -> bool:
        """Deliver one change, retrying what may succeed later. False: stop the target."""
        policy = self.target.retry
        key = row.idempotency_key
        request_headers = {**headers, "Idempotency-Key": key, "Content-Type": "application/json"}
        error = "not attempted"
        for retry in range(policy.max_retries + 1):
            recorder.attempt([key])
            wait = backoff_seconds(retry, policy, self._rng)
            try:
                response = session.post(
                    url,
                    data=row.payload.encode("utf-8"),
                    headers=request_headers,
                    timeout=(self.target.timeout.connect_seconds, self.target.timeout.read_seconds),
                )
            except requests.RequestException as exc:
                error = redact(f"{type(exc).__name__}: {exc}", secrets)
            else:
                if 200 <= response.status_code < 300:
                    replayed = response.headers.get("Idempotent-Replayed", "").lower() == "true"
                    recorder.delivered(
                        [key],
                        acknowledged=True,
                        detail=f"HTTP {response.status_code}{' (replayed)' if replayed else ''}",
                    )
                    return True
                body = redact(response.text[:_BODY_EXCERPT], secrets)
                error = f"HTTP {response.status_code}: {body}".strip()
                if response.status_code not in RETRYABLE_STATUS:
                    recorder.failed([key], error)
                    log.warning("%s: change %s refused: %s", self.name, key[:12], error)
                    return True
                asked = retry_after_seconds(response.headers.get("Retry-After"), self._now())
                if asked is not None:
                    if asked > policy.max_retry_after_seconds:
                        recorder.retry([key], f"{error} (asked to wait {asked:.0f} s; stopped this send)")
                        return False
                    wait = max(wait, asked)
            if retry < policy.max_retries:
                log.info("%s: change %s: %s; retry in %.2f s", self.name, key[:12], error, wait)
                self._sleep(wait)
        recorder.retry([key], error)
        log.warning(
            "%s: change %s not delivered after %d tries: %s", self.name, key[:12], policy.max_retries + 1, error
        )
        return False

    def poll_acknowledgements(self, store: OutboxStore) -> int:
        """Nothing to poll: a 2xx answer already acknowledged the change."""
        return 0
