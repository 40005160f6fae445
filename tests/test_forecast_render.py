"""The terminal table of ``inflow forecast`` and the fan chart."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.forecast_render import UnknownCurrency, fan_chart_png, render_forecast_table


def weekly(model: str = "forecast", scenarios: tuple[str, ...] = ("late_15",)) -> pd.DataFrame:
    as_of = pd.Timestamp("2026-11-29")
    rows = []
    for series, currency, scale in (("currency", "EUR", 0.5), ("currency", "USD", 1.0), ("total", "USD", 1.55)):
        for w in range(1, 14):
            start = as_of + pd.Timedelta(days=7 * (w - 1) + 1)
            p50 = 1000.0 * w * scale
            row = {
                "as_of_date": as_of,
                "series": series,
                "currency": currency,
                "week_index": w,
                "week_start": start,
                "week_end": start + pd.Timedelta(days=6),
                "p10": p50 * 0.8,
                "p50": p50,
                "p90": p50 * 1.3,
                "model": model,
            }
            for s in scenarios:
                row[f"{s}__p50"] = p50 / 2
            rows.append(row)
    return pd.DataFrame(rows)


def test_table_shows_the_13_weeks_of_the_total_with_scenarios() -> None:
    text = render_forecast_table(weekly())
    lines = text.splitlines()
    assert lines[0] == "Cash receipts forecast as of 2026-11-29, USD, p10 / p50 / p90 per week"
    assert lines[1].split() == ["week", "from", "to", "p10", "p50", "p90", "late_15", "p50"]
    first = lines[3].split()
    assert first == ["1", "2026-11-30", "2026-12-06", "1,240", "1,550", "2,015", "775"]
    assert lines[15].split()[0] == "13"
    total = lines[17].split()
    assert total == ["total", f"{1550 * 91:,.0f}", f"{775 * 91:,.0f}"]
    assert "NOTE" not in text


def test_table_of_one_currency_and_the_fallback_note() -> None:
    text = render_forecast_table(weekly(model="due_date", scenarios=()), currency="EUR")
    assert "as of 2026-11-29, EUR" in text
    assert text.splitlines()[3].split()[3:6] == ["400", "500", "650"]
    assert "NOTE: the forecast did not beat the due-date baseline" in text and "due_date baseline" in text


def test_unknown_currency_is_an_error_naming_the_available_ones() -> None:
    with pytest.raises(UnknownCurrency, match=r"^no forecast rows for currency 'JPY'; available: EUR, USD$"):
        render_forecast_table(weekly(), currency="JPY")


def test_fan_chart_is_a_png_and_deterministic() -> None:
    past = pd.DataFrame(
        {"week_start": pd.date_range("2026-09-01", periods=13, freq="7D"), "actual": np.linspace(1000, 3000, 13)}
    )
    png = fan_chart_png(weekly(), past)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert fan_chart_png(weekly(), past) == png
    assert fan_chart_png(weekly().iloc[:0], past.iloc[:0])[:8] == b"\x89PNG\r\n\x1a\n"
