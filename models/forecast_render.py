"""The forecast for people: a terminal table (``inflow forecast``) and the fan chart PNG.

Both are pure: a published weekly table in, text or PNG bytes out (the caller prints or stores).
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd

SCENARIO_SEPARATOR = "__"


class UnknownCurrency(ValueError):
    """A currency the published forecast has no rows for; the message names the ones it has."""


def _money(value: float) -> str:
    return f"{value:,.0f}"


def scenario_names(weekly: pd.DataFrame) -> list[str]:
    """Scenarios present in a published weekly table (columns ``<name>__p50``)."""
    return [c[: -len("__p50")] for c in weekly.columns if c.endswith(f"{SCENARIO_SEPARATOR}p50")]


def render_forecast_table(weekly: pd.DataFrame, currency: str | None = None) -> str:
    """The horizon weeks as a text table: p10 / p50 / p90 and each scenario's p50.

    ``weekly`` is ``forecast.cash_forecast_weekly``. Without ``currency`` the total in the
    reporting currency is shown; with one, that currency's rows in that currency. A currency
    with no rows raises ``UnknownCurrency``: a table of nothing would read as a forecast of zero.
    """
    rows = (
        weekly[weekly["series"] == "total"]
        if currency is None
        else weekly[(weekly["series"] == "currency") & (weekly["currency"] == currency)]
    )
    if rows.empty:
        available = sorted(weekly.loc[weekly["series"] == "currency", "currency"].unique())
        raise UnknownCurrency(
            f"no forecast rows for currency {currency!r}; available: {', '.join(available) or 'none'}"
        )
    rows = rows.sort_values("week_index")
    shown = rows["currency"].iloc[0]
    as_of = pd.Timestamp(rows["as_of_date"].iloc[0]).date().isoformat()
    model = rows["model"].iloc[0]
    scenarios = scenario_names(weekly)
    header = ["week", "from", "to", "p10", "p50", "p90", *[f"{s} p50" for s in scenarios]]
    body = []
    for r in rows.itertuples(index=False):
        rec = r._asdict()
        body.append(
            [
                str(rec["week_index"]),
                pd.Timestamp(rec["week_start"]).date().isoformat(),
                pd.Timestamp(rec["week_end"]).date().isoformat(),
                _money(rec["p10"]),
                _money(rec["p50"]),
                _money(rec["p90"]),
                *[_money(getattr(r, f"{s}{SCENARIO_SEPARATOR}p50")) for s in scenarios],
            ]
        )
    body.append(
        [
            "total",
            "",
            "",
            "",
            _money(rows["p50"].sum()),
            "",
            *[_money(rows[f"{s}{SCENARIO_SEPARATOR}p50"].sum()) for s in scenarios],
        ]
    )
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def fmt(line: list[str]) -> str:
        return "  ".join(
            cell.rjust(w) if i != 1 and i != 2 else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        ).rstrip()

    title = f"Cash receipts forecast as of {as_of}, {shown}, p10 / p50 / p90 per week"
    lines = [
        title,
        fmt(header),
        fmt(["-" * w for w in widths]),
        *[fmt(b) for b in body[:-1]],
        fmt(["-" * w for w in widths]),
        fmt(body[-1]),
    ]
    if model != "forecast":
        lines.append(
            f"NOTE: the forecast did not beat the due-date baseline on its backtest; "
            f"this is the {model} baseline, published in its place."
        )
    lines.append("The total row sums the weekly p50s (a typical outcome per week, not a quantile of the sum).")
    return "\n".join(lines) + "\n"


def fan_chart_png(
    weekly: pd.DataFrame, past_actuals: pd.DataFrame, actual_label: str = "actual receipts (all invoices)"
) -> bytes:
    """Fan chart of the total: p10-p90 band and p50 for the horizon, actual receipts of past weeks.

    ``past_actuals``: week_start, actual (reporting currency), for the weeks before the as-of date
    (and, in a pack for a past date, the weeks after it); ``actual_label`` says what they count.
    """
    total = weekly[weekly["series"] == "total"].sort_values("week_index")
    currency = total["currency"].iloc[0] if len(total) else ""
    as_of = pd.Timestamp(total["as_of_date"].iloc[0]) if len(total) else None
    fig, ax = plt.subplots(figsize=(10, 4.5), dpi=100)
    if len(past_actuals):
        ax.bar(
            pd.to_datetime(past_actuals["week_start"]),
            past_actuals["actual"],
            width=5,
            color="#9aa5b1",
            label=actual_label,
            align="edge",
        )
    if len(total):
        x = pd.to_datetime(total["week_start"]) + pd.Timedelta(days=3)
        ax.fill_between(x, total["p10"], total["p90"], color="#4c78a8", alpha=0.25, label="p10-p90")
        ax.plot(
            x,
            total["p50"],
            color="#1f4e79",
            marker="o",
            linewidth=1.8,
            label="p50 (open invoices, promises, planned billing)",
        )
        if as_of is not None:
            ax.axvline(as_of, color="#555555", linestyle="--", linewidth=1)
    model = total["model"].iloc[0] if len(total) else "forecast"
    ax.set_title(
        f"Weekly cash receipts ({currency}), as of {as_of.date().isoformat() if as_of is not None else '-'}"
        + ("" if model == "forecast" else f" - {model} baseline published")
    )
    ax.set_ylabel(currency)
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right")
    ax.grid(axis="y", alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()
