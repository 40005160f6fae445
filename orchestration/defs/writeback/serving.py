"""The outbox as a DuckDB table (``writeback.erp_outbox``) for BI, copied through Arrow.

DuckDB reads the SQLite store only through its sqlite extension, which is not available offline,
so the rows go SQLite -> pandas -> Arrow (typed explicitly) -> DuckDB. Personal data (a note's
text and author) is masked in the copy, as in every table Inflow serves; the store keeps it.
"""

from __future__ import annotations

import json
import re

import duckdb
import pandas as pd
import pyarrow as pa

from expectations.contracts import ENTITIES
from expectations.privacy import PersonalKind, mask
from orchestration.defs.writeback.changes import visible_value

#: Keys of structured values that hold personal data, per field, with their kind: the personal
#: columns of the contract entity the field's value is taken from (a note is an activity).
PERSONAL_KEYS: dict[str, dict[str, PersonalKind]] = {"note.text": ENTITIES["activities"].personal}
_RELATION = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")
_TIMESTAMPS = (
    "created_at",
    "updated_at",
    "approved_at",
    "sent_at",
    "acknowledged_at",
    "confirmed_at",
    "failed_at",
    "rejected_at",
)

SERVING_SCHEMA = pa.schema(
    [
        ("seq", pa.int64()),
        ("idempotency_key", pa.string()),
        ("kind", pa.string()),
        ("target", pa.string()),
        ("entity_type", pa.string()),
        ("entity_key", pa.string()),
        ("field", pa.string()),
        ("value", pa.string()),
        ("value_json", pa.string()),
        ("previous_key", pa.string()),
        ("field_owner", pa.string()),
        ("approval", pa.string()),
        ("status", pa.string()),
        ("attempts", pa.int64()),
        ("last_error", pa.string()),
        ("reason", pa.string()),
        ("batch_id", pa.string()),
        ("as_of_date", pa.date32()),
        *((name, pa.timestamp("us")) for name in _TIMESTAMPS),
        ("approved_by", pa.string()),
        ("rejected_by", pa.string()),
    ]
)


def masked_value_json(field: str, value_json: str) -> str:
    """The canonical value with its personal keys masked (``expectations.privacy.mask``)."""
    keys = PERSONAL_KEYS.get(field)
    if not keys:
        return value_json
    value = json.loads(value_json)
    if isinstance(value, dict):
        value = {k: (mask(str(v), keys[k]) if k in keys and v is not None else v) for k, v in value.items()}
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def serving_frame(outbox: pd.DataFrame) -> pa.Table:
    """The outbox rows (``OutboxStore.frame()``) as the typed, masked serving table."""
    frame = outbox.copy()
    frame["value_json"] = [masked_value_json(f, v) for f, v in zip(frame["field"], frame["value"], strict=True)]
    frame["value"] = [visible_value(f, json.loads(v)) for f, v in zip(frame["field"], frame["value_json"], strict=True)]
    frame["as_of_date"] = pd.to_datetime(frame["as_of_date"], format="ISO8601").dt.date
    for name in _TIMESTAMPS:
        frame[name] = pd.to_datetime(frame[name], utc=True, format="ISO8601").dt.tz_localize(None)
    return pa.Table.from_pandas(frame[SERVING_SCHEMA.names], schema=SERVING_SCHEMA, preserve_index=False)


def copy_outbox_to_duckdb(
    outbox: pd.DataFrame, con: duckdb.DuckDBPyConnection, relation: str = "writeback.erp_outbox"
) -> int:
    """Replace ``relation`` (schema-qualified) with the outbox; returns the row count."""
    return _replace_table(con, relation, serving_frame(outbox))


def _replace_table(con: duckdb.DuckDBPyConnection, relation: str, table: pa.Table) -> int:
    if not _RELATION.match(relation):
        raise ValueError(f"relation {relation!r} must look like 'schema.table'")
    con.execute(f"create schema if not exists {relation.split('.', 1)[0]}")
    con.register("_inflow_writeback_arrow", table)
    try:
        con.execute(f"create or replace table {relation} as select * from _inflow_writeback_arrow")  # noqa: S608 (relation validated as schema.table)
    finally:
        con.unregister("_inflow_writeback_arrow")
    return table.num_rows


#: ``quality.exceptions``' columns and types, so the lead can append these rows there unchanged.
EXCEPTIONS_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("source_table", pa.string()),
        ("entity", pa.string()),
        ("file", pa.string()),
        ("checksum", pa.string()),
        ("row_number", pa.int64()),
        ("rule", pa.string()),
        ("column_name", pa.string()),
        ("detail", pa.string()),
        ("owner", pa.string()),
        ("payload", pa.string()),
        ("detected_at", pa.timestamp("us")),
    ]
)


def copy_exceptions_to_duckdb(
    exceptions: pd.DataFrame, con: duckdb.DuckDBPyConnection, relation: str = "writeback.erp_outbox_exceptions"
) -> int:
    """Replace ``relation`` with the outbox's exceptions (``confirmation.outbox_exceptions``),
    payloads masked like the outbox copy; returns the row count."""
    frame = exceptions.copy()
    frame["payload"] = [masked_value_json(f, p) for f, p in zip(frame["column_name"], frame["payload"], strict=True)]
    table = pa.Table.from_pandas(frame[EXCEPTIONS_SCHEMA.names], schema=EXCEPTIONS_SCHEMA, preserve_index=False)
    return _replace_table(con, relation, table)
