"""The outreach drafts as a Dagster asset, after the collector queue.

Reads the day's queue and what the drafts speak of (open items, stages, risk bands, promises,
disputes, billing contacts) from the warehouse, renders the drafts (``drafts.py``) and replaces
``marts.outreach_drafts``, which publishing copies to ``serving.duckdb`` and the exports (text cells
of the CSV export through the one spreadsheet-safety rule, like every other table). Nothing is
sent. Metadata carries counts only: a draft's recipient and text are personal data and never go to
the run's logs.
"""

import datetime as dt

import dagster as dg
import duckdb
import pandas as pd
import pyarrow as pa

from orchestration.defs.keys import OUTREACH_DRAFTS_KEY
from orchestration.defs.ml.assets import QUEUE_KEY
from orchestration.defs.outreach.drafts import PERSONAL_COLUMNS, DraftInputs, build_drafts
from orchestration.privacy import PersonalColumn
from orchestration.resources import RunOptions, WarehouseResource
from orchestration.settings import Settings

#: The relations the drafts read (asset keys ``<schema>/<table>``): the asset runs after them.
READS = (
    QUEUE_KEY,
    dg.AssetKey(["marts", "dim_customers"]),
    dg.AssetKey(["marts", "fct_ar_invoices"]),
    dg.AssetKey(["marts", "collection_stages"]),
    dg.AssetKey(["marts", "fct_disputes"]),
    dg.AssetKey(["intermediate", "int_promise_outcomes"]),
    dg.AssetKey(["ml", "customer_risk_scores"]),
    dg.AssetKey(["ml", "invoice_risk_scores"]),
)
_QUEUED_CUSTOMERS = "select customer_id from marts.collector_queue where as_of_date = $as_of"
#: One query per input of ``DraftInputs``; the only value is the as-of date, as a parameter.
QUERIES = {
    "queue": "select as_of_date, queue_owner, queue, rank, status, action, invoice_id, customer_id "
    "from marts.collector_queue where as_of_date = $as_of order by queue_owner, rank nulls last, invoice_id",
    "customers": "select customer_id, name, currency, billing_contact_name, billing_contact_email "  # noqa: S608 (a constant subquery)
    f"from marts.dim_customers where customer_id in ({_QUEUED_CUSTOMERS})",
    "items": "select invoice_id, customer_id, currency, open_amount, due_date, days_past_due "  # noqa: S608 (a constant subquery)
    f"from marts.fct_ar_invoices where open_amount > 0 and customer_id in ({_QUEUED_CUSTOMERS})",
    "stages": "select invoice_id, stage, stage_level from marts.collection_stages where entity_type = 'invoice'",
    "bands": "select customer_id, band from ml.customer_risk_scores where as_of_date = $as_of",
    "invoice_bands": "select invoice_id, band from ml.invoice_risk_scores where as_of_date = $as_of",
    "promises": "select promise_id, customer_id, document_id, created_date, promised_date, promised_amount, "  # noqa: S608 (a constant subquery)
    "paid_toward_promise, outcome from intermediate.int_promise_outcomes "
    f"where customer_id in ({_QUEUED_CUSTOMERS})",
    "disputes": "select dispute_id, document_id, customer_id, opened_date, days_open, reason, disputed_amount, "  # noqa: S608 (a constant subquery)
    f"currency from marts.fct_disputes where is_open and customer_id in ({_QUEUED_CUSTOMERS})",
}
#: The table's columns and types (money DECIMAL(18,2)); ``COLUMNS`` gives the order.
SCHEMA = pa.schema(
    [
        ("as_of_date", pa.date32()),
        ("draft_id", pa.string()),
        ("queue_owner", pa.string()),
        ("queue", pa.string()),
        ("queue_status", pa.string()),
        ("rank", pa.int32()),
        ("action", pa.string()),
        ("channel", pa.string()),
        ("tone", pa.string()),
        ("template", pa.string()),
        ("invoice_id", pa.string()),
        ("customer_id", pa.string()),
        ("customer_name", pa.string()),
        ("stage", pa.string()),
        ("stage_level", pa.int32()),
        ("risk_band", pa.string()),
        ("currency", pa.string()),
        ("open_amount", pa.decimal128(18, 2)),
        ("open_item_count", pa.int32()),
        ("has_promise_context", pa.bool_()),
        ("has_dispute_context", pa.bool_()),
        ("recipient_name", pa.string()),
        ("recipient_email", pa.string()),
        ("subject", pa.string()),
        ("body", pa.string()),
        ("blocked_reason", pa.string()),
    ]
)


def read_inputs(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> DraftInputs:
    """The drafts' inputs for one day, through Arrow (money stays Decimal, dates stay dates)."""
    frames = {}
    for name, sql in QUERIES.items():
        params = {"as_of": as_of} if "$as_of" in sql else None
        frames[name] = con.sql(sql, params=params).to_arrow_table().to_pandas()
    return DraftInputs(**frames)


def write_drafts(con: duckdb.DuckDBPyConnection, drafts: pd.DataFrame) -> None:
    """Replace ``marts.outreach_drafts`` with the day's drafts, typed by ``SCHEMA``."""
    table = pa.Table.from_pandas(drafts, schema=SCHEMA, preserve_index=False)
    con.register("drafts_frame", table)
    try:
        con.execute("create or replace table marts.outreach_drafts as select * from drafts_frame")
    finally:
        con.unregister("drafts_frame")


def published_personal_columns() -> list[PersonalColumn]:
    """The drafts' personal columns as publishing sees them (masked in serving and the exports by
    default; ``privacy.columns: {marts.outreach_drafts.recipient_email: keep}`` for a collections
    tool that reads serving to send)."""
    schema, table = OUTREACH_DRAFTS_KEY.path
    return [PersonalColumn(schema, table, column, origin) for column, origin in PERSONAL_COLUMNS.items()]


def column_schema() -> dg.TableSchema:
    """The table's columns for the Dagster UI, personal ones tagged ``pii`` (serving masks them)."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=field.name,
                type=str(field.type),
                tags={"pii": "true"} if field.name in PERSONAL_COLUMNS else {},
            )
            for field in SCHEMA
        ]
    )


def build_outreach_asset(settings: Settings) -> dg.AssetsDefinition:
    """``marts/outreach_drafts``: the next customer touch for every queue row not held back."""
    stage_count = len(settings.config.collections.stages)

    @dg.asset(key=OUTREACH_DRAFTS_KEY, group_name="marts", kinds={"duckdb", "jinja"}, deps=list(READS))
    def outreach_drafts(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, run: RunOptions
    ) -> dg.MaterializeResult:
        """A drafted reminder for each row of the day's collector queue that is not held back for a
        promise: e-mail or call script (from the row's action), tone from the invoice's collection
        stage and the customer's risk band, the customer's open items with amounts and due dates,
        pending, broken or partly kept promises and open disputes; subject and body from the
        Jinja2 templates in orchestration/defs/outreach/templates. Nothing is sent: a table ready
        for the collections tool. Recipient name, e-mail and body are personal data (tagged pii)."""
        as_of = run.as_of(settings.config.as_of_date)
        with warehouse.connection(read_only=True) as con:
            inputs = read_inputs(con, as_of)
        drafts = build_drafts(inputs, as_of, settings.config.company, stage_count)
        with warehouse.connection() as con:
            write_drafts(con, drafts)
        held = int((inputs.queue["status"] == "held").sum())
        context.log.info(f"outreach drafts: {len(drafts)} drafted, {held} queue row(s) held back")
        return dg.MaterializeResult(
            metadata={
                "rows": len(drafts),
                "held_back": held,
                "blocked": int(drafts["blocked_reason"].notna().sum()),
                "channels": dg.MetadataValue.json(drafts["channel"].value_counts().to_dict()),
                "tones": dg.MetadataValue.json(drafts["tone"].value_counts().to_dict()),
                "dagster/column_schema": column_schema(),
            }
        )

    return outreach_drafts
