"""The review pack's plots as PNG bytes (matplotlib, no display): the aging stack by bucket and the
DSO / CEI trend. The forecast fan is the forecast's own (``models.forecast_render.fan_chart_png``).

Each function takes a small frame the pack has already read and returns the image, so the same
picture goes into the HTML page, the folder and the Dagster asset's metadata.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")

import matplotlib.lines
import matplotlib.pyplot as plt
import matplotlib.ticker
import pandas as pd

#: Aging buckets from current (green) to oldest (dark red), in bucket order.
BUCKET_COLOURS = ("#4c9a6a", "#a6c96a", "#f2c75c", "#f08c4a", "#d9534f", "#8b1e1e", "#5a0f0f", "#3a0808")


def _png(fig: plt.Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def _thousands(axis: matplotlib.axis.Axis) -> None:
    axis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))


def aging_stack_png(aging: pd.DataFrame, currency: str, title: str) -> bytes:
    """Stacked bars of open AR by aging bucket at each snapshot date.

    ``aging``: snapshot_date, aging_bucket, bucket_order, open_amount_reporting (one row per
    date and bucket).
    """
    fig, ax = plt.subplots(figsize=(10, 4.2), dpi=100)
    if aging.empty:
        ax.text(0.5, 0.5, "no aging snapshots", ha="center", va="center", transform=ax.transAxes)
    else:
        wide = aging.pivot_table(
            index="snapshot_date",
            columns=["bucket_order", "aging_bucket"],
            values="open_amount_reporting",
            aggfunc="sum",
        ).fillna(0.0)
        wide = wide.sort_index(axis=1).astype(float)
        labels = [pd.Timestamp(d).strftime("%Y-%m-%d") for d in wide.index]
        bottom = pd.Series(0.0, index=wide.index)
        for i, (_, bucket) in enumerate(wide.columns):
            values = wide[(_, bucket)]
            ax.bar(labels, values, bottom=bottom, label=bucket, color=BUCKET_COLOURS[min(i, len(BUCKET_COLOURS) - 1)])
            bottom = bottom + values
        ax.legend(title="days past due", loc="upper left", ncols=min(len(wide.columns), 6), fontsize=8)
        ax.set_ylim(0, float(bottom.max()) * 1.25 or 1)
        plt.setp(ax.get_xticklabels(), rotation=45, ha="right", fontsize=8)
    ax.set_title(title)
    ax.set_ylabel(f"open AR ({currency})")
    _thousands(ax.yaxis)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return _png(fig)


@dataclass(frozen=True)
class KpiLine:
    """One KPI line of the trend plot and what kind of figure it is.

    ``whole_months_only``: the KPI is a ratio of one month's flows (CEI: collected over
    collectible in the month), so a part of a month is not comparable with whole ones (on the
    1st it is one day's collections) and the line leaves the month so far out. A KPI read off the
    balance on a day (DSO) means the same on any day, so its month so far is drawn, apart.
    """

    column: str
    label: str
    colour: str
    marker: str
    linestyle: str
    whole_months_only: bool


#: The trend plot's lines in days (left axis) and in percent (right axis).
DAYS_LINES = (
    KpiLine("dso_countback_days", "DSO countback (days)", "#1f4e79", "o", "-", whole_months_only=False),
    KpiLine("bpdso_days", "best possible DSO (days)", "#6b9bd1", "o", "-", whole_months_only=False),
)
PCT_LINES = (KpiLine("cei_pct", "CEI (%)", "#c0504d", "s", "--", whole_months_only=True),)
#: The legend entry and tick suffix of the month so far (the as-of month, not yet ended).
SO_FAR = "month so far"


def month_starts(kpis: pd.DataFrame) -> pd.Series:
    """Where each KPI month sits on the time axis: its first day, under a tick naming it.

    The rows carry ``month_end``; a point at the month's last day sits beside the next month's
    tick (December 2026 next to "2027-01", a month that has not begun).
    """
    return pd.to_datetime(kpis["month_end"]).dt.to_period("M").dt.to_timestamp()


def split_months(kpis: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows of whole months and the row(s) of the month so far (``is_complete_month`` false:
    the as-of month, which ends on the as-of date)."""
    complete = kpis["is_complete_month"].astype(bool)
    return kpis[complete], kpis[~complete]


def _draw_kpi(ax: plt.Axes, kpis: pd.DataFrame, line: KpiLine) -> None:
    """The one rule for an incomplete month: whole months as the KPI's line; the month so far
    left out of a ``whole_months_only`` line, else a hollow marker joined by a dotted segment,
    so it never reads as one more month of the trend."""
    complete, partial = split_months(kpis)
    values = kpis[line.column].astype(float)
    x = month_starts(kpis)
    left_out = line.whole_months_only and not partial.empty
    ax.plot(
        x[complete.index],
        values[complete.index],
        color=line.colour,
        marker=line.marker,
        linestyle=line.linestyle,
        label=f"{line.label}, whole months only" if left_out else line.label,
    )
    if partial.empty or left_out:
        return
    joined = kpis.index[kpis.index <= partial.index[-1]][-2:]  # the month so far and the one before
    ax.plot(
        x[joined],
        values[joined],
        color=line.colour,
        marker=line.marker,
        markevery=[len(joined) - 1],
        markersize=9,
        markerfacecolor="white",
        linestyle=":",
        label=f"_{line.label}, {SO_FAR}",
    )


#: Most month ticks on the KPI plot (the Dagster asset's plot has every month, up to 120).
MAX_MONTH_TICKS = 25


def _month_ticks(ax: plt.Axes, kpis: pd.DataFrame) -> None:
    """Ticks at months' first days, named by the month; the month so far says so. Past
    :data:`MAX_MONTH_TICKS` months every n-th month is named, counted back from the last, so
    the latest month always has its tick."""
    step = -(-len(kpis) // MAX_MONTH_TICKS)
    shown = kpis.iloc[::-1].iloc[::step].iloc[::-1]
    whole = shown["is_complete_month"].astype(bool)
    starts = month_starts(shown)
    labels = [f"{start:%Y-%m}" + ("" if w else f" {SO_FAR}") for start, w in zip(starts, whole, strict=True)]
    ax.set_xticks(list(starts), labels)
    plt.setp(ax.get_xticklabels(), rotation=45, ha="right", fontsize=8)


def _kpi_legend(ax: plt.Axes, pct: plt.Axes, kpis: pd.DataFrame) -> None:
    """Both axes' lines in one legend, and one neutral hollow marker for the month so far when
    there is one (each line's own is in its colour)."""
    handles, labels = ax.get_legend_handles_labels()
    pct_handles, pct_labels = pct.get_legend_handles_labels()
    handles, labels = handles + pct_handles, labels + pct_labels
    if not split_months(kpis)[1].empty:
        handles.append(
            matplotlib.lines.Line2D([], [], color="#555555", marker="o", markerfacecolor="white", linestyle=":")
        )
        labels.append(SO_FAR)
    ax.legend(handles, labels, loc="lower left", fontsize=8, ncols=4)


def kpi_trend_figure(kpis: pd.DataFrame, title: str) -> plt.Figure:
    """DSO (countback and best possible) in days on the left axis, CEI in % on the right; the
    caller closes it (:func:`kpi_trend_png` does).

    ``kpis``: month_end, is_complete_month, dso_countback_days, bpdso_days, cei_pct (total rows,
    in month order). Each month sits at its first day; the incomplete month follows
    :func:`_draw_kpi`.
    """
    fig, ax = plt.subplots(figsize=(10, 4.2), dpi=100)
    ax.set_title(title)
    if kpis.empty:
        ax.text(0.5, 0.5, "no KPI months", ha="center", va="center", transform=ax.transAxes)
        fig.tight_layout()
        return fig
    kpis = kpis.reset_index(drop=True)
    for line in DAYS_LINES:
        _draw_kpi(ax, kpis, line)
    ax.set_ylabel("days")
    ax.set_ylim(bottom=0)
    pct = ax.twinx()
    for line in PCT_LINES:
        _draw_kpi(pct, kpis, line)
    pct.set_ylabel("CEI %")
    pct.set_ylim(0, 110)
    _month_ticks(ax, kpis)
    _kpi_legend(ax, pct, kpis)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def kpi_trend_png(kpis: pd.DataFrame, title: str) -> bytes:
    """:func:`kpi_trend_figure` as PNG bytes."""
    return _png(kpi_trend_figure(kpis, title))


def markdown_image(png: bytes, alt: str) -> str:
    """A PNG as a Markdown image with a data URI (Dagster shows it in the asset's metadata)."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"
