"""A change to send: what it writes, in canonical form, and the key that makes it idempotent.

A change sets one field (``<entity>.<field>``, e.g. ``invoice.risk_band``) of one entity
(``entity_key``, the ERP's own key: a document number, a customer number, or the workflow tool's
promise / dispute / activity id) to one value. Values are JSON-able: text, booleans, whole
numbers, ``Decimal`` money, dates, or a flat mapping of those.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestration.defs.writeback.settings import ChangeKind, Owner, OwnershipConfig

#: Bumped only if the canonical form below changes; part of every key, so keys never collide
#: across versions of the rule.
KEY_VERSION = "inflow-outbox-v1"
_SEP = "\x1f"  # ASCII unit separator: cannot occur in a JSON text or an identifier

#: Per field with a structured value: which key is the field's visible value in flat files (and
#: what the ERP is expected to show when it confirms the change), and which keys are the date,
#: amount and memo columns. A scalar value is its own visible value.
FLAT_KEYS: dict[str, dict[str, str]] = {
    "promise.promise": {"value": "promised_date", "date": "promised_date", "amount": "promised_amount"},
    "promise.outcome": {"value": "outcome", "date": "evaluation_date", "amount": "paid_toward_promise"},
    "dispute.resolution": {"value": "resolution", "date": "resolved_date"},
    "note.text": {"value": "text", "date": "activity_date", "memo": "author"},
}


class OwnershipError(ValueError):
    """Inflow was asked to write a field it neither owns nor relays."""


def _plain(value: Any) -> Any:
    """A value in the canonical JSON form: money as a decimal string, dates ISO, no floats."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, decimal.Decimal):
        return money_text(value)
    if isinstance(value, float):
        raise TypeError(f"float {value!r} in a change value: pass money as Decimal (floats are not exact)")
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    raise TypeError(f"unsupported value type {type(value).__name__} in a change value")


def money_text(amount: decimal.Decimal) -> str:
    """Money as text with at least two decimals and no trailing noise: 1200.5 -> '1200.50',
    1.125 -> '1.125'. Equal amounts give equal text whatever their scale, so keys agree."""
    if not amount.is_finite():
        raise ValueError(f"money must be finite, got {amount}")
    normal = amount.normalize()
    places = max(2, -int(normal.as_tuple().exponent))
    return f"{normal:.{places}f}"


def canonical_json(value: Any) -> str:
    """The one text of a value that the key hashes: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Change:
    """One field of one entity set to one value, as derived from the warehouse."""

    kind: ChangeKind
    entity_key: str
    field: str
    value: Any

    @property
    def entity_type(self) -> str:
        return self.field.split(".", 1)[0]

    @property
    def value_json(self) -> str:
        return canonical_json(self.value)

    def __post_init__(self) -> None:
        if not self.entity_key or not str(self.entity_key).strip():
            raise ValueError(f"{self.kind} change on {self.field} has an empty entity key")
        if self.field.count(".") != 1:
            raise ValueError(f"field {self.field!r} must be qualified by its entity, like 'invoice.risk_band'")
        canonical_json(self.value)  # fail at construction on floats or unsupported types


def idempotency_key(
    kind: str, target: str, entity_key: str, field: str, value_json: str, previous_key: str | None
) -> str:
    """SHA-256 (hex) of the change's identity, fields joined by the unit separator U+001F:

        KEY_VERSION, kind, target, entity_key, field, canonical_json(value), previous_key or ''

    ``previous_key`` is the key of the last change enqueued for the same target, entity and
    field (DECISIONS W2): without it, a value that returns to an earlier one (band high -> low ->
    high) would hash to the first change's key and be dropped as a duplicate, leaving the ERP at
    'low'. With it, the same inputs still give the same key on every run.
    """
    parts = [KEY_VERSION, kind, target, entity_key, field, value_json, previous_key or ""]
    return hashlib.sha256(_SEP.join(parts).encode("utf-8")).hexdigest()


def field_owner(change: Change, ownership: OwnershipConfig) -> Owner:
    """The owner of the change's field; refuses a field Inflow may not write, naming field and owner."""
    owner = ownership.fields.get(change.field)
    if owner is None:
        raise OwnershipError(
            f"field {change.field} has no declared owner (writeback.ownership.fields); "
            f"Inflow writes only fields it owns or relays"
        )
    if not ownership.writable_by_inflow(owner):
        relayed = ", ".join(o.value for o in ownership.relayed) or "none"
        raise OwnershipError(
            f"field {change.field} is owned by {owner.value}: Inflow writes only fields it owns "
            f"(inflow) or relays ({relayed}); refused {change.kind.value} change on {change.entity_key}"
        )
    return owner


def flat_view(field: str, value: Any) -> dict[str, Any]:
    """The flat columns of a change for file formats: value, date, amount, currency, memo.

    ``value`` is what the ERP is expected to show for the field (the confirmation compares it).
    """
    if not isinstance(value, Mapping):
        return {"value": _plain(value), "date": None, "amount": None, "currency": None, "memo": None}
    keys = FLAT_KEYS.get(field, {})
    plain = _plain(value)
    return {
        "value": plain.get(keys.get("value", "value")),
        "date": plain.get(keys["date"]) if "date" in keys else None,
        "amount": plain.get(keys["amount"]) if "amount" in keys else None,
        "currency": plain.get("currency"),
        "memo": plain.get(keys["memo"]) if "memo" in keys else None,
    }


def visible_value(field: str, value: Any) -> str | None:
    """The field's visible value as text ('true' for booleans, as JSON writes them)."""
    shown = flat_view(field, value)["value"]
    if shown is None:
        return None
    return json.dumps(shown) if isinstance(shown, bool) else str(shown)
