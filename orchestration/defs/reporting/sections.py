"""What the review pack says, read from one publication (``serving.duckdb``, read-only).

A pack is for one as-of date. For the publication's own date every section is that day's. For
an earlier date the sections whose history is published are rebuilt for that day (the aging
snapshot of that day from ``marts.fct_ar_aging_daily``, the KPI months that had ended by then,
the forecast made that day from ``forecast.cash_forecast_history``); the rest (customers'
payment behaviour, the collector queue, exceptions) exist only as of the publication, and the
pack says so on each of them. A date after the publication has nothing published: refused.

Every query names its tables and columns itself (no identifier comes from input) and takes the
date as a parameter. A table that is not published (``marts.collector_queue`` before the risk
models land, the forecast in a home without one) leaves its section out with a sentence saying so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from models.forecast_render import fan_chart_png
from models.worklist import OVERFLOW
from orchestration.defs.reporting.charts import aging_stack_png, kpi_trend_png
from orchestration.workbooks import Chart, Column, Kind, column_kind, header_label

#: Rows of a long table shown on the page (the workbook has all of them).
PAGE_ROWS = 25
#: Months of KPI trend and month-end aging snapshots shown.
TREND_MONTHS = 13
#: Weeks of past receipts beside the forecast fan.
PAST_WEEKS = 13
#: Collector-queue columns shown when the table has them, in this order.
#: The pack leaves out queue rows past a collector's daily capacity (``OVERFLOW``): they stay in
#: the published queue and its exports; the pack is read, not worked from (at 1M invoices they
#: are 70,632 of 75,517 rows, and most of the time spent writing its workbook).
QUEUE_COLUMNS = (
    "queue_owner",
    "queue",
    "rank",
    "priority",
    "action",
    "reason",
    "invoice_id",
    "customer_id",
    "customer_name",
    "days_past_due",
    "currency",
    "open_amount",
    "open_amount_reporting",
    "value_at_risk_reporting",
    "p_severe",
    "status",
)


class ReportError(ValueError):
    """The pack cannot be built as asked (no publication, a date it does not cover)."""


@dataclass(frozen=True)
class Table:
    """Rows with typed columns: what a sheet and a page table are made of."""

    columns: list[Column]
    rows: list[tuple]

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=[c.name for c in self.columns])

    def head(self, n: int) -> Table:
        return Table(self.columns, self.rows[:n])


@dataclass(frozen=True)
class Part:
    """One table of a section, its own sheet in the workbook (``sheet`` names it)."""

    title: str
    sheet: str
    table: Table
    chart: Chart | None = None


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    scope: str
    parts: list[Part] = field(default_factory=list)
    image: bytes | None = None
    image_alt: str = ""
    missing: str | None = None


@dataclass(frozen=True)
class Headline:
    """A number on top of the page and the workbook's summary, with its unit."""

    label: str
    value: float | None
    unit: str

    @property
    def kind(self) -> Kind:
        """The workbook format of the value: an amount in a currency (a three-letter code), a count
        of invoices, else a figure to one decimal (days, percent), as :attr:`text` shows it."""
        if len(self.unit) == 3:
            return "money"
        return "integer" if self.unit == "invoices" else "one_decimal"

    @property
    def text(self) -> str:
        if self.value is None:
            return "–"
        if self.kind in ("integer", "money"):
            return f"{self.value:,.0f} {self.unit}"
        return f"{self.value:,.1f}{'' if self.unit.startswith('%') else ' '}{self.unit}"


@dataclass(frozen=True)
class Publication:
    as_of: dt.date
    published_at: dt.datetime
    run_id: str


@dataclass(frozen=True)
class ReviewPack:
    company: str
    currency: str
    as_of: dt.date
    publication: Publication
    headline: list[Headline]
    sections: list[Section]

    @property
    def is_publication_date(self) -> bool:
        return self.as_of == self.publication.as_of

    def images(self) -> dict[str, bytes]:
        """The section plots by section key."""
        return {s.key: s.image for s in self.sections if s.image}


def query(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] = (), currency: str = "") -> Table:
    """A query's rows with its columns typed for sheets and pages ("(reporting)" headers name the currency)."""
    result = con.execute(sql, list(params))
    columns = []
    for name, type_code, *_ in result.description:
        label = header_label(name)
        if currency:
            label = label.replace("(reporting)", f"({currency})")
        columns.append(Column(name, column_kind(name, str(type_code)), label=label))
    return Table(columns, result.fetchall())


def _exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, table]
        ).fetchone()[0]
    )


def _columns_of(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str]:
    rows = con.execute(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
        "order by ordinal_position",
        [schema, table],
    ).fetchall()
    return [name for (name,) in rows]


def read_publication(con: duckdb.DuckDBPyConnection) -> Publication:
    if not _exists(con, "meta", "publication"):
        raise ReportError("the serving file has no meta.publication: nothing has been published here")
    as_of, published_at, run_id = con.execute(
        "select as_of_date, published_at, run_id from meta.publication order by published_at desc limit 1"
    ).fetchone()
    return Publication(as_of, published_at, run_id)


def resolve_as_of(publication: Publication, requested: dt.date | None) -> dt.date:
    """The pack's date: the publication's by default; an earlier date is rebuilt where history
    allows; a later one is refused (nothing about it has been published)."""
    if requested is None:
        return publication.as_of
    if requested > publication.as_of:
        raise ReportError(
            f"nothing is published for {requested}: the publication is as of {publication.as_of} "
            f"(run {publication.run_id}); run the pipeline as of {requested} first"
        )
    return requested


def _scope(pack_as_of: dt.date, publication: Publication, rebuilt: bool) -> str:
    if rebuilt:
        return f"as of {pack_as_of}"
    if pack_as_of == publication.as_of:
        return f"as of {pack_as_of}"
    return (
        f"as of the publication ({publication.as_of}), not {pack_as_of}: this table has no published "
        "history, so it shows the publication's state"
    )


#: The aging on the publication's own day, from the invoice fact: reporting amounts rounded per
#: invoice, so the totals tie to the cent with the KPIs and ``fct_ar_invoices``.
_AGING_AS_PUBLISHED = """
    select customer_id, currency, aging_bucket, aging_bucket_order as bucket_order, open_amount,
           open_amount_reporting, 1 as invoice_count
    from marts.fct_ar_invoices where aging_bucket <> 'closed' and open_amount > 0
"""
#: An earlier day, from the daily history: rounded per customer, currency and bucket there (it
#: holds no invoices), so its reporting totals can be a few cents from a sum over invoices.
_AGING_ON_A_DAY = """
    select customer_id, currency, aging_bucket, bucket_order, open_amount, open_amount_reporting, invoice_count
    from marts.fct_ar_aging_daily where snapshot_date = ?
"""


def _aging(con: duckdb.DuckDBPyConnection, as_of: dt.date, pub: Publication, currency: str) -> Section:
    scope = _scope(as_of, pub, rebuilt=True)
    day, params = (_AGING_AS_PUBLISHED, []) if as_of == pub.as_of else (_AGING_ON_A_DAY, [as_of])
    by_bucket = query(
        con,
        f"""
        select aging_bucket, sum(open_amount_reporting) as open_amount_reporting,
               sum(invoice_count) as open_invoice_count,
               sum(open_amount_reporting) / nullif(sum(sum(open_amount_reporting)) over (), 0) as share_of_open_ar
        from ({day}) group by aging_bucket, bucket_order order by bucket_order
        """,  # noqa: S608 (one of two constant queries)
        params,
        currency,
    )
    if not by_bucket.rows:
        first_last = con.execute(
            "select min(snapshot_date), max(snapshot_date) from marts.fct_ar_aging_daily"
        ).fetchone()
        return Section(
            "aging",
            "Portfolio and aging",
            scope,
            missing=f"no aging snapshot for {as_of}; the published daily history covers "
            f"{first_last[0]} to {first_last[1]}",
        )
    by_currency = query(
        con,
        f"""
        select currency, sum(open_amount) as open_amount, sum(open_amount_reporting) as open_amount_reporting,
               sum(invoice_count) as open_invoice_count
        from ({day}) group by currency order by open_amount_reporting desc, currency
        """,  # noqa: S608 (one of two constant queries)
        params,
        currency,
    )
    # The pack's own day comes from the rows of the Aging sheet, so the two show the same cents.
    history = con.execute(
        f"""
        with dates as (
            select distinct snapshot_date from marts.fct_ar_aging_daily
            where snapshot_date <= ? and (snapshot_date = ? or snapshot_date = last_day(snapshot_date))
            order by snapshot_date desc limit ?
        )
        select snapshot_date, aging_bucket, bucket_order, sum(open_amount_reporting) as open_amount_reporting
        from marts.fct_ar_aging_daily join dates using (snapshot_date)
        where snapshot_date < ?
        group by all
        union all
        select cast(? as date), aging_bucket, bucket_order, sum(open_amount_reporting)
        from ({day}) group by all
        order by snapshot_date, bucket_order
        """,  # noqa: S608 (one of two constant queries)
        [as_of, as_of, TREND_MONTHS, as_of, as_of, *params],
    ).df()
    wide = _aging_wide(history, currency)
    return Section(
        "aging",
        "Portfolio and aging",
        scope,
        parts=[
            Part("Open AR by aging bucket", "Aging", by_bucket),
            Part("Open AR by currency", "Currencies", by_currency),
            Part(
                "Open AR by bucket at each month end",
                "Aging history",
                wide,
                Chart(
                    "stacked_column",
                    f"Open AR by aging bucket ({currency})",
                    "snapshot_date",
                    tuple(c.name for c in wide.columns[1:]),
                    y_axis=currency,
                ),
            ),
        ],
        image=aging_stack_png(history, currency, f"Open AR by days past due, month ends to {as_of}"),
        image_alt="aging stack by bucket",
    )


def _aging_wide(history: pd.DataFrame, currency: str) -> Table:
    """Month-end snapshots as rows, buckets as columns (the workbook's stacked chart reads them)."""
    if history.empty:
        return Table([Column("snapshot_date", "date")], [])
    buckets = history.drop_duplicates("aging_bucket").sort_values("bucket_order")["aging_bucket"].tolist()
    wide = (
        history.pivot_table(
            index="snapshot_date", columns="aging_bucket", values="open_amount_reporting", aggfunc="sum"
        )
        .reindex(columns=buckets)
        .fillna(0)
    )
    columns = [Column("snapshot_date", "date")] + [Column(b, "money", label=f"{b} ({currency})") for b in buckets]
    rows = [
        (pd.Timestamp(day).date(), *[float(v) for v in values])
        for day, values in zip(wide.index, wide.to_numpy(), strict=True)
    ]
    return Table(columns, rows)


def _kpis(con: duckdb.DuckDBPyConnection, as_of: dt.date, pub: Publication, currency: str) -> Section:
    trend = query(
        con,
        """
        select * from (
            select month_end, period_end_date, is_complete_month, ar_reporting, past_due_ar_reporting,
                   dso_countback_days,
                   dso_simple_days, bpdso_days, add_days, cei_pct, cei_trailing_pct, pct_current,
                   avg_days_to_pay, at_risk_rate_pct
            from marts.ar_kpis_monthly
            where dimension_type = 'total' and period_end_date <= ?
            order by month_end desc limit ?
        ) order by month_end
        """,
        [as_of, TREND_MONTHS],
        currency,
    )
    scope = (
        _scope(as_of, pub, rebuilt=True)
        + "; a month counts once it has ended by then (the as-of month so far is marked; CEI waits for it to end)"
    )
    if not trend.rows:
        return Section("kpis", "KPI trends: DSO and CEI", scope, missing=f"no KPI month ends on or before {as_of}")
    return Section(
        "kpis",
        "KPI trends: DSO and CEI",
        scope,
        parts=[
            Part(
                "Monthly KPIs (total)",
                "KPI trends",
                trend,
                Chart(
                    "line",
                    "DSO and best possible DSO (days)",
                    "month_end",
                    ("dso_countback_days", "bpdso_days"),
                    y_axis="days",
                ),
            )
        ],
        image=kpi_trend_png(trend.frame(), f"DSO and CEI by month, to {as_of}"),
        image_alt="DSO and CEI trend",
    )


def _queue(con: duckdb.DuckDBPyConnection, as_of: dt.date, pub: Publication, currency: str) -> Section:
    title = "Collector queue"
    if not _exists(con, "marts", "collector_queue"):
        return Section("queue", title, "", missing="marts.collector_queue is not published in this home yet")
    present = _columns_of(con, "marts", "collector_queue")
    named = "customer_id" in present and _exists(con, "marts", "dim_customers")
    select = [f"q.{c}" for c in QUEUE_COLUMNS if c in present and c != "customer_name"]
    if named:
        select.insert(select.index("q.customer_id") + 1, "c.name as customer_name")
    order = [f"q.{c}" for c in ("rank", "priority", "queue_owner") if c in present] or ["all"]
    source = "marts.collector_queue as q" + (
        " left join marts.dim_customers as c on c.customer_id = q.customer_id" if named else ""
    )
    today = f"q.status is distinct from '{OVERFLOW}'" if "status" in present else "true"
    columns = ", ".join(select) or "*"
    table = query(con, f"select {columns} from {source} where {today} order by {', '.join(order)}", (), currency)  # noqa: S608 (columns and relation from constants of this module)
    left_out = con.execute(f"select count(*) from marts.collector_queue as q where not ({today})").fetchone()[0]  # noqa: S608 (a constant of this module)
    scope = _scope(as_of, pub, rebuilt=False) + "; each collector's first items first"
    if left_out:
        scope += (
            f"; {left_out:,} rows past each collector's daily capacity ({OVERFLOW}) are not shown: "
            "exports/marts/collector_queue.csv holds the whole queue"
        )
    return Section("queue", title, scope, parts=[Part("Top of each collector's queue", "Collector queue", table)])


def _behaviour(con: duckdb.DuckDBPyConnection, as_of: dt.date, pub: Publication, currency: str) -> Section:
    customers = query(
        con,
        """
        select customer_id, customer_name, segment, collector, open_amount_reporting, open_invoice_count,
               paid_invoice_count, days_to_pay_median, days_to_pay_p90, on_time_rate,
               days_beyond_terms_trend, dispute_rate, broken_promise_rate
        from marts.payment_behavior
        order by open_amount_reporting desc nulls last, customer_id
        """,
        (),
        currency,
    )
    segments = query(
        con,
        """
        select dimension_value as segment, month_end, ar_reporting, past_due_ar_reporting, pct_current,
               dso_countback_days, cei_pct, avg_days_to_pay, avg_days_beyond_terms, paid_invoice_count
        from marts.ar_kpis_monthly
        where dimension_type = 'segment' and month_end = (
            -- the latest complete month: on the 1st, a one-day month would show CEI 0 and nothing paid
            select month_end from marts.ar_kpis_monthly where dimension_type = 'segment' and period_end_date <= ?
            order by is_complete_month desc, month_end desc limit 1
        )
        order by ar_reporting desc, segment
        """,
        [as_of],
        currency,
    )
    scope = f"segments {_scope(as_of, pub, rebuilt=True)} (their latest complete KPI month); customers " + _scope(
        as_of, pub, rebuilt=False
    )
    return Section(
        "behaviour",
        "Payment behaviour by segment and customer",
        scope,
        parts=[
            Part("By segment", "Segments", segments),
            Part("By customer, largest open balance first", "Customers", customers),
        ],
    )


def _exceptions(con: duckdb.DuckDBPyConnection, as_of: dt.date, pub: Publication, currency: str) -> Section:
    table = query(
        con,
        """
        select owner, source, source_table, rule, count(*) as exceptions, count(distinct file) as files,
               min(detected_at) as first_detected_at, max(detected_at) as last_detected_at,
               min(detail) as example_detail
        from quality.exceptions
        group by owner, source, source_table, rule
        order by owner, exceptions desc, rule, source_table
        """,
    )
    return Section(
        "exceptions",
        "Data exceptions by owner",
        _scope(as_of, pub, rebuilt=False)
        + "; what each owner has to fix in their source (files in exports/exceptions/)",
        parts=[Part("Open exceptions by owner and rule", "Exceptions", table)] if table.rows else [],
        missing=None if table.rows else "no exceptions: every landed row passed its rules",
    )


def _forecast(con: duckdb.DuckDBPyConnection, as_of: dt.date, pub: Publication, currency: str) -> Section:
    title = "Cash forecast (13 weeks)"
    rebuilt = as_of != pub.as_of
    if not rebuilt and _exists(con, "forecast", "cash_forecast_weekly"):
        sql = """
            select week_index, week_start, week_end, p10_reporting as p10, p50_reporting as p50,
                   p90_reporting as p90, expected_reporting as expected, model
            from forecast.cash_forecast_weekly where series = 'total' order by week_index
        """
    elif _exists(con, "forecast", "cash_forecast_history"):
        sql = """
            select week_index, week_start, week_end, p10_reporting as p10, p50_reporting as p50,
                   p90_reporting as p90, expected_reporting as expected, method as model
            from forecast.cash_forecast_history
            where as_of_date = ? and is_published and scenario = 'base' and series = 'total'
            order by week_index
        """
    else:
        return Section("forecast", title, "", missing="no cash forecast is published in this home")
    table = query(con, sql, [as_of] if "?" in sql else [], currency)
    scope = _scope(as_of, pub, rebuilt=True) + (
        " (the forecast made that day, as kept in its history)" if rebuilt else ""
    )
    if not table.rows:
        made = (
            con.execute(
                "select distinct as_of_date from forecast.cash_forecast_history order by 1 desc limit 8"
            ).fetchall()
            if _exists(con, "forecast", "cash_forecast_history")
            else []
        )
        dates = ", ".join(str(d) for (d,) in made) or "none"
        return Section(
            "forecast", title, scope, missing=f"no forecast was made as of {as_of} (forecasts kept: {dates})"
        )
    frame = table.frame().assign(series="total", currency=currency, as_of_date=pd.Timestamp(as_of))
    actuals = _receipts(con, as_of, pub.as_of)
    model = str(table.rows[0][-1])
    note = (
        ""
        if model == "forecast"
        else f" The forecast did not beat the {model} baseline on its backtest; the baseline is shown."
    )
    return Section(
        "forecast",
        title,
        scope + "." + note,
        parts=[
            Part(
                f"Weekly cash receipts, all currencies in {currency}",
                "Cash forecast",
                table,
                Chart(
                    "line",
                    f"Weekly receipts forecast ({currency})",
                    "week_start",
                    ("p10", "p50", "p90"),
                    y_axis=currency,
                ),
            )
        ],
        image=fan_chart_png(frame, actuals, actual_label="cash received (all payments, payment-date rates)"),
        image_alt="cash forecast fan chart",
    )


def _receipts(con: duckdb.DuckDBPyConnection, as_of: dt.date, published: dt.date) -> pd.DataFrame:
    """Cash received per week (all payments in the reporting currency at their payment dates'
    rates): the ``PAST_WEEKS`` weeks up to the as-of date and, for a past date, the whole weeks
    after it that the publication knows, so the fan shows what came in against the forecast."""
    weeks_after = min((published - as_of).days // 7, PAST_WEEKS)
    end = as_of + dt.timedelta(days=7 * weeks_after)
    return con.execute(
        """
        select cast($end as date) - 7 * back - 6 as week_start, cast(sum(amount_reporting) as double) as actual
        from (
            select cast(floor(datediff('day', payment_date, cast($end as date)) / 7) as integer) as back,
                   amount_reporting
            from marts.fct_payments
            where payment_date > cast($end as date) - 7 * $weeks and payment_date <= cast($end as date)
        )
        group by back order by week_start
        """,
        {"end": end, "weeks": PAST_WEEKS + weeks_after},
    ).df()


def _headline(pack_sections: list[Section], currency: str) -> list[Headline]:
    """The numbers on top of the page: open AR, past due share, DSO, CEI, the forecast's p50 sum."""
    found = {s.key: s for s in pack_sections}
    out: list[Headline] = []
    aging = found.get("aging")
    if aging and aging.parts:
        frame = aging.parts[0].table.frame()
        # Decimal sums, rounded to the cent once: a float sum shows 2796783.649999999.
        total = round(float(sum(frame["open_amount_reporting"])), 2)
        current = round(float(sum(frame.loc[frame["aging_bucket"] == "current", "open_amount_reporting"])), 2)
        out += [
            Headline("Open AR", total, currency),
            Headline("Open invoices", float(frame["open_invoice_count"].sum()), "invoices"),
            Headline("Past due", (1 - current / total) * 100 if total else None, "% of open AR"),
        ]
    kpis = found.get("kpis")
    if kpis and kpis.parts:
        months = kpis.parts[0].table.frame()
        last = months.iloc[-1]
        # DSO is a balance on a day; CEI a month's collections, so it waits for a complete month.
        complete = months[months["is_complete_month"].astype(bool)]
        cei = complete.iloc[-1] if len(complete) else last
        out += [
            Headline(
                f"DSO countback (as of {_day(last['period_end_date'])})", _number(last["dso_countback_days"]), "days"
            ),
            Headline(
                f"CEI, trailing 3 months (to {_day(cei['period_end_date'])})", _number(cei["cei_trailing_pct"]), "%"
            ),
        ]
    forecast = found.get("forecast")
    if forecast and forecast.parts:
        weekly = forecast.parts[0].table.frame()
        out.append(
            Headline(
                f"Receipts next {len(weekly)} weeks (sum of weekly p50)",
                float(weekly["p50"].astype(float).sum()),
                currency,
            )
        )
    return out


def _day(value: object) -> dt.date:
    return pd.Timestamp(value).date()


def _number(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


SECTIONS = (_aging, _kpis, _queue, _behaviour, _exceptions, _forecast)


def read_pack(con: duckdb.DuckDBPyConnection, company: str, currency: str, as_of: dt.date | None = None) -> ReviewPack:
    """Every section of the pack for ``as_of`` (default: the publication's date) from a read-only
    serving connection."""
    publication = read_publication(con)
    day = resolve_as_of(publication, as_of)
    sections = [build(con, day, publication, currency) for build in SECTIONS]
    return ReviewPack(company, currency, day, publication, _headline(sections, currency), sections)
