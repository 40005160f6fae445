"""Daily exchange rates, as the ERP's rate table exports them.

Rates are value of one unit in the reporting currency (USD), on business days only (the ERP
loads the central bank's fixing; weekends are forward-filled downstream). Each non-USD rate is a
mean-reverting random walk around its starting level, so converted amounts move a little.
"""

from __future__ import annotations

import numpy as np

from seeds.calendar import weekday
from seeds.population import BASE_RATES, CURRENCIES
from seeds.textio import Columns, choice_text, date_text, rate_text

DAILY_VOLATILITY = 0.004
MEAN_REVERSION = 0.01


def render_fx_rates(rng: np.random.Generator, first_day: int, last_day: int) -> Columns:
    days = np.arange(first_day, last_day + 1)
    days = days[weekday(days) < 5]
    paths = np.empty((len(days), len(CURRENCIES)))
    log_rate = np.log(BASE_RATES)
    for t in range(len(days)):
        shock = rng.normal(0.0, DAILY_VOLATILITY, len(CURRENCIES))
        log_rate = log_rate + MEAN_REVERSION * (np.log(BASE_RATES) - log_rate) + shock
        log_rate[CURRENCIES.index("USD")] = 0.0
        paths[t] = np.exp(log_rate)
    n = len(days) * len(CURRENCIES)
    return {
        "RateDate": date_text(np.repeat(days, len(CURRENCIES))),
        "Curr": choice_text(CURRENCIES, np.tile(np.arange(len(CURRENCIES)), len(days))),
        "RateToUSD": rate_text(paths.reshape(n)),
    }
