"""The outreach drafts (orchestration/defs/outreach): a hand-checked rendered draft, the tone by
collection stage and risk band, promise and dispute context, held rows left alone, and the asset
writing a typed table without putting personal data into its logs or metadata."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from orchestration.defs.keys import OUTREACH_DRAFTS_KEY
from orchestration.defs.outreach.assets import published_personal_columns
from orchestration.defs.outreach.drafts import (
    MAX_LISTED_ITEMS,
    PERSONAL_COLUMNS,
    DraftInputs,
    base_tone,
    build_drafts,
    money,
    tone_for,
)
from orchestration.privacy import PrivacyConfig, PublishPrivacy

AS_OF = dt.date(2026, 11, 27)
D = Decimal
day = dt.date.fromisoformat


def queue_row(invoice_id: str, *, status: str = "queued", action: str = "email", queue: str = "collections", rank=1):
    return {
        "as_of_date": AS_OF,
        "queue_owner": "Carl",
        "queue": queue,
        "rank": rank,
        "status": status,
        "action": action,
        "invoice_id": invoice_id,
        "customer_id": "C1",
    }


def inputs(
    queue: list[dict],
    *,
    i1_level: int = 2,
    band: str | None = "medium",
    email: str | None = "ann@acme.test",
    extra_items: list[dict] = (),
) -> DraftInputs:
    """Customer C1 (billing contact Ann Payable): I1 USD 1,200.50 due Nov 2 (25 days past due), I3
    EUR 450.00 due Oct 1 (57 days) under dispute since Nov 10 (pricing, EUR 100.00), I2 USD 300.00
    due Dec 15. Promises on I1: broken (Oct 20), then partly kept (Nov 5: 200.00 of 1,200.50 by Nov
    12); on I2 kept."""
    names = {0: "current", 1: "reminder", 2: "call", 3: "escalation", 4: "final_demand"}
    stages = [{"invoice_id": "I3", "stage": "escalation", "stage_level": 3}]
    if i1_level:
        stages.append({"invoice_id": "I1", "stage": names[i1_level], "stage_level": i1_level})
    items = [
        {"invoice_id": "I1", "currency": "USD", "open_amount": D("1200.50"), "due_date": day("2026-11-02"), "dpd": 25},
        {"invoice_id": "I2", "currency": "USD", "open_amount": D("300.00"), "due_date": day("2026-12-15"), "dpd": 0},
        {"invoice_id": "I3", "currency": "EUR", "open_amount": D("450.00"), "due_date": day("2026-10-01"), "dpd": 57},
        *extra_items,
    ]

    def promise(pid, doc, created, promised, amount, paid, outcome):
        return {
            "promise_id": pid,
            "customer_id": "C1",
            "document_id": doc,
            "created_date": day(created),
            "promised_date": day(promised),
            "promised_amount": D(amount),
            "paid_toward_promise": D(paid),
            "outcome": outcome,
        }

    return DraftInputs(
        queue=pd.DataFrame(queue),
        customers=pd.DataFrame(
            [
                {
                    "customer_id": "C1",
                    "name": "Acme Ltd",
                    "currency": "USD",
                    "billing_contact_name": "Ann Payable",
                    "billing_contact_email": email,
                }
            ]
        ),
        items=pd.DataFrame(
            [
                {
                    "invoice_id": i["invoice_id"],
                    "customer_id": "C1",
                    "currency": i["currency"],
                    "open_amount": i["open_amount"],
                    "due_date": i["due_date"],
                    "days_past_due": i["dpd"],
                }
                for i in items
            ]
        ),
        stages=pd.DataFrame(stages),
        bands=pd.DataFrame([{"customer_id": "C1", "band": band}] if band else [], columns=["customer_id", "band"]),
        invoice_bands=pd.DataFrame([{"invoice_id": "I1", "band": "low"}]),
        promises=pd.DataFrame(
            [
                promise("P0", "I1", "2026-10-20", "2026-10-25", "1200.50", "0.00", "broken"),
                promise("P1", "I1", "2026-11-05", "2026-11-12", "1200.50", "200.00", "partially_kept"),
                promise("P2", "I2", "2026-11-01", "2026-11-03", "50.00", "50.00", "kept"),
            ]
        ),
        disputes=pd.DataFrame(
            [
                {
                    "dispute_id": "D1",
                    "document_id": "I3",
                    "customer_id": "C1",
                    "opened_date": day("2026-11-10"),
                    "days_open": 17,
                    "reason": "pricing",
                    "disputed_amount": D("100.00"),
                    "currency": "EUR",
                }
            ]
        ),
    )


def drafts(data: DraftInputs) -> pd.DataFrame:
    return build_drafts(data, AS_OF, "Acme Supplies", stage_count=4)


EXPECTED_BODY = """Dear Ann Payable,

Invoice I1 for USD 1,200.50 is now 25 days past its due date of 2 Nov 2026, and we have not received payment.

Open items on your account with Acme Supplies:
  - I1, due 2 Nov 2026: USD 1,200.50, 25 days past due (this message)
  - I3, due 1 Oct 2026: EUR 450.00, in dispute since 10 Nov 2026
  - I2, due 15 Dec 2026: USD 300.00, not yet due
  Total open: EUR 450.00; USD 1,500.50

On 5 Nov 2026 you promised USD 1,200.50 by 12 Nov 2026 for I1; we received USD 200.00, so USD 1,000.50 of that \
promise is still outstanding.

I3 is in dispute (raised 10 Nov 2026, pricing, EUR 100.00 in question): it is not part of this request until the \
query is settled.

Please arrange payment within 7 days, or reply with the date you will pay. If you dispute any item, tell us which \
and why.

Kind regards,
Carl
Accounts Receivable, Acme Supplies
"""


def test_a_draft_by_hand_with_promise_and_dispute_context() -> None:
    """Stage 'call' (level 2 of 4) with a medium band: firm. The focus first, then the most overdue;
    totals per currency; the latest promise on I1 (partly kept: 1,000.50 short) and not the older
    broken one or I2's kept one; I3's open dispute taken out of the request."""
    (draft,) = drafts(inputs([queue_row("I1")])).to_dict("records")
    assert draft["subject"] == "Overdue: invoice I1, USD 1,200.50, 25 days past due"
    assert draft["body"] == EXPECTED_BODY
    assert (draft["channel"], draft["tone"], draft["template"], draft["stage"], draft["risk_band"]) == (
        "email",
        "firm",
        "email.j2",
        "call",
        "medium",
    )
    assert (draft["recipient_name"], draft["recipient_email"], draft["blocked_reason"]) == (
        "Ann Payable",
        "ann@acme.test",
        None,
    )
    assert (draft["open_amount"], draft["currency"], draft["open_item_count"]) == (D("1200.50"), "USD", 3)
    assert draft["has_promise_context"] and draft["has_dispute_context"]
    assert draft["draft_id"] == "2026-11-27/I1"


@pytest.mark.parametrize(
    ("level", "band", "tone", "subject"),
    [
        (0, "medium", "courteous", "Upcoming payment: invoice I1 due 2 Nov 2026"),
        (1, "medium", "friendly", "Payment reminder: invoice I1 (USD 1,200.50) was due 2 Nov 2026"),
        (2, "medium", "firm", "Overdue: invoice I1, USD 1,200.50, 25 days past due"),
        (3, "medium", "urgent", "Urgent: overdue balance of EUR 450.00 and USD 1,500.50 on your account"),
        (4, "medium", "final", "Final demand: invoice I1, USD 1,200.50"),
        # a high or critical band is one step firmer, never up to a final demand
        (1, "high", "firm", "Overdue: invoice I1, USD 1,200.50, 25 days past due"),
        (3, "critical", "urgent", "Urgent: overdue balance of EUR 450.00 and USD 1,500.50 on your account"),
        (4, "low", "final", "Final demand: invoice I1, USD 1,200.50"),
        (4, "critical", "final", "Final demand: invoice I1, USD 1,200.50"),
        (0, "high", "friendly", "Payment reminder: invoice I1 (USD 1,200.50) was due 2 Nov 2026"),
        # no customer band: the invoice's own (low) applies
        (2, None, "firm", "Overdue: invoice I1, USD 1,200.50, 25 days past due"),
    ],
)
def test_the_tone_follows_the_stage_and_the_risk_band(level: int, band: str | None, tone: str, subject: str) -> None:
    (draft,) = drafts(inputs([queue_row("I1")], i1_level=level, band=band)).to_dict("records")
    assert (draft["tone"], draft["subject"], draft["stage_level"]) == (tone, subject, level)


def test_every_tone_opens_and_closes_differently() -> None:
    bodies = {
        level: drafts(inputs([queue_row("I1")], i1_level=level)).iloc[0]["body"].split("\n\n") for level in range(5)
    }
    openings = {parts[1] for parts in bodies.values()}
    closings = {parts[-2] for parts in bodies.values()}
    assert len(openings) == len(closings) == 5
    assert "final demand" in bodies[4][1] and "friendly note" in bodies[0][1]


@pytest.mark.parametrize(
    ("count", "levels"),
    [
        (1, ["courteous", "friendly"]),
        (2, ["courteous", "friendly", "final"]),
        (3, ["courteous", "friendly", "urgent", "final"]),
        (4, ["courteous", "friendly", "firm", "urgent", "final"]),
        (5, ["courteous", "friendly", "firm", "firm", "urgent", "final"]),
    ],
)
def test_base_tones_for_any_number_of_configured_stages(count: int, levels: list[str]) -> None:
    assert [base_tone(level, count) for level in range(count + 1)] == levels


def test_a_disputed_invoice_gets_a_dispute_reply_whatever_its_stage() -> None:
    (draft,) = drafts(inputs([queue_row("I3", queue="disputes", action="escalate")])).to_dict("records")
    assert (draft["tone"], draft["channel"], draft["stage"]) == ("dispute", "email", "escalation")
    assert draft["subject"] == "Your query on invoice I3"
    assert (
        "We are looking into your query on I3 (raised 10 Nov 2026, pricing, EUR 100.00 in question); "
        "it is 17 days old and we will come back to you with the outcome." in draft["body"]
    )
    assert "The other items above remain due on their usual terms." in draft["body"]
    assert "final demand" not in draft["body"].lower()
    assert tone_for(4, 4, "critical", disputed=True) == "dispute"


def test_no_draft_for_a_held_row() -> None:
    """I1 is held for a pending promise: it gets no draft; I2 (queued) does, and still lists I1."""
    queue = [queue_row("I1", status="held", action="wait for promise", rank=None), queue_row("I2", rank=1)]
    result = drafts(inputs(queue))
    assert result["invoice_id"].tolist() == ["I2"]
    assert "  - I1, due 2 Nov 2026: USD 1,200.50, 25 days past due\n" in result.iloc[0]["body"]
    assert drafts(inputs([queue[0]])).empty


def test_a_call_gets_a_call_script_written_for_the_collector() -> None:
    (draft,) = drafts(inputs([queue_row("I1", action="call")])).to_dict("records")
    assert (draft["channel"], draft["template"]) == ("call_script", "call_script.j2")
    body = draft["body"]
    assert body.startswith("Call Ann Payable at Acme Ltd (customer C1).\nStage: call; risk band: medium; tone: firm.")
    assert "On 5 Nov 2026 they promised USD 1,200.50 by 12 Nov 2026 for I1; we received USD 200.00" in body
    assert "Ask: the date and amount they will pay; record it as a promise to pay in the workflow tool." in body
    assert "Dear" not in body


def test_an_e_mail_without_a_recipient_address_is_flagged_not_dropped() -> None:
    email, call = drafts(inputs([queue_row("I1"), queue_row("I2", action="call", rank=2)], email=None)).to_dict(
        "records"
    )
    assert email["blocked_reason"] == "no billing contact e-mail in the CRM" and email["recipient_email"] is None
    assert pd.isna(call["blocked_reason"])


def test_a_long_list_of_open_items_is_cut_and_summed() -> None:
    extra = [
        {
            "invoice_id": f"X{n:02d}",
            "currency": "USD",
            "open_amount": D("10.00"),
            "due_date": day("2026-12-20"),
            "dpd": 0,
        }
        for n in range(MAX_LISTED_ITEMS)
    ]
    body = drafts(inputs([queue_row("I1")], extra_items=extra)).iloc[0]["body"]
    lines = [line for line in body.splitlines() if line.startswith("  - ")]
    assert len(lines) == MAX_LISTED_ITEMS + 1
    assert lines[-1] == "  - and 3 more items: USD 30.00"
    assert "Total open: EUR 450.00; USD 1,600.50" in body


def test_money_is_decimal_with_its_currency() -> None:
    assert money(D("1234567.005"), "EUR") == "EUR 1,234,567.01"
    assert money(D("0"), "JPY") == "JPY 0.00"
    with pytest.raises(TypeError, match="must be Decimal"):
        money(12.5, "USD")


def _warehouse(path: Path) -> None:
    """The relations the asset reads, as the marts and the risk scores have them, for C1 above."""
    data = inputs(
        [
            queue_row("I1"),
            queue_row("I2", rank=2),
            queue_row("I3", queue="disputes", action="escalate"),
            {**queue_row("I1"), "as_of_date": AS_OF - dt.timedelta(days=1)},
        ]
    )
    con = duckdb.connect(str(path))
    for schema in ("marts", "ml", "intermediate"):
        con.execute(f"create schema {schema}")
    frames = {
        "marts.collector_queue": data.queue,
        "marts.dim_customers": data.customers,
        "marts.fct_ar_invoices": data.items,
        "marts.collection_stages": data.stages.assign(entity_type="invoice"),
        "ml.customer_risk_scores": data.bands.assign(as_of_date=AS_OF),
        "ml.invoice_risk_scores": data.invoice_bands.assign(as_of_date=AS_OF),
        "intermediate.int_promise_outcomes": data.promises,
        "marts.fct_disputes": data.disputes.assign(is_open=True),
    }
    for name, frame in frames.items():
        con.register("frame", frame)
        con.execute(f"create table {name} as select * from frame")
        con.unregister("frame")
    for column in ("open_amount",):
        con.execute(f"alter table marts.fct_ar_invoices alter {column} type decimal(18, 2)")
    for column in ("promised_amount", "paid_toward_promise"):
        con.execute(f"alter table intermediate.int_promise_outcomes alter {column} type decimal(18, 2)")
    con.execute("alter table marts.fct_disputes alter disputed_amount type decimal(18, 2)")
    con.close()


def test_the_asset_writes_the_day_s_drafts_and_keeps_personal_data_out_of_its_logs(tmp_path: Path) -> None:
    from orchestration.config import SAMPLE_CONFIG, load_config
    from orchestration.defs.outreach.assets import build_outreach_asset
    from orchestration.resources import RunOptions, WarehouseResource
    from orchestration.settings import Settings

    _warehouse(tmp_path / "warehouse.duckdb")
    settings = Settings(config=load_config(SAMPLE_CONFIG), config_path=SAMPLE_CONFIG, home=tmp_path)
    result = dg.materialize(
        [build_outreach_asset(settings)],
        resources={
            "warehouse": WarehouseResource(path=str(settings.warehouse_path)),
            "run": RunOptions(as_of_date=AS_OF.isoformat()),
        },
    )
    assert result.success
    (event,) = result.get_asset_materialization_events()
    assert event.asset_key == OUTREACH_DRAFTS_KEY
    metadata = event.materialization.metadata
    assert (metadata["rows"].value, metadata["held_back"].value, metadata["blocked"].value) == (3, 0, 0)
    schema = metadata["dagster/column_schema"].value
    assert {c.name for c in schema.columns if c.tags.get("pii") == "true"} == set(PERSONAL_COLUMNS)
    everything_logged = " ".join(str(e) for e in result.all_events)
    assert "ann@acme.test" not in everything_logged and "Ann Payable" not in everything_logged

    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    types = dict(
        con.execute(
            "select column_name, data_type from information_schema.columns where table_name = 'outreach_drafts'"
        ).fetchall()
    )
    rows = con.execute(
        "select invoice_id, tone, channel, open_amount, as_of_date from marts.outreach_drafts order by invoice_id"
    ).fetchall()
    con.close()
    assert types["open_amount"] == "DECIMAL(18,2)" and types["as_of_date"] == "DATE"
    assert rows == [
        ("I1", "firm", "email", D("1200.50"), AS_OF),
        ("I2", "courteous", "email", D("300.00"), AS_OF),
        ("I3", "dispute", "email", D("450.00"), AS_OF),
    ]


def test_the_drafts_follow_the_queue_and_precede_publication() -> None:
    """In the project's graph: after the queue and the relations the drafts read, before publishing;
    the ERP outbox runs after the collection stages it sends."""
    from orchestration.config import SAMPLE_CONFIG
    from orchestration.definitions import build_definitions
    from orchestration.settings import Settings

    graph = build_definitions(Settings.load(SAMPLE_CONFIG, Path("/nonexistent-home"))).resolve_asset_graph()
    parents = {k.to_user_string() for k in graph.get(OUTREACH_DRAFTS_KEY).parent_keys}
    assert {"marts/collector_queue", "marts/collection_stages", "marts/fct_disputes"} <= parents
    assert OUTREACH_DRAFTS_KEY in graph.get(dg.AssetKey(["serving", "published"])).parent_keys
    assert (
        dg.AssetKey(["marts", "collection_stages"]) in graph.get(dg.AssetKey(["writeback", "erp_outbox"])).parent_keys
    )


def _published_drafts(tmp_path: Path, config: PrivacyConfig) -> tuple:
    """One draft copied the way publishing copies it, with the drafts' personal columns declared."""
    manifest = tmp_path / "manifest.json"
    manifest.write_text('{"nodes": {}}', encoding="utf-8")
    privacy = PublishPrivacy.load(manifest, config, tmp_path, published_personal_columns())
    con = duckdb.connect()
    con.execute(
        "create schema marts; create table marts.outreach_drafts "
        "(draft_id varchar, recipient_name varchar, recipient_email varchar, body varchar, tone varchar)"
    )
    con.execute(
        "insert into marts.outreach_drafts values "
        "('d1', 'Jane Doe', 'jane.doe@example.com', 'Dear Jane Doe, invoice INV-1 is due.', 'firm')"
    )
    privacy.prepare(con)
    select = privacy.select(con, "memory", "marts", "outreach_drafts")
    return con.execute(f"select {select} from marts.outreach_drafts").fetchone()


def test_serving_masks_the_drafts_recipient_and_body_unless_told_to_keep(tmp_path: Path) -> None:
    masked = _published_drafts(tmp_path, PrivacyConfig())
    assert masked[0] == "d1" and masked[4] == "firm"  # the rest of the row as written
    assert "Jane" not in masked[1] and "jane.doe" not in masked[2] and "Jane" not in masked[3]
    assert masked[2].endswith("@example.com")  # masked, not dropped: the domain stays readable
    kept = _published_drafts(tmp_path, PrivacyConfig(columns={"marts.outreach_drafts.recipient_email": "keep"}))
    assert kept[2] == "jane.doe@example.com" and "Jane" not in kept[1]


def test_a_privacy_setting_for_a_drafts_column_that_is_not_personal_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"marts\.outreach_drafts\.tone"):
        _published_drafts(tmp_path, PrivacyConfig(columns={"marts.outreach_drafts.tone": "keep"}))


def test_the_templates_read_a_dicts_key_first_and_still_refuse_a_missing_one():
    from jinja2 import UndefinedError

    from orchestration.defs.outreach.drafts import environment

    env = environment()
    assert env.from_string("{{ a.keys }}").render(a={"keys": "the key"}) == "the key"
    assert env.from_string("{{ a.real }}").render(a=complex(2, 3)) == "2.0", "objects keep their attributes"
    with pytest.raises(UndefinedError):
        env.from_string("{{ a.missing }}").render(a={"present": 1})
