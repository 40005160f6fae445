"""The next customer touch: a drafted reminder for each row of the collector queue.

Pure functions over DataFrames (the asset in ``assets.py`` does the reading and writing). Each
queue row that is not held back (a pending promise holds it) gets one draft about its invoice, the
*focus*: a channel from the row's action (a call script for ``call``, otherwise an e-mail), a tone
from the invoice's collection stage and the customer's risk band (DECISIONS O2), the customer's
open items with amounts and due dates, and what the workflow knows: promises (pending, broken or
partly kept) and open disputes. Text comes from the Jinja2 templates next to this file; values are
passed to them as variables and never rendered as templates themselves.

Nothing here sends anything: the drafts are a table for the collections tool (DECISIONS O4).
Recipient names and e-mails (and the bodies, which greet the recipient) are personal data,
listed in ``PERSONAL_COLUMNS`` for serving to mask.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

TEMPLATES = Path(__file__).parent / "templates"
#: Tones from the mildest to the last word; ``dispute`` stands apart (it does not ask for money).
TONES = ("courteous", "friendly", "firm", "urgent", "final")
DISPUTE_TONE = "dispute"
#: Risk bands that make the tone one step firmer (never up to ``final``, which only the last
#: collection stage gives: a final demand has consequences a model score must not trigger).
FIRMER_BANDS = frozenset({"high", "critical"})
#: Open items listed per draft (the focus first, then by days past due and amount); the rest are
#: summed in one line, so a customer with thousands of open items still gets a readable draft.
MAX_LISTED_ITEMS = 10
#: Columns holding personal data (the billing contact's name and e-mail; the body greets them).
#: The drafts' personal columns and the contract column each carries (publishing renders them by
#: the privacy settings, like a dbt model column declaring ``meta.personal``).
PERSONAL_COLUMNS = {
    "recipient_name": "crm_contacts.name",
    "recipient_email": "crm_contacts.email",
    "body": "activities.text",
}
CHANNELS = {"call": "call_script"}
DEFAULT_CHANNEL = "email"
#: Promise outcomes worth telling the customer about (kept and cancelled ones are not).
PROMISE_OUTCOMES_MENTIONED = ("pending", "partially_kept", "broken")
#: Columns of the drafts table, in order.
COLUMNS = (
    "as_of_date",
    "draft_id",
    "queue_owner",
    "queue",
    "queue_status",
    "rank",
    "action",
    "channel",
    "tone",
    "template",
    "invoice_id",
    "customer_id",
    "customer_name",
    "stage",
    "stage_level",
    "risk_band",
    "currency",
    "open_amount",
    "open_item_count",
    "has_promise_context",
    "has_dispute_context",
    "recipient_name",
    "recipient_email",
    "subject",
    "body",
    "blocked_reason",
)


def money(amount: decimal.Decimal, currency: str | None) -> str:
    """``USD 1,234.50``: the currency first, thousands separated, two decimals (Decimal, never float)."""
    if not isinstance(amount, decimal.Decimal):
        raise TypeError(f"money must be Decimal, got {type(amount).__name__} {amount!r}")
    text = f"{amount.quantize(decimal.Decimal('0.01'), rounding=decimal.ROUND_HALF_UP):,.2f}"
    return f"{currency} {text}" if currency else text


def _as_date(value: dt.date | pd.Timestamp) -> dt.date:
    return value.date() if isinstance(value, pd.Timestamp | dt.datetime) else value


def day(value: dt.date | pd.Timestamp) -> str:
    """``3 Nov 2026``: day month year, month in letters, read the same in every country."""
    value = _as_date(value)
    return f"{value.day} {value:%b %Y}"


def paragraphs(text: str) -> str:
    """Rendered text with paragraphs one blank line apart and no trailing spaces: the templates
    stay readable while their conditional blocks come and go."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"


def base_tone(stage_level: int, stage_count: int) -> str:
    """The tone of a collection stage: courteous before any stage, friendly at the first, final
    at the last (of two or more), urgent at the one before the last (of three or more), firm
    between."""
    if stage_level <= 0:
        return "courteous"
    if stage_level >= stage_count and stage_count >= 2:
        return "final"
    if stage_level == stage_count - 1 and stage_count >= 3:
        return "urgent"
    if stage_level == 1:
        return "friendly"
    return "firm"


def tone_for(stage_level: int, stage_count: int, risk_band: str | None, disputed: bool) -> str:
    """The draft's tone (DECISIONS O2): ``dispute`` for an invoice under dispute, else the
    stage's tone, one step firmer for a high or critical risk band but never up to ``final``."""
    if disputed:
        return DISPUTE_TONE
    tone = base_tone(stage_level, stage_count)
    if tone != "final" and risk_band in FIRMER_BANDS:
        return TONES[min(TONES.index(tone) + 1, TONES.index("urgent"))]
    return tone


@dataclass(frozen=True)
class DraftInputs:
    """What the drafts are made of, one frame per relation (money columns as Decimal).

    - ``queue``: ``marts.collector_queue`` rows of the day;
    - ``customers``: customer_id, name, currency, billing_contact_name, billing_contact_email;
    - ``items``: open invoices of the queued customers: invoice_id, customer_id, currency,
      open_amount, due_date, days_past_due;
    - ``stages``: ``marts.collection_stages`` invoice rows (invoice_id, stage, stage_level);
    - ``bands``: customer_id, band (``ml.customer_risk_scores`` of the day) and ``invoice_bands``:
      invoice_id, band (``ml.invoice_risk_scores``), the fallback;
    - ``promises``: ``intermediate.int_promise_outcomes`` of the queued customers;
    - ``disputes``: open disputes (``marts.fct_disputes`` with is_open) on their invoices.
    """

    queue: pd.DataFrame
    customers: pd.DataFrame
    items: pd.DataFrame
    stages: pd.DataFrame
    bands: pd.DataFrame
    invoice_bands: pd.DataFrame
    promises: pd.DataFrame
    disputes: pd.DataFrame


class _PlainEnvironment(jinja2.Environment):
    """Jinja2 whose ``a.b`` reads a dict's key first. The drafts' variables are dicts, and
    Jinja's own lookup tries a Python attribute first and falls back to the key after an
    exception: 7.1 million lookups a day at 1M invoices, 4.4 s of a profiled build."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


def environment(templates: Path = TEMPLATES) -> jinja2.Environment:
    """Plain-text templates: no HTML escaping (nothing is HTML), a missing variable is an error."""
    return _PlainEnvironment(
        loader=jinja2.FileSystemLoader(templates),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 (plain text; files for people pass the spreadsheet rule)
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts, a missing value (None, NaN, NaT) as None."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def _by(rows: Iterable[dict[str, Any]], key: str) -> dict[Any, list[dict[str, Any]]]:
    grouped: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[row[key]].append(row)
    return grouped


def _item_view(item: Mapping[str, Any], disputed_since: Mapping[str, dt.date]) -> dict[str, Any]:
    """How an open item is printed (``is_focus`` is set per draft)."""
    opened = disputed_since.get(item["invoice_id"])
    return {
        "invoice_id": item["invoice_id"],
        "due": day(item["due_date"]),
        "amount": money(item["open_amount"], item["currency"]),
        "days_past_due": int(item["days_past_due"] or 0),
        "disputed_since": day(opened) if opened else None,
        "is_focus": False,
        "is_summary": False,
    }


def _summary_view(rest: list[dict[str, Any]]) -> dict[str, Any]:
    """One line for the open items beyond MAX_LISTED_ITEMS: how many, and their amount per currency."""
    return {
        "invoice_id": f"{len(rest)} more item{'s' if len(rest) > 1 else ''}",
        "due": None,
        "amount": " + ".join(totals(rest)),
        "days_past_due": 0,
        "disputed_since": None,
        "is_focus": False,
        "is_summary": True,
    }


def _listing_order(item: Mapping[str, Any]) -> tuple:
    """The most overdue first, then the largest, then by id."""
    return (-int(item["days_past_due"] or 0), -item["open_amount"], item["invoice_id"])


@dataclass
class _Account:
    """What every draft to one customer shares, worked out once per customer instead of once per
    queue row (a customer with a hundred open items has a hundred rows): the items in listing
    order, how each is printed, the disputed items, the latest promises and the totals."""

    items: list[dict[str, Any]]
    disputes: list[dict[str, Any]]
    promises: list[dict[str, Any]]

    def __post_init__(self) -> None:
        self.ordered = sorted(self.items, key=_listing_order)
        self.latest_promises = latest_promises(self.promises)
        self.disputed_since: dict[str, dt.date] = {}
        for dispute in self.disputes:
            opened = self.disputed_since.get(dispute["document_id"])
            self.disputed_since[dispute["document_id"]] = (
                min(opened, dispute["opened_date"]) if opened else dispute["opened_date"]
            )
        self.views = {id(item): _item_view(item, self.disputed_since) for item in self.items}
        self.totals = totals(self.items)

    def listed(self, focus: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(listed, the rest): the focus first, then the listing order, at most MAX_LISTED_ITEMS."""
        ordered = [i for i in self.ordered if i["invoice_id"] == focus] + [
            i for i in self.ordered if i["invoice_id"] != focus
        ]
        return ordered[:MAX_LISTED_ITEMS], ordered[MAX_LISTED_ITEMS:]

    def item_views(self, listed: list[dict[str, Any]], focus: str) -> list[dict[str, Any]]:
        """The listed items as printed, the focus marked."""
        return [{**self.views[id(item)], "is_focus": item["invoice_id"] == focus} for item in listed]


def totals(items: Iterable[Mapping[str, Any]]) -> list[str]:
    """Open amount per currency, currencies in alphabetical order (amounts of two currencies never add)."""
    sums: dict[str, decimal.Decimal] = defaultdict(decimal.Decimal)
    for item in items:
        sums[item["currency"]] += item["open_amount"]
    return [money(amount, currency) for currency, amount in sorted(sums.items())]


def _promise_view(promise: Mapping[str, Any], currency: str | None, as_of: dt.date) -> dict[str, Any]:
    promised, paid = promise["promised_amount"], promise["paid_toward_promise"] or decimal.Decimal("0")
    return {
        "invoice_id": promise["document_id"],
        "outcome": promise["outcome"],
        "date_passed": _as_date(promise["promised_date"]) < as_of,
        "created": day(promise["created_date"]),
        "promised_date": day(promise["promised_date"]),
        "promised_amount": money(promised, currency),
        "paid": money(paid, currency),
        "shortfall": money(max(promised - paid, decimal.Decimal("0")), currency),
    }


def latest_promises(promises: list[dict[str, Any]]) -> dict[str | None, dict[str, Any]]:
    """A customer's latest promise per document (None: promises that name no document), by
    creation date, then promise id."""
    latest: dict[str | None, dict[str, Any]] = {}
    for promise in promises:
        document = promise["document_id"]
        current = latest.get(document)
        if current is None or (promise["created_date"], promise["promise_id"]) > (
            current["created_date"],
            current["promise_id"],
        ):
            latest[document] = promise
    return latest


def promise_notes(
    latest: Mapping[str | None, dict[str, Any]],
    listed: list[dict[str, Any]],
    customer_currency: str | None,
    as_of: dt.date,
) -> list[dict[str, Any]]:
    """The latest promise (``latest_promises``) on each listed item, and the customer's latest
    promise without a document, when pending, broken or partly kept (a kept or cancelled promise
    is not news)."""
    currency_of = {item["invoice_id"]: item["currency"] for item in listed}
    order = [item["invoice_id"] for item in listed] + [None]
    return [
        _promise_view(latest[doc], currency_of.get(doc, customer_currency) if doc else customer_currency, as_of)
        for doc in order
        if doc in latest and latest[doc]["outcome"] in PROMISE_OUTCOMES_MENTIONED
    ]


def dispute_notes(disputes: list[dict[str, Any]], listed: list[dict[str, Any]], focus: str) -> list[dict[str, Any]]:
    """Open disputes on the listed items, the focus invoice's first, oldest first."""
    listed_ids = {item["invoice_id"] for item in listed}
    chosen = sorted(
        (d for d in disputes if d["document_id"] in listed_ids),
        key=lambda d: (d["document_id"] != focus, d["opened_date"], d["dispute_id"]),
    )
    return [
        {
            "invoice_id": d["document_id"],
            "opened": day(d["opened_date"]),
            "days_open": int(d["days_open"]),
            "reason": (d["reason"] or "").replace("_", " ") or None,
            "amount": money(d["disputed_amount"], d["currency"]) if d["disputed_amount"] is not None else "the amount",
            "is_focus": d["document_id"] == focus,
        }
        for d in chosen
    ]


def build_drafts(inputs: DraftInputs, as_of: dt.date, company: str, stage_count: int) -> pd.DataFrame:
    """One draft per queue row that is not held (status ``held``: waiting for a promise), in queue order."""
    env = environment()
    templates = {name: env.get_template(f"{name}.j2") for name in ("email", "call_script", "subject")}
    customers = {row["customer_id"]: row for row in _records(inputs.customers)}
    items = _by(_records(inputs.items), "customer_id")
    stages = {row["invoice_id"]: row for row in _records(inputs.stages) if row.get("invoice_id") is not None}
    bands = {row["customer_id"]: row["band"] for row in _records(inputs.bands)}
    invoice_bands = {row["invoice_id"]: row["band"] for row in _records(inputs.invoice_bands)}
    promises = _by(_records(inputs.promises), "customer_id")
    disputes = _by(_records(inputs.disputes), "customer_id")
    accounts: dict[Any, _Account] = {}
    rows = []
    for row in _records(inputs.queue):
        if row["status"] == "held":
            continue
        customer_id = row["customer_id"]
        if customer_id not in accounts:
            accounts[customer_id] = _Account(
                items.get(customer_id, []), disputes.get(customer_id, []), promises.get(customer_id, [])
            )
        rows.append(
            _draft(
                row,
                customers.get(row["customer_id"], {}),
                accounts[customer_id],
                stages,
                bands.get(row["customer_id"]) or invoice_bands.get(row["invoice_id"]),
                templates,
                as_of=as_of,
                company=company,
                stage_count=stage_count,
            )
        )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _draft(
    row: dict[str, Any],
    customer: Mapping[str, Any],
    account: _Account,
    stages: Mapping[str, Mapping[str, Any]],
    risk_band: str | None,
    templates: Mapping[str, jinja2.Template],
    *,
    as_of: dt.date,
    company: str,
    stage_count: int,
) -> dict[str, Any]:
    focus = row["invoice_id"]
    if not any(item["invoice_id"] == focus for item in account.items):
        raise ValueError(f"queue row {focus}: the invoice is not among its customer's open items")
    listed, rest = account.listed(focus)
    disputed_since = account.disputed_since
    views = account.item_views(listed, focus)
    if rest:
        views.append(_summary_view(rest))
    stage = stages.get(focus, {})
    stage_level = int(stage.get("stage_level") or 0)
    tone = tone_for(stage_level, stage_count, risk_band, focus in disputed_since or row["queue"] == "disputes")
    channel = CHANNELS.get(row["action"], DEFAULT_CHANNEL)
    promise_views = promise_notes(account.latest_promises, listed, customer.get("currency"), as_of)
    dispute_views = dispute_notes(account.disputes, listed, focus)
    recipient_name, recipient_email = customer.get("billing_contact_name"), customer.get("billing_contact_email")
    context = {
        "tone": tone,
        "company": company,
        "customer_name": customer.get("name") or row["customer_id"],
        "customer_id": row["customer_id"],
        "recipient_name": recipient_name,
        "sender_name": row["queue_owner"] if row["queue_owner"] not in (None, "unassigned") else "The collections team",
        "stage": stage.get("stage") or "current",
        "risk_band": risk_band,
        "focus": views[0],
        "items": views,
        "totals": account.totals,
        "promises": promise_views,
        "disputes": dispute_views,
    }
    focus_item = listed[0]
    return {
        "as_of_date": as_of,
        "draft_id": f"{as_of.isoformat()}/{focus}",
        "queue_owner": row["queue_owner"],
        "queue": row["queue"],
        "queue_status": row["status"],
        "rank": row["rank"],
        "action": row["action"],
        "channel": channel,
        "tone": tone,
        "template": f"{channel}.j2",
        "invoice_id": focus,
        "customer_id": row["customer_id"],
        "customer_name": context["customer_name"],
        "stage": context["stage"],
        "stage_level": stage_level,
        "risk_band": risk_band,
        "currency": focus_item["currency"],
        "open_amount": focus_item["open_amount"],
        "open_item_count": len(account.items),
        "has_promise_context": bool(promise_views),
        "has_dispute_context": bool(dispute_views),
        "recipient_name": recipient_name,
        "recipient_email": recipient_email,
        "subject": " ".join(templates["subject"].render(context).split()),
        "body": paragraphs(templates[channel].render(context)),
        "blocked_reason": "no billing contact e-mail in the CRM"
        if channel == "email" and not recipient_email
        else None,
    }
