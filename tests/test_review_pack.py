"""The review pack finance opens, and every file Inflow writes for people kept formula-free.

Most tests read one published company (``published_home`` in conftest: a generated company whose
largest customer is named ``=HYPERLINK(...)``). They check the pack's numbers against the
published tables, the page and workbook formats, a pack for an earlier date (rebuilt sections,
the forecast from its history, refused later dates, the serving file untouched), the plots in
the Dagster asset's metadata, the KPI plot's month so far, and that no CSV, XLSX or HTML table
cell under the home can run as a formula.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import html.parser
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import matplotlib.dates
import matplotlib.pyplot as plt
import pandas as pd
import pytest
from openpyxl import load_workbook

from orchestration.defs.keys import REVIEW_PACK_KEY
from orchestration.defs.quality.store import write_owner_reports
from orchestration.defs.reporting.charts import kpi_trend_figure, month_starts, split_months
from orchestration.defs.reporting.render import format_cell
from orchestration.defs.reporting.sections import (
    Headline,
    Part,
    Publication,
    ReportError,
    Section,
    Table,
    _headline,
    resolve_as_of,
)
from orchestration.spreadsheet_safety import TEXT_PREFIX, needs_prefix
from orchestration.workbooks import Column, Sheet, write_workbook
from tests.published_home import EVIL_CUSTOMER_NAME, PUBLISHED_AS_OF, PublishedHome

AS_OF = dt.date.fromisoformat(PUBLISHED_AS_OF)


def inflow(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "orchestration.cli", *args], capture_output=True, text=True)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one(db: Path, sql: str, params: list | None = None) -> object:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchone()[0]
    finally:
        con.close()


class _Cells(html.parser.HTMLParser):
    """Text of every table cell of a page, and every src/href it points at."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self.links: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.links += [v or "" for k, v in attrs if k in ("src", "href")]
        if tag in ("td", "th"):
            self._cell = []

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.cells.append("".join(self._cell))
            self._cell = None


def _page(path: Path) -> _Cells:
    parser = _Cells()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


# --- units -------------------------------------------------------------------------------------


def test_page_cells_format_by_kind_and_neutralise_text() -> None:
    assert format_cell(-1234.5, Column("x", "money")).text == "-1,234.50"
    assert format_cell(-1234.5, Column("x", "money")).css == "num neg"
    assert format_cell(0.2834, Column("x", "percent")).text == "28.3%"
    assert format_cell(53.84, Column("x", "one_decimal")).text == "53.8"
    assert format_cell(None, Column("x", "money")).text == "–"
    assert format_cell(dt.date(2026, 1, 2), Column("x", "date")).text == "2026-01-02"
    assert format_cell(EVIL_CUSTOMER_NAME, Column("x", "text")).text == "'" + EVIL_CUSTOMER_NAME
    assert format_cell("-12.50", Column("x", "text")).text == "-12.50"


def test_summary_figures_are_formatted_as_what_they_measure(tmp_path: Path) -> None:
    """An amount as money, a count without decimals, days and percentages to one decimal (as the
    page prints them); rows after the headline keep the column's format."""
    headline = [
        Headline("Open AR", 1234.5, "USD"),
        Headline("Open invoices", 163.0, "invoices"),
        Headline("Past due", 38.74591890765424, "% of open AR"),
        Headline("DSO countback", 41.04, "days"),
    ]
    assert [h.kind for h in headline] == ["money", "integer", "one_decimal", "one_decimal"]
    assert [h.text for h in headline] == ["1,234 USD", "163 invoices", "38.7% of open AR", "41.0 days"]
    rows = [(h.label, h.value, h.unit) for h in headline] + [("Extra", 2.5, "")]
    columns = [Column("measure", "text"), Column("value", "money"), Column("unit", "text")]
    path = write_workbook(tmp_path / "s.xlsx", [Sheet("Summary", columns, rows, row_kinds=[h.kind for h in headline])])
    sheet = load_workbook(path)["Summary"]
    formats = [sheet.cell(row=r, column=2).number_format for r in range(2, 7)]
    assert formats == ["#,##0.00;[Red]-#,##0.00", "#,##0", "#,##0.0", "#,##0.0", "#,##0.00;[Red]-#,##0.00"]
    assert sheet.cell(row=3, column=1).number_format == "General", "a text column keeps its format"


def test_a_later_date_than_the_publication_is_refused() -> None:
    publication = Publication(AS_OF, dt.datetime(2026, 11, 28, 6, 0), "run-1")
    assert resolve_as_of(publication, None) == AS_OF
    assert resolve_as_of(publication, AS_OF - dt.timedelta(days=1)) == AS_OF - dt.timedelta(days=1)
    with pytest.raises(ReportError, match="nothing is published for 2026-11-28"):
        resolve_as_of(publication, AS_OF + dt.timedelta(days=1))


def test_owner_exception_files_neutralise_every_text_cell(tmp_path: Path) -> None:
    con = duckdb.connect()
    con.execute(
        "create schema quality; create table quality.exceptions (source varchar, source_table varchar, "
        "entity varchar, file varchar, checksum varchar, row_number bigint, rule varchar, column_name varchar, "
        "detail varchar, owner varchar, payload varchar, detected_at timestamp)"
    )
    con.execute(
        "insert into quality.exceptions values ('erp', 'erp__customers', 'customers', '=cmd|calc.csv', 'abc', 2, "
        "'unknown_customer', 'name', ?, '@ops', '-2+3', timestamp '2026-11-27 06:00:00')",
        [EVIL_CUSTOMER_NAME],
    )
    counts = write_owner_reports(con, tmp_path / "exceptions")
    assert counts == {"@ops": 1}
    (path,) = (tmp_path / "exceptions").iterdir()
    text = path.read_text(encoding="utf-8")
    assert "'" + EVIL_CUSTOMER_NAME.replace('"', '""') in text
    assert ",'=cmd|calc.csv," in text and ",'-2+3," in text and ",2," in text  # the row number stays a number


# --- the pack of a published company -----------------------------------------------------------


@pytest.fixture(scope="module")
def pack_folder(published_home: PublishedHome) -> Path:
    return published_home.home / "reports" / PUBLISHED_AS_OF


@pytest.mark.pipeline
def test_the_run_builds_the_pack_with_the_published_numbers(published_home: PublishedHome, pack_folder: Path) -> None:
    page = pack_folder / f"ar_review_{PUBLISHED_AS_OF}.html"
    assert page.is_file() and (pack_folder / f"ar_review_{PUBLISHED_AS_OF}.xlsx").is_file()
    assert {"aging.png", "kpis.png", "forecast.png"} <= {p.name for p in pack_folder.iterdir()}
    serving = published_home.home / "serving.duckdb"
    open_ar = float(_one(serving, "select sum(open_amount_reporting) from marts.fct_ar_invoices"))
    kpi_ar = _one(
        serving,
        "select ar_reporting from marts.ar_kpis_monthly where dimension_type = 'total' and period_end_date = ?",
        [AS_OF],
    )
    assert open_ar == float(kpi_ar), "the invoice fact and the KPIs agree to the cent"
    book = load_workbook(pack_folder / f"ar_review_{PUBLISHED_AS_OF}.xlsx")
    summary = {row[0]: row[1] for row in book["Summary"].iter_rows(min_row=5, values_only=True)}
    assert summary["Open AR"] == open_ar, "the pack's headline is the published open AR, to the cent"
    formats = {row[0].value: row[1].number_format for row in book["Summary"].iter_rows(min_row=5)}
    assert (formats["Open AR"], formats["As of"], formats["Published at"], formats["Run"]) == (
        "#,##0.00;[Red]-#,##0.00",
        "yyyy-mm-dd",
        "yyyy-mm-dd hh:mm:ss",
        "General",
    ), "each row of the summary's value column has its own format, the run's id none"
    buckets = {row[0]: row[1] for row in book["Aging"].iter_rows(min_row=5, values_only=True) if row[0]}
    history = list(book["Aging history"].iter_rows(min_row=4, values_only=True))
    header, last = history[0], history[-1]
    assert last[0].date() == AS_OF and sum(buckets.values()) == pytest.approx(open_ar, abs=1e-6)
    on_the_day = {label.removesuffix(" (USD)"): value for label, value in zip(header[1:], last[1:], strict=True)}
    assert {b: v for b, v in on_the_day.items() if v} == buckets, (
        "the history's own day is the Aging sheet's, cent for cent"
    )
    p50 = float(_one(serving, "select sum(p50_reporting) from forecast.cash_forecast_weekly where series = 'total'"))
    assert summary["Receipts next 13 weeks (sum of weekly p50)"] == pytest.approx(p50, abs=0.01)
    text = page.read_text(encoding="utf-8")
    assert f"{open_ar:,.0f} USD" in text
    parsed = _page(page)
    # Self-contained: every image is inline, nothing is fetched from anywhere.
    assert parsed.links and all(link.startswith(("data:image/png;base64,", "#")) for link in parsed.links)
    assert sum(link.startswith("data:image/png") for link in parsed.links) == 3
    assert 'data-sheet="Collector queue"' in text  # the run publishes the risk models' queue


@pytest.mark.pipeline
def test_workbook_sheets_are_formatted_sorted_and_charted(pack_folder: Path, published_home: PublishedHome) -> None:
    book = load_workbook(pack_folder / f"ar_review_{PUBLISHED_AS_OF}.xlsx")
    assert book.sheetnames == [
        "Summary", "Aging", "Currencies", "Aging history", "KPI trends", "Collector queue", "Segments",
        "Customers", "Exceptions", "Cash forecast",
    ]  # fmt: skip
    for sheet in book.worksheets:
        assert sheet.freeze_panes == "A5" and sheet.auto_filter.ref.startswith("A4:")
        assert all(cell.font.b for cell in sheet[4] if cell.value is not None)
        assert sheet.page_setup.orientation == "landscape" and sheet.sheet_properties.pageSetUpPr.fitToPage
    assert {name: len(book[name]._charts) for name in ("Aging history", "KPI trends", "Cash forecast")} == {
        "Aging history": 1,
        "KPI trends": 1,
        "Cash forecast": 1,
    }
    customers = book["Customers"]
    header = [c.value for c in customers[4]]
    amount_col = header.index("Open amount (USD)") + 1
    amounts = [customers.cell(r, amount_col).value or 0 for r in range(5, customers.max_row + 1)]
    assert amounts == sorted(amounts, reverse=True) and len(amounts) == 60
    assert customers.cell(5, amount_col).number_format == "#,##0.00;[Red]-#,##0.00"
    assert customers.cell(5, 1).value == published_home.evil_customer_id
    evil = customers.cell(5, 2)  # verbatim, a string cell Excel keeps as text (quote prefix), no visible apostrophe
    assert (evil.value, evil.data_type, evil.quotePrefix) == (EVIL_CUSTOMER_NAME, "s", True)


@pytest.mark.pipeline
def test_review_pack_asset_carries_its_plots_in_dagster(published_home: PublishedHome) -> None:
    with dg.DagsterInstance.from_config(str(published_home.home / "dagster")) as instance:
        event = instance.get_latest_materialization_event(REVIEW_PACK_KEY)
    assert event is not None
    metadata = event.asset_materialization.metadata
    for plot in ("aging_stack", "dso_cei_trend", "cash_forecast_fan"):
        assert metadata[plot].value.startswith(f"![{plot.replace('_', ' ')}](data:image/png;base64,iVBOR")
    assert metadata["as_of_date"].value == PUBLISHED_AS_OF


@pytest.mark.pipeline
def test_pack_for_an_earlier_date_rebuilds_what_history_allows(published_home: PublishedHome) -> None:
    serving = published_home.home / "serving.duckdb"
    before = _digest(serving)
    day = dt.date(2026, 9, 30)
    proc = inflow(
        "report", "--config", str(published_home.config), "--home", str(published_home.home), "--as-of", str(day)
    )
    assert proc.returncode == 0, proc.stderr
    assert "built from the publication as of 2026-11-27" in proc.stdout
    assert "no forecast was made as of 2026-09-30 (forecasts kept: 2026-11-27)" in proc.stdout
    assert _digest(serving) == before  # read-only: the publication is untouched
    folder = published_home.home / "reports" / str(day)
    book = load_workbook(folder / f"ar_review_{day}.xlsx")
    open_ar = float(
        _one(serving, "select sum(open_amount_reporting) from marts.fct_ar_aging_daily where snapshot_date = ?", [day])
    )
    summary = {row[0]: row[1] for row in book["Summary"].iter_rows(min_row=5, values_only=True)}
    assert summary["Open AR"] == open_ar, "the pack's headline is the published open AR, to the cent"
    assert summary["As of"].date() == day and summary["Publication as of"].date() == AS_OF
    kpi_months = [r[0].date() for r in book["KPI trends"].iter_rows(min_row=5, values_only=True)]
    assert max(kpi_months) == day  # the September month had ended; October and November had not
    text = (folder / f"ar_review_{day}.html").read_text(encoding="utf-8")
    assert 'id="past-date-banner"' in text
    assert "customers as of the publication (2026-11-27), not 2026-09-30" in text

    later = inflow(
        "report", "--config", str(published_home.config), "--home", str(published_home.home), "--as-of", "2026-12-01"
    )
    assert later.returncode == 2 and "nothing is published for 2026-12-01" in later.stderr
    assert not (published_home.home / "reports" / "2026-12-01").exists()


@pytest.mark.pipeline
def test_past_forecast_comes_from_its_history_with_what_came_in_after(
    published_home: PublishedHome, tmp_path: Path
) -> None:
    """A forecast made on an earlier day is read from cash_forecast_history (here: the published
    one, re-dated four weeks back in a copy of the serving file)."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(published_home.home / "serving.duckdb", home / "serving.duckdb")
    day = AS_OF - dt.timedelta(days=28)
    con = duckdb.connect(str(home / "serving.duckdb"))
    con.execute(
        "insert into forecast.cash_forecast_history select * replace (cast(? as date) as as_of_date, "
        "week_start - 28 as week_start, week_end - 28 as week_end) from forecast.cash_forecast_history "
        "where as_of_date = ?",
        [day, AS_OF],
    )
    con.close()
    proc = inflow("report", "--config", str(published_home.config), "--home", str(home), "--as-of", str(day))
    assert proc.returncode == 0, proc.stderr
    rows = list(
        load_workbook(home / "reports" / str(day) / f"ar_review_{day}.xlsx")["Cash forecast"].iter_rows(
            min_row=5, values_only=True
        )
    )
    expected = float(
        _one(
            home / "serving.duckdb",
            "select sum(p50_reporting) from forecast.cash_forecast_history where as_of_date = ? and is_published "
            "and scenario = 'base' and series = 'total'",
            [day],
        )
    )
    assert len(rows) == 13 and rows[0][1].date() == day + dt.timedelta(days=1)
    assert sum(r[4] for r in rows) == pytest.approx(expected, abs=0.05)
    assert (home / "reports" / str(day) / "forecast.png").is_file()


# --- every file for people ---------------------------------------------------------------------


def _files_for_people(home: Path) -> list[Path]:
    return sorted(p for p in home.rglob("*") if p.suffix in (".csv", ".xlsx", ".html") and "dagster" not in p.parts)


@pytest.mark.pipeline
def test_no_file_for_people_holds_a_live_formula(published_home: PublishedHome) -> None:
    home = published_home.home
    # The ERP's import files too: approve and send the outbox the run queued.
    location = ("outbox", "--config", str(published_home.config), "--home", str(home))
    for args in (("approve", "--all-pending", "--by", "test"), ("send",)):
        proc = inflow(*location, *args)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    # And the evaluation's CSVs (inflow evaluate --out), written into the home for this scan.
    proc = inflow("evaluate", "--config", str(published_home.config), "--home", str(home), "--split-date",
                  "2026-05-01", "--out", str(home / "evaluation"))  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    files = _files_for_people(home)
    kinds = {p.suffix for p in files}
    assert kinds == {".csv", ".xlsx", ".html"}
    assert any("exceptions" in p.parts for p in files) and any("outbox" in p.parts for p in files)
    assert any("evaluation" in p.parts for p in files)
    evil_seen: set[str] = set()
    for path in files:
        if path.suffix == ".csv":
            with path.open(newline="", encoding="utf-8-sig") as handle:
                cells = [cell for row in csv.reader(handle) for cell in row]
        elif path.suffix == ".xlsx":
            book = load_workbook(path)
            cells = []
            for sheet in book.worksheets:
                for row in sheet.iter_rows():
                    for cell in row:
                        assert cell.data_type != "f", f"{path}:{cell.coordinate} is a formula"
                        if isinstance(cell.value, str):  # a text a spreadsheet would run: the quote-prefix style
                            quoted = needs_prefix(cell.value)
                            assert not quoted or cell.quotePrefix, f"{path}:{cell.coordinate} runs as typed"
                            cells.append(TEXT_PREFIX + cell.value if quoted else cell.value)
        else:
            cells = _page(path).cells
        unsafe = [c for c in cells if needs_prefix(c)]
        assert unsafe == [], f"{path} has cells a spreadsheet would run: {unsafe[:3]}"
        if "'" + EVIL_CUSTOMER_NAME in cells:
            parts = path.relative_to(home).parts  # an export lives in its publication: publications/<id>/exports/
            evil_seen.add("/".join(parts[2:] if parts[0] == "publications" else parts))
    assert {
        "exports/marts/payment_behavior.csv",
        "exports/marts/payment_behavior.xlsx",
        "exports/marts/dim_customers.csv",
        f"reports/{PUBLISHED_AS_OF}/ar_review_{PUBLISHED_AS_OF}.xlsx",
        f"reports/{PUBLISHED_AS_OF}/ar_review_{PUBLISHED_AS_OF}.html",
    } <= evil_seen


@pytest.mark.pipeline
def test_collector_queue_section_appears_once_the_queue_is_published(
    published_home: PublishedHome, tmp_path: Path
) -> None:
    """Without ``marts.collector_queue`` the pack says so; with one (its published shape, ranked
    by balance here, in a copy of the serving file) the section shows each collector's first items
    first, with the customer's name, and leaves out the rows past each collector's capacity.
    (overflow), saying how many and where the whole queue is."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(published_home.home / "serving.duckdb", home / "serving.duckdb")
    con = duckdb.connect(str(home / "serving.duckdb"))
    con.execute("drop table marts.collector_queue")
    con.close()
    assert inflow("report", "--config", str(published_home.config), "--home", str(home)).returncode == 0
    page = (home / "reports" / PUBLISHED_AS_OF / f"ar_review_{PUBLISHED_AS_OF}.html").read_text(encoding="utf-8")
    assert "marts.collector_queue is not published in this home yet" in page  # a home from before the risk models
    con = duckdb.connect(str(home / "serving.duckdb"))
    con.execute(
        """
        create table marts.collector_queue as
        select as_of_date, coalesce(c.collector, 'unassigned') as queue_owner, 'overdue' as queue,
               cast(row_number() over (partition by c.collector order by open_amount_reporting desc)
                    as integer) as rank,
               case when rank <= 2 then 'queued' else 'overflow' end as status,
               1 as priority, 'call' as action, 'largest balance' as reason,
               invoice_id, i.customer_id, i.currency, open_amount, 'USD' as reporting_currency,
               open_amount_reporting, open_amount_reporting as value_at_risk_reporting,
               cast(open_amount_reporting as double) as ranking_value, days_past_due, 0.1 as p_severe,
               'late_rate' as model, 'v1' as model_version
        from marts.fct_ar_invoices as i left join marts.dim_customers as c using (customer_id)
        where open_amount > 0
        """
    )
    collectors = con.execute("select count(distinct queue_owner) from marts.collector_queue").fetchone()[0]
    today, overflow = con.execute(
        "select count(*) filter (status = 'queued'), count(*) filter (status = 'overflow') from marts.collector_queue"
    ).fetchone()
    con.close()
    assert today > 0 and overflow > 0, "the test needs both sides of the capacity"
    proc = inflow("report", "--config", str(published_home.config), "--home", str(home))
    assert proc.returncode == 0, proc.stderr
    sheet = load_workbook(home / "reports" / PUBLISHED_AS_OF / f"ar_review_{PUBLISHED_AS_OF}.xlsx")["Collector queue"]
    header = [c.value for c in sheet[4]]
    assert header[:4] == ["Queue owner", "Queue", "Rank", "Priority"] and "Customer name" in header
    ranks = [r[2] for r in sheet.iter_rows(min_row=5, values_only=True)]
    assert ranks[:collectors] == [1] * collectors and ranks == sorted(ranks)
    assert len(ranks) == today and max(ranks) == 2, "only today's rows, none past the capacity"
    names = {r[header.index("Customer name")] for r in sheet.iter_rows(min_row=5, values_only=True)}
    assert EVIL_CUSTOMER_NAME in names  # verbatim: the cell's quote-prefix style keeps it text
    page = (home / "reports" / PUBLISHED_AS_OF / f"ar_review_{PUBLISHED_AS_OF}.html").read_text(encoding="utf-8")
    assert "marts.collector_queue is not published" not in page and 'data-sheet="Collector queue"' in page
    assert f"{overflow:,} rows past each collector&#39;s daily capacity (overflow) are not shown" in page


def _kpi_section(months: list[tuple[dt.date, dt.date, bool, float, float]]) -> Section:
    columns = [
        Column("month_end", "date"),
        Column("period_end_date", "date"),
        Column("is_complete_month", "text"),
        Column("dso_countback_days", "number"),
        Column("cei_trailing_pct", "number"),
    ]
    return Section("kpis", "KPIs", "", parts=[Part("Monthly KPIs (total)", "KPI trends", Table(columns, months))])


@pytest.mark.parametrize(
    ("as_of", "complete", "cei_label", "cei"),
    [
        (dt.date(2026, 11, 1), False, "to 2026-10-31", 95.0),  # the 1st: one day of November, CEI waits
        (dt.date(2026, 11, 30), True, "to 2026-11-30", 88.0),  # the last day: November is complete
    ],
)
def test_the_headline_dates_dso_on_the_day_and_cei_on_a_complete_month(
    as_of: dt.date, complete: bool, cei_label: str, cei: float
) -> None:
    section = _kpi_section(
        [
            (dt.date(2026, 10, 31), dt.date(2026, 10, 31), True, 40.0, 95.0),
            (dt.date(2026, 11, 30), as_of, complete, 41.0, 88.0),
        ]
    )
    headline = {h.label: h.value for h in _headline([section], "USD")}
    assert headline[f"DSO countback (as of {as_of})"] == 41.0
    assert headline[f"CEI, trailing 3 months ({cei_label})"] == cei


def _kpi_rows(as_of: dt.date) -> pd.DataFrame:
    """Three months of total KPI rows ending with the month of ``as_of`` as the pack reads them
    (Decimals, dates): complete when ``as_of`` is its last day, one day of it on the 1st."""
    month_ends = [(pd.Timestamp(as_of) + pd.offsets.MonthEnd(0) - pd.offsets.MonthEnd(k)).date() for k in (2, 1, 0)]
    return pd.DataFrame(
        {
            "month_end": month_ends,
            "is_complete_month": [True, True, month_ends[-1] == as_of],
            "dso_countback_days": [Decimal("58.4"), Decimal("65.2"), Decimal("65.4")],
            "bpdso_days": [Decimal("35.6"), Decimal("35.5"), Decimal("45.5")],
            "cei_pct": [Decimal("72.9"), Decimal("65.8"), Decimal("0.1")],
        }
    )


def _drawn(ax: plt.Axes) -> dict[str, tuple[list[dt.date], list[float], str]]:
    """Each line of an Axes by label: the days it sits on, its values and its marker fill."""
    return {
        line.get_label(): (
            [pd.Timestamp(x).date() for x in line.get_xdata()],
            [float(y) for y in line.get_ydata()],
            str(line.get_markerfacecolor()),
        )
        for line in ax.get_lines()
    }


@pytest.mark.parametrize(
    ("as_of", "months"),
    [
        (dt.date(2026, 11, 30), ("2026-09-01", "2026-10-01", "2026-11-01")),  # the last day: November is complete
        (dt.date(2026, 12, 1), ("2026-10-01", "2026-11-01", "2026-12-01")),  # the 1st: one day of December
    ],
)
def test_the_kpi_plot_draws_the_month_so_far_apart_and_leaves_it_out_of_cei(
    as_of: dt.date, months: tuple[str, str, str]
) -> None:
    """A whole month is one more point of every line. The month so far is a hollow, dotted-joined
    point on the DSO lines (a balance on the day) and not on the CEI line (one day's collections
    over a month's collectible reads as CEI collapsing). Each month sits at its first day under a
    tick naming it, never beside the tick of a month that has not begun."""
    fig = kpi_trend_figure(_kpi_rows(as_of), f"DSO and CEI by month, to {as_of}")
    try:
        days, pct = (_drawn(ax) for ax in fig.axes)
        ticks = [matplotlib.dates.num2date(t).date() for t in fig.axes[0].get_xticks()]
        tick_labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    finally:
        plt.close(fig)
    before, previous, month = (dt.date.fromisoformat(m) for m in months)
    assert ticks == [before, previous, month]
    if as_of.day != 1:  # complete: a normal point of every line, nothing marked
        assert days == {
            "DSO countback (days)": ([before, previous, month], [58.4, 65.2, 65.4], "#1f4e79"),
            "best possible DSO (days)": ([before, previous, month], [35.6, 35.5, 45.5], "#6b9bd1"),
        }
        assert pct == {"CEI (%)": ([before, previous, month], [72.9, 65.8, 0.1], "#c0504d")}
        assert tick_labels == ["2026-09", "2026-10", "2026-11"]
        return
    assert days == {
        "DSO countback (days)": ([before, previous], [58.4, 65.2], "#1f4e79"),
        "_DSO countback (days), month so far": ([previous, month], [65.2, 65.4], "white"),
        "best possible DSO (days)": ([before, previous], [35.6, 35.5], "#6b9bd1"),
        "_best possible DSO (days), month so far": ([previous, month], [35.5, 45.5], "white"),
    }
    assert pct == {"CEI (%), whole months only": ([before, previous], [72.9, 65.8], "#c0504d")}
    assert tick_labels == ["2026-10", "2026-11", "2026-12 month so far"]


def test_the_kpi_months_split_on_is_complete_month() -> None:
    """Only the as-of month, ended or not, decides: on its last day it is whole."""
    for as_of, partial in ((dt.date(2026, 11, 30), 0), (dt.date(2026, 12, 1), 1)):
        complete, so_far = split_months(_kpi_rows(as_of))
        assert (len(complete), len(so_far)) == (3 - partial, partial)
    assert list(month_starts(_kpi_rows(dt.date(2026, 12, 1)))) == [
        pd.Timestamp("2026-10-01"),
        pd.Timestamp("2026-11-01"),
        pd.Timestamp("2026-12-01"),
    ]
