"""The review pack's plots as PNG bytes (matplotlib, no display): the aging stack by bucket and the
DSO / CEI trend. The forecast fan is the forecast's own (``models.forecast_render.fan_chart_png``).

Each function takes a small frame the pack has already read and returns the image, so the same
picture goes into the HTML page, the folder and the Dagster asset's metadata.
"""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")

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


def kpi_trend_png(kpis: pd.DataFrame, title: str) -> bytes:
    """DSO (countback and best possible) in days on the left axis, CEI in % on the right.

    ``kpis``: month_end, is_complete_month, dso_countback_days, bpdso_days, cei_pct (total rows).
    An incomplete month (the as-of month so far) is drawn with hollow markers.
    """
    fig, ax = plt.subplots(figsize=(10, 4.2), dpi=100)
    if kpis.empty:
        ax.text(0.5, 0.5, "no KPI months", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(title)
        fig.tight_layout()
        return _png(fig)
    months = pd.to_datetime(kpis["month_end"])
    ax.plot(months, kpis["dso_countback_days"].astype(float), color="#1f4e79", marker="o", label="DSO countback (days)")
    ax.plot(months, kpis["bpdso_days"].astype(float), color="#6b9bd1", marker="o", label="best possible DSO (days)")
    ax.set_ylabel("days")
    ax.set_ylim(bottom=0)
    cei = ax.twinx()
    cei.plot(months, kpis["cei_pct"].astype(float), color="#c0504d", marker="s", linestyle="--", label="CEI (%)")
    cei.set_ylabel("CEI %")
    cei.set_ylim(0, 110)
    partial = kpis[~kpis["is_complete_month"].astype(bool)]
    if len(partial):
        partial_months = pd.to_datetime(partial["month_end"])
        ax.scatter(
            partial_months,
            partial["dso_countback_days"].astype(float),
            s=90,
            facecolors="white",
            edgecolors="#1f4e79",
            zorder=3,
            label="month so far",
        )
    handles = ax.get_legend_handles_labels()
    extra = cei.get_legend_handles_labels()
    ax.legend(handles[0] + extra[0], handles[1] + extra[1], loc="lower left", fontsize=8, ncols=4)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    return _png(fig)


def markdown_image(png: bytes, alt: str) -> str:
    """A PNG as a Markdown image with a data URI (Dagster shows it in the asset's metadata)."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"
