"""What an emitter reports back while it delivers a batch; the sender records it in the outbox."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from orchestration.defs.writeback.outbox import Batch, OutboxStore


class Recorder(Protocol):
    """Status bookkeeping for one target, backed by the outbox store."""

    def attempt(self, keys: Sequence[str]) -> None:
        """A delivery of these changes is about to be tried (counted before it is made)."""

    def delivered(self, keys: Sequence[str], acknowledged: bool, detail: str) -> None:
        """The target took these changes; ``acknowledged`` when its answer is the acknowledgement."""

    def retry(self, keys: Sequence[str], error: str) -> int:
        """Delivery may work later; returns how many changes ran out of attempts and failed."""

    def failed(self, keys: Sequence[str], error: str) -> None:
        """The target refused these changes for good."""


class Emitter(Protocol):
    def deliver(self, batch: Batch, recorder: Recorder) -> bool:
        """Deliver what is left of a batch. False stops this target for the rest of the send
        (the endpoint is down or asked to wait): later changes must not overtake earlier ones."""

    def poll_acknowledgements(self, store: OutboxStore) -> int:
        """Read the target's acknowledgements of sent changes, if it gives any (import results,
        a processed flag); record them in ``store``; returns how many changes they settled."""
