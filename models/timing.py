"""When will an open invoice be paid? A point-in-time payment-timing model for the cash forecast.

The model answers, for each open invoice on an origin day, with a distribution of its payment
day built only from history known on that day:

* **Empirical, per customer, with censoring.** Payment lag = days from the due date to the day
  the cash was received. A customer's lags are counted on a grid of lag bins as discrete-time
  hazards (life table): in each bin the share of the still-open amount that was paid, credited
  or written off. Invoices still open at the origin are censored, not dropped (dropping them
  would make slow payers look fast); a partly paid invoice counts as a fraction of an invoice.
* **Shrunk toward the segment, the segment toward the portfolio.** Each bin's hazard is
  ``(events + m * prior_hazard) / (at_risk + m)``: a customer with little history, or little
  history at long lags, borrows its segment's shape, bin by bin.
* **Recent history weighs more** (half-life ``half_life_days``), so a customer who slows down
  moves the forecast within months.
* **Disputed invoices** open at the origin use the pooled hazards of invoices that were disputed:
  slower, and more often credited instead of paid (the dispute down-weighting).
* **Conditioned on being open**: an invoice 20 days overdue gets the distribution of lags beyond
  20 days, renormalised; its probability of ever being paid in cash (``p_collect``) is the cash
  share of what leaves after that point, so write-off and credit risk grow with age.

The output is the interface the forecast consumes (and the risk model's quantiles can replace):
a frame with ``item_id``, ``p_collect`` and ``q0000`` .. ``q1000``: quantiles at levels 0, 0.025,
..., 1 (named in per mille) of the days from the origin to payment, given that the item is paid
in cash. Days are
continuous; the payment day is ``origin + floor(days)`` and day 1 is the day after the origin.
See ``models/README.md`` (Cash forecast) for the contract.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Lag-bin edges in days after the due date: one bin for early payment, daily bins around the
#: due date, weekly to a year, four-weekly to two years. Beyond the last edge nothing is paid.
LAG_EDGES = np.concatenate(
    [
        [-150.0],
        np.arange(-30.0, 61.0),
        np.arange(67.0, 397.0, 7.0),
        np.arange(424.0, 761.0, 28.0),
    ]
)
N_BINS = len(LAG_EDGES) - 1
#: Quantile levels of the interface frame, every 2.5 %, named in per mille: q0000, q0025, ..., q1000.
LEVELS = np.round(np.arange(0.0, 1.0001, 0.025), 3)
QUANTILE_COLUMNS = [f"q{round(level * 1000):04d}" for level in LEVELS]
#: Outcome kinds of an event on the lag grid.
CASH, CREDIT, WRITE_OFF = 0, 1, 2
EVENT_KINDS = {"payment": CASH, "credit_memo": CREDIT, "write_off": WRITE_OFF}
#: Day number of a missing date: later than any real day.
NEVER = np.iinfo(np.int64).max // 4


@dataclass(frozen=True)
class TimingConfig:
    """How the history is weighed and pooled."""

    half_life_days: float = 180.0
    #: Pseudo-invoices of the prior added to every bin (customer toward segment, segment toward portfolio).
    prior_strength: float = 3.0
    #: History older than this many half-lives (by due date) is ignored (its weight is < 1/16).
    window_half_lives: float = 4.0


def day_numbers(dates: pd.Series) -> np.ndarray:
    """Dates as days since 1970-01-01 (int64); missing dates become ``NEVER``."""
    values = pd.to_datetime(dates).to_numpy("datetime64[D]")
    return np.where(np.isnat(values), NEVER, values.astype(np.int64))


@dataclass(frozen=True)
class InvoiceHistory:
    """Invoices and their balance events as integer-coded numpy arrays, built once per run.

    Days are day numbers (days since 1970-01-01; a missing day is ``NEVER``). Customers and
    segments are codes into ``customers`` and ``segments``: every backtest origin filters these
    arrays instead of re-reading frames.
    """

    invoice_id: np.ndarray
    customer: np.ndarray
    segment: np.ndarray
    currency: np.ndarray
    invoice_day: np.ndarray
    due_day: np.ndarray
    amount: np.ndarray
    dispute_opened_day: np.ndarray
    dispute_resolved_day: np.ndarray
    ev_invoice: np.ndarray  # position of the event's invoice
    ev_kind: np.ndarray  # CASH, CREDIT or WRITE_OFF
    ev_effective_day: np.ndarray
    ev_known_day: np.ndarray
    ev_amount: np.ndarray
    customers: pd.Index
    segments: pd.Index
    customer_segment: np.ndarray  # segment code per customer code

    @classmethod
    def from_frames(cls, invoices: pd.DataFrame, events: pd.DataFrame, customers: pd.DataFrame) -> InvoiceHistory:
        """From ``int_forecast_invoices`` and ``int_forecast_invoice_events`` shaped frames.

        ``customers`` (customer_id, segment) lists customers that may have no invoice yet (a
        customer only in the billing plan); a customer's segment is its latest known one.
        """
        master = pd.concat([invoices[["customer_id", "segment"]], customers[["customer_id", "segment"]]])
        master = master.assign(customer_id=master["customer_id"].astype(str)).drop_duplicates(
            "customer_id", keep="last"
        )
        cust_index = pd.Index(master["customer_id"])
        seg_codes, seg_index = pd.factorize(master["segment"].fillna("unknown").astype(str), sort=True)
        inv_customer = cust_index.get_indexer(invoices["customer_id"].astype(str))
        pos = pd.Index(invoices["invoice_id"]).get_indexer(events["invoice_id"])
        ev = events.loc[pos >= 0]
        return cls(
            invoice_id=invoices["invoice_id"].to_numpy(object),
            customer=inv_customer,
            segment=seg_codes[inv_customer],
            currency=invoices["currency"].to_numpy(object),
            invoice_day=day_numbers(invoices["invoice_date"]),
            due_day=day_numbers(invoices["due_date"]),
            amount=invoices["amount"].to_numpy(np.float64),
            dispute_opened_day=day_numbers(invoices["dispute_opened_date"]),
            dispute_resolved_day=day_numbers(invoices["dispute_resolved_date"]),
            ev_invoice=pos[pos >= 0],
            ev_kind=ev["event_type"].map(EVENT_KINDS).to_numpy(np.int64),
            ev_effective_day=day_numbers(ev["effective_date"]),
            ev_known_day=day_numbers(ev["known_date"]),
            ev_amount=ev["amount"].to_numpy(np.float64),
            customers=cust_index,
            segments=pd.Index(seg_index),
            customer_segment=seg_codes.astype(np.int64),
        )

    def open_amount_at(self, origin_day: int) -> np.ndarray:
        """Each invoice's balance on the origin day from the events recorded by then (0 if not issued)."""
        known = self.ev_known_day <= origin_day
        reduced = np.bincount(self.ev_invoice[known], weights=self.ev_amount[known], minlength=len(self.amount))
        return np.where(self.invoice_day <= origin_day, self.amount - reduced, 0.0)

    def disputed_at(self, origin_day: int) -> np.ndarray:
        """Whether a dispute on the invoice is open on the origin day."""
        return (self.dispute_opened_day <= origin_day) & (self.dispute_resolved_day > origin_day)


@dataclass(frozen=True)
class TimingTables:
    """Cumulative outcome curves on the lag grid: one row per needed customer, then one per
    segment, then the disputed pool, then the portfolio.

    ``cash_cdf[r, k]`` and ``exit_cdf[r, k]`` are the probabilities, for a new invoice of row r,
    of having been paid in cash / having left the open book in any way by lag ``LAG_EDGES[k]``.
    """

    customer_row: np.ndarray  # row per customer code, -1 when the customer has no row
    n_customer_rows: int
    n_segments: int
    cash_cdf: np.ndarray  # (rows, N_BINS + 1)
    exit_cdf: np.ndarray  # (rows, N_BINS + 1)

    @property
    def disputed_row(self) -> int:
        return self.n_customer_rows + self.n_segments

    def rows_for(self, customer: np.ndarray, segment: np.ndarray, disputed: np.ndarray | None = None) -> np.ndarray:
        """The row each item is timed by: the disputed pool, else its customer, else its segment."""
        own = self.customer_row[customer]
        rows = np.where(own >= 0, own, self.n_customer_rows + segment)
        if disputed is not None:
            rows = np.where(disputed, self.disputed_row, rows)
        return rows


def lag_bin(lag_days: np.ndarray) -> np.ndarray:
    """Bin index of integer lags (a payment on day d fills [d, d+1)); clipped to the grid."""
    return np.clip(np.searchsorted(LAG_EDGES, lag_days, side="right") - 1, 0, N_BINS - 1)


def _hazard_counts(
    row: np.ndarray,
    weight: np.ndarray,
    n_rows: int,
    ev_row: np.ndarray,
    ev_bin: np.ndarray,
    ev_kind: np.ndarray,
    ev_mass: np.ndarray,
    cens_bin: np.ndarray,
    cens_mass: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Event mass per (kind, row, bin) and actuarial at-risk mass per (row, bin).

    An invoice enters the grid with its weight; events remove their mass in their bin; the
    share still open at the origin leaves (censored) in the bin of its current lag and counts
    half at risk there (actuarial life table).
    """
    cells = n_rows * N_BINS
    events = np.zeros((3, cells))
    for kind in (CASH, CREDIT, WRITE_OFF):
        sel = ev_kind == kind
        events[kind] = np.bincount(ev_row[sel] * N_BINS + ev_bin[sel], weights=ev_mass[sel], minlength=cells)
    censored = np.bincount(row * N_BINS + cens_bin, weights=cens_mass, minlength=cells).reshape(n_rows, N_BINS)
    leaving = events.sum(axis=0).reshape(n_rows, N_BINS) + censored
    entering = np.bincount(row, weights=weight, minlength=n_rows)[:, None] - np.cumsum(leaving, axis=1) + leaving
    at_risk = np.maximum(entering - 0.5 * censored, 0.0)
    return events.reshape(3, n_rows, N_BINS), at_risk


def _shrunk(events: np.ndarray, at_risk: np.ndarray, prior: np.ndarray, strength: float) -> np.ndarray:
    """Hazards per kind, ``(events + m * prior) / (at_risk + m)`` (the prior where nothing is at
    risk and m = 0), with the kinds' sum capped at 1."""
    denominator = (at_risk + strength)[None]
    prior = np.broadcast_to(prior, events.shape)
    hazard = np.where(denominator > 0, (events + strength * prior) / np.maximum(denominator, 1e-12), prior)
    total = hazard.sum(axis=0)
    return hazard * np.where(total > 1.0, 1.0 / np.maximum(total, 1e-12), 1.0)[None]


def _cdfs(hazard: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative cash and exit probabilities at the bin edges from per-bin hazards (kind, row, bin)."""
    survival = np.cumprod(1.0 - hazard.sum(axis=0), axis=-1)
    before = np.concatenate([np.ones((survival.shape[0], 1)), survival[:, :-1]], axis=1)
    zero = np.zeros((survival.shape[0], 1))
    cash = np.concatenate([zero, np.cumsum(before * hazard[CASH], axis=1)], axis=1)
    exits = np.concatenate([zero, 1.0 - survival], axis=1)
    return np.minimum(cash, exits), exits


def fit_timing(
    history: InvoiceHistory, origin_day: int, customers_needed: np.ndarray, config: TimingConfig = TimingConfig()
) -> TimingTables:
    """Hazard tables from the history known on ``origin_day``: needed customers, segments, pools.

    Invoices issued on or before the origin with a due date inside the window count; only
    events recorded (known) on or before the origin count, at the lag of their effective (cash)
    date. Every customer's invoices feed its segment and the portfolio; customer rows are built
    only for ``customers_needed`` (codes), the customers with something to forecast.
    """
    window = int(config.window_half_lives * config.half_life_days)
    idx = np.flatnonzero(
        (history.invoice_day <= origin_day) & (history.due_day >= origin_day - window) & (history.amount > 0)
    )
    due = history.due_day[idx]
    amount = history.amount[idx]
    weight = np.power(0.5, np.maximum(origin_day - due, 0) / config.half_life_days)
    local = np.full(len(history.amount), -1)
    local[idx] = np.arange(len(idx))

    ev_sel = (history.ev_known_day <= origin_day) & (local[history.ev_invoice] >= 0)
    pos = local[history.ev_invoice[ev_sel]]
    ev_bin = lag_bin(history.ev_effective_day[ev_sel] - due[pos])
    ev_kind = history.ev_kind[ev_sel]
    ev_frac = np.clip(history.ev_amount[ev_sel] / amount[pos], 0.0, 1.0)
    open_frac = np.clip(1.0 - np.bincount(pos, weights=ev_frac, minlength=len(idx)), 0.0, 1.0)
    cens_bin = lag_bin(origin_day - due)

    needed = np.unique(customers_needed)
    cust_local = np.full(len(history.customers), -1)
    cust_local[needed] = np.arange(len(needed))
    cust_row = cust_local[history.customer[idx]]

    def counts(row: np.ndarray, n: int, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        em = mask[pos]
        return _hazard_counts(
            row[mask],
            weight[mask],
            n,
            row[pos][em],
            ev_bin[em],
            ev_kind[em],
            weight[pos][em] * ev_frac[em],
            cens_bin[mask],
            weight[mask] * open_frac[mask],
        )

    # One counting pass: a row per needed customer, then one per segment for everyone else; the
    # segments and the portfolio are sums of those rows (counts and at-risk masses add up).
    n_need, n_seg = len(needed), len(history.segments)
    row = np.where(cust_row >= 0, cust_row, n_need + history.segment[idx])
    all_ev, all_risk = counts(row, n_need + n_seg, np.ones(len(idx), bool))
    segment_of_row = np.concatenate([history.customer_segment[needed], np.arange(n_seg)])
    seg_ev = np.stack([all_ev[:, segment_of_row == s].sum(axis=1) for s in range(n_seg)], axis=1)
    seg_risk = np.stack([all_risk[segment_of_row == s].sum(axis=0) for s in range(n_seg)])
    port_ev, port_risk = seg_ev.sum(axis=1, keepdims=True), seg_risk.sum(axis=0, keepdims=True)
    port_h = np.where(port_risk[None] > 0, port_ev / np.maximum(port_risk[None], 1e-12), 0.0)
    seg_h = _shrunk(seg_ev, seg_risk, port_h, config.prior_strength)
    cust_h = _shrunk(
        all_ev[:, :n_need], all_risk[:n_need], seg_h[:, history.customer_segment[needed]], config.prior_strength
    )
    disp_ev, disp_risk = counts(np.zeros(len(idx), np.int64), 1, history.dispute_opened_day[idx] <= origin_day)
    disp_h = _shrunk(disp_ev, disp_risk, port_h, config.prior_strength)

    cash_cdf, exit_cdf = _cdfs(np.concatenate([cust_h, seg_h, disp_h, port_h], axis=1))
    return TimingTables(
        customer_row=cust_local, n_customer_rows=n_need, n_segments=n_seg, cash_cdf=cash_cdf, exit_cdf=exit_cdf
    )


def _interp_rows(cdf: np.ndarray, rows: np.ndarray, lag: np.ndarray) -> np.ndarray:
    """Value of each row's piecewise-linear CDF at a continuous lag (clamped to the grid)."""
    x = np.clip(lag, LAG_EDGES[0], LAG_EDGES[-1])
    k = np.clip(np.searchsorted(LAG_EDGES, x, side="right") - 1, 0, N_BINS - 1)
    frac = (x - LAG_EDGES[k]) / (LAG_EDGES[k + 1] - LAG_EDGES[k])
    return cdf[rows, k] + frac * (cdf[rows, k + 1] - cdf[rows, k])


def _inverse_rows(cdf: np.ndarray, flat: np.ndarray, rows: np.ndarray, target: np.ndarray) -> np.ndarray:
    """First lag at which each row's cash CDF reaches ``target`` (rows x levels), linear within bins.

    ``flat`` is the CDF table flattened with row r offset by 2r (sorted, since every CDF lies in
    [0, 1]), so one searchsorted serves all rows.
    """
    width = cdf.shape[1]
    pos = np.searchsorted(flat, target + 2.0 * rows[:, None], side="left")
    k = np.clip(pos - rows[:, None] * width - 1, 0, N_BINS - 1)
    lo, hi = cdf[rows[:, None], k], cdf[rows[:, None], k + 1]
    frac = np.where(hi > lo, (target - lo) / np.where(hi > lo, hi - lo, 1.0), 1.0)
    return LAG_EDGES[k] + np.clip(frac, 0.0, 1.0) * (LAG_EDGES[k + 1] - LAG_EDGES[k])


#: Items whose quantiles are computed at once (bounds the items x levels temporaries).
QUANTILE_CHUNK = 100_000


def conditional_quantiles(
    tables: TimingTables, rows: np.ndarray, open_from_lag: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """p_collect and lag quantiles (levels ``LEVELS``) of items still open at ``open_from_lag``.

    ``open_from_lag`` is the continuous lag from which the item can still be paid (for an open
    invoice: days from due to origin, plus one). Returns ``(p_collect, lag_quantiles)``; lag
    quantiles are in days after the due date and never below ``open_from_lag``.
    """
    x0 = np.asarray(open_from_lag, np.float64)
    cash0 = _interp_rows(tables.cash_cdf, rows, x0)
    survival = 1.0 - _interp_rows(tables.exit_cdf, rows, x0)
    cash_end = tables.cash_cdf[rows, -1]
    alive = (survival > 1e-9) & (x0 < LAG_EDGES[-1])
    p_collect = np.where(alive, np.clip((cash_end - cash0) / np.maximum(survival, 1e-9), 0.0, 1.0), 0.0)
    flat = (tables.cash_cdf + 2.0 * np.arange(tables.cash_cdf.shape[0])[:, None]).ravel()
    # A hair inside both ends, so level 0 lands where the CDF starts rising after the open point
    # and level 1 where it stops rising, not at the ends of flat stretches.
    eps = 1e-9
    steps = eps + LEVELS[None, :] * (1.0 - 2.0 * eps)
    lags = np.empty((len(rows), len(LEVELS)))
    for start in range(0, len(rows), QUANTILE_CHUNK):
        part = slice(start, start + QUANTILE_CHUNK)
        target = cash0[part, None] + steps * (cash_end[part] - cash0[part])[:, None]
        lags[part] = np.maximum(_inverse_rows(tables.cash_cdf, flat, rows[part], target), x0[part, None])
    return p_collect, np.maximum.accumulate(lags, axis=1)


def complete_quantiles(frame: pd.DataFrame, levels: dict[str, float]) -> np.ndarray:
    """A (items x len(LEVELS)) quantile matrix from any subset of levels, e.g. a risk model's p10/p50/p90.

    Levels in between are interpolated linearly; the tails beyond the outermost given levels are
    extended with the slope of the nearest given span (never below one day after the origin).
    ``levels`` maps column name to level, e.g. ``{"q0100": 0.1, "q0500": 0.5, "q0900": 0.9}``.
    """
    names = sorted(levels, key=levels.get)
    given = np.array([levels[n] for n in names])
    values = np.maximum.accumulate(frame[names].to_numpy(np.float64), axis=1)
    if len(names) == 1:
        return np.maximum(np.repeat(values, len(LEVELS), axis=1), 1.0)
    out = np.empty((len(frame), len(LEVELS)))
    for j, level in enumerate(LEVELS):
        k = int(np.clip(np.searchsorted(given, level, side="right") - 1, 0, len(given) - 2))
        frac = (level - given[k]) / (given[k + 1] - given[k])
        out[:, j] = values[:, k] + frac * (values[:, k + 1] - values[:, k])
    return np.maximum(np.maximum.accumulate(np.maximum(out, 1.0), axis=1), 1.0)


def sample_days(quantiles: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Days to payment at uniform draws ``u`` (items x sims), linear between quantile levels.

    One flat gather per bound (row-major offsets) instead of two-dimensional fancy indexing.
    """
    levels = quantiles.shape[1]
    pos = np.clip(u, 0, 1) * np.asarray(levels - 1, dtype=u.dtype)
    k = np.minimum(pos.astype(np.int64), levels - 2)
    frac = pos - k
    idx = k + (np.arange(quantiles.shape[0]) * levels)[:, None]
    flat = quantiles.ravel()
    lo = flat[idx]
    return lo + frac * (flat[idx + 1] - lo)
