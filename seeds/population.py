"""The synthetic customer base: master data, CRM context and latent payment behaviour.

Every customer is one row of a set of numpy arrays (struct of arrays) so that the ledger can look
up behaviour for millions of invoices with fancy indexing. The latent behaviour is what gives the
KPIs, risk models and forecasts built on this data real signal to find:

* an archetype (prompt, normal, chronic late, erratic, deteriorating, improving, defaulter) that
  sets the mean and spread of days paid after the due date;
* a trend that starts at a customer-specific date (deteriorating customers slow down, improving
  ones speed up), so recent history predicts better than old history;
* seasonality (December for everyone, July/August mostly in EMEA);
* propensities to dispute, to pay in instalments, to keep a promise to pay, and payment runs on a
  fixed weekday that make one payment settle several invoices;
* a lifecycle: onboarding during the history, churn, and for defaulters a date after which they
  stop paying, followed months later by the write-off of what is still open.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CURRENCIES = ("USD", "EUR", "GBP", "CAD")
REPORTING_CURRENCY = "USD"
#: Value of one unit in USD at the start of the history; FX paths start here.
BASE_RATES = np.array([1.0, 1.08, 1.27, 0.74])

SEGMENTS = ("enterprise", "mid_market", "smb")
SEGMENT_SHARES = (0.10, 0.30, 0.60)
#: Median invoice in USD and relative invoicing frequency by segment.
SEGMENT_MEDIAN_USD = np.array([18_000.0, 4_500.0, 900.0])
SEGMENT_ACTIVITY = np.array([6.0, 2.5, 1.0])

REGIONS = ("north_america", "emea", "apac")
REGION_SHARES = (0.55, 0.35, 0.10)
#: (country, region index, currency index, VAT/GST/sales-tax rates to draw from, weight in region)
COUNTRIES = (
    ("US", 0, 0, (0.0, 0.06, 0.0725, 0.0825), 0.75),
    ("CA", 0, 3, (0.13,), 0.25),
    ("DE", 1, 1, (0.19,), 0.25),
    ("FR", 1, 1, (0.20,), 0.18),
    ("NL", 1, 1, (0.21,), 0.12),
    ("GB", 1, 2, (0.20,), 0.30),
    ("ES", 1, 1, (0.21,), 0.08),
    ("IE", 1, 1, (0.23,), 0.07),
    ("SG", 2, 0, (0.09,), 0.40),
    ("AU", 2, 0, (0.10,), 0.35),
    ("JP", 2, 0, (0.10,), 0.25),
)
LEGAL_SUFFIX = {
    "US": ("Inc.", "LLC", "Corp."),
    "CA": ("Ltd.", "Inc."),
    "DE": ("GmbH", "AG"),
    "FR": ("SAS", "SARL"),
    "NL": ("B.V.",),
    "GB": ("Ltd", "plc"),
    "ES": ("S.L.", "S.A."),
    "IE": ("Ltd",),
    "SG": ("Pte. Ltd.",),
    "AU": ("Pty Ltd",),
    "JP": ("K.K.",),
}

TERMS = ("NET15", "NET30", "NET45", "NET60", "EOM")
TERM_DAYS = np.array([15, 30, 45, 60, -1])  # -1: end of the month following the document month
EOM_TERMS = 4
TERM_PROBS = {  # by segment
    0: (0.00, 0.30, 0.30, 0.30, 0.10),
    1: (0.10, 0.55, 0.20, 0.05, 0.10),
    2: (0.35, 0.50, 0.05, 0.00, 0.10),
}

METHODS = ("ach", "wire", "check", "card", "sepa", "bacs", "eft")
CARD = METHODS.index("card")
CHECK = METHODS.index("check")
METHOD_PROBS = {  # by currency
    0: (0.50, 0.15, 0.15, 0.20, 0.00, 0.00, 0.00),
    1: (0.00, 0.10, 0.00, 0.15, 0.75, 0.00, 0.00),
    2: (0.00, 0.10, 0.00, 0.20, 0.00, 0.70, 0.00),
    3: (0.00, 0.05, 0.15, 0.20, 0.00, 0.00, 0.60),
}

ARCHETYPES = ("prompt", "normal", "chronic_late", "erratic", "deteriorating", "improving", "defaulter")
#: Shares of the paying archetypes; defaulters are chosen separately (DEFAULT_SHARE, at least 2).
ARCHETYPE_SHARES = (0.29, 0.36, 0.13, 0.08, 0.08, 0.06)
DEFAULT_SHARE = 0.03
DETERIORATING, IMPROVING, DEFAULTER = 4, 5, 6
#: Uniform ranges per archetype: mean days paid after due, spread, promise-keeping propensity.
_DELAY_MEAN = ((-9, -3), (-3, 5), (18, 40), (0, 12), (-4, 4), (20, 35), (0, 12))
_DELAY_SD = ((1.5, 4), (4, 9), (8, 18), (20, 35), (4, 9), (6, 12), (6, 14))
_KEEP = ((0.8, 0.95), (0.75, 0.9), (0.4, 0.7), (0.3, 0.6), (0.3, 0.6), (0.6, 0.8), (0.05, 0.2))

NEVER = np.iinfo(np.int32).max // 2

_PREFIXES = (
    "Apex",
    "Blue River",
    "Cedar",
    "Delta",
    "Evergreen",
    "Falcon",
    "Granite",
    "Harbor",
    "Ironwood",
    "Juniper",
    "Keystone",
    "Lakeside",
    "Meridian",
    "Northwind",
    "Oakridge",
    "Pioneer",
    "Quarry",
    "Redstone",
    "Summit",
    "Tidewater",
    "Union",
    "Vanguard",
    "Westfield",
    "Yellowpine",
    "Zenith",
    "Atlas",
    "Beacon",
    "Cobalt",
    "Driftwood",
    "Ember",
    "Frontier",
    "Golden Gate",
    "Highland",
)
_NOUNS = (
    "Logistics",
    "Foods",
    "Manufacturing",
    "Health",
    "Software",
    "Retail",
    "Energy",
    "Builders",
    "Analytics",
    "Pharma",
    "Textiles",
    "Motors",
    "Labs",
    "Hospitality",
    "Media",
    "Supply",
    "Engineering",
    "Distribution",
    "Packaging",
    "Telecom",
    "Instruments",
    "Outfitters",
    "Clinics",
)
FIRST_NAMES = (
    "Ava",
    "Ben",
    "Chloe",
    "Daniel",
    "Elena",
    "Felix",
    "Grace",
    "Hugo",
    "Isla",
    "Jonas",
    "Kara",
    "Liam",
    "Maya",
    "Noah",
    "Olivia",
    "Paul",
    "Quinn",
    "Rosa",
    "Sami",
    "Tara",
    "Uma",
    "Victor",
    "Wen",
    "Xavier",
    "Yara",
    "Zoe",
    "Amir",
    "Bianca",
    "Carlos",
    "Dana",
    "Emil",
    "Fatima",
)
LAST_NAMES = (
    "Adams",
    "Berg",
    "Costa",
    "Dubois",
    "Evans",
    "Fischer",
    "Garcia",
    "Hansen",
    "Ito",
    "Jensen",
    "Kowalski",
    "Lopez",
    "Martin",
    "Nguyen",
    "Okafor",
    "Patel",
    "Quinn",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Umar",
    "Varga",
    "Weber",
    "Xu",
    "Young",
    "Zimmer",
    "Novak",
    "Silva",
    "Murphy",
)


@dataclass(frozen=True)
class Population:
    """All customers as parallel arrays; index ``i`` is one customer everywhere."""

    number: np.ndarray  # int64 ERP customer number (rendered as an all-digit id)
    name: np.ndarray  # object
    country: np.ndarray  # object
    region: np.ndarray  # int8 index into REGIONS
    currency: np.ndarray  # int8 index into CURRENCIES
    segment: np.ndarray  # int8 index into SEGMENTS
    terms: np.ndarray  # int8 index into TERMS
    credit_limit: np.ndarray  # int64 cents
    tax_rate: np.ndarray  # float64
    po_required: np.ndarray  # bool
    activity: np.ndarray  # float64 relative invoicing frequency
    size_mu: np.ndarray  # float64 log of the median invoice in cents of the customer's currency
    method: np.ndarray  # int8 index into METHODS
    payment_weekday: np.ndarray  # int8 weekday of the payment run, -1 pays invoice by invoice
    # latent behaviour
    archetype: np.ndarray  # int8 index into ARCHETYPES
    delay_mean: np.ndarray  # float64 days after due
    delay_sd: np.ndarray  # float64
    trend_start: np.ndarray  # int32 day the trend begins
    trend_per_day: np.ndarray  # float64 extra days late per day since trend_start
    december_effect: np.ndarray  # float64 extra days late for December due dates
    summer_effect: np.ndarray  # float64 extra days late for July/August due dates
    p_dispute: np.ndarray
    p_partial: np.ndarray
    p_keep_promise: np.ndarray
    # lifecycle
    start_day: np.ndarray  # int32 first day the customer can be invoiced
    end_day: np.ndarray  # int32 last day the customer can be invoiced (NEVER if active)
    default_day: np.ndarray  # int32 day from which the customer stops paying (NEVER if not)
    write_off_day: np.ndarray  # int32 day its open items are written off (NEVER if not)
    # CRM context
    account_number: np.ndarray  # int64
    parent: np.ndarray  # int32 index of the CRM parent customer, -1 for none
    erp_parent: np.ndarray  # int32 index of the parent recorded in the ERP, -1 for none
    owner: np.ndarray  # object account executive
    collector: np.ndarray  # object

    def __len__(self) -> int:
        return len(self.number)

    def active_between(self, first_day: int, last_day: int) -> np.ndarray:
        return (self.start_day <= last_day) & (self.end_day >= first_day)


def _uniform_ranges(rng: np.random.Generator, ranges: tuple, index: np.ndarray) -> np.ndarray:
    lo = np.array([r[0] for r in ranges], dtype=float)[index]
    hi = np.array([r[1] for r in ranges], dtype=float)[index]
    return rng.uniform(lo, hi)


def _by_group(rng: np.random.Generator, probs: dict[int, tuple], groups: np.ndarray) -> np.ndarray:
    out = np.zeros(len(groups), dtype=np.int8)
    for g, p in probs.items():
        mask = groups == g
        out[mask] = rng.choice(len(p), size=int(mask.sum()), p=np.array(p) / sum(p))
    return out


def person_names(rng: np.random.Generator, n: int) -> np.ndarray:
    first = np.array(FIRST_NAMES, dtype=object)[rng.integers(0, len(FIRST_NAMES), n)]
    last = np.array(LAST_NAMES, dtype=object)[rng.integers(0, len(LAST_NAMES), n)]
    return first + " " + last


def _company_names(rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
    prefix = np.array(_PREFIXES, dtype=object)[rng.integers(0, len(_PREFIXES), len(country))]
    noun = np.array(_NOUNS, dtype=object)[rng.integers(0, len(_NOUNS), len(country))]
    suffix = np.array([LEGAL_SUFFIX[c][rng.integers(0, len(LEGAL_SUFFIX[c]))] for c in country], dtype=object)
    # US exports write "Name, Inc." with a comma, which the CSV writer must quote.
    sep = np.where((country == "US") & (suffix == "Inc."), ", ", " ").astype(object)
    return prefix + " " + noun + sep + suffix


def _countries(rng: np.random.Generator, region: np.ndarray) -> np.ndarray:
    out = np.empty(len(region), dtype=np.int64)
    for r in range(len(REGIONS)):
        members = [i for i, c in enumerate(COUNTRIES) if c[1] == r]
        weights = np.array([COUNTRIES[i][4] for i in members])
        mask = region == r
        out[mask] = np.array(members)[rng.choice(len(members), int(mask.sum()), p=weights / weights.sum())]
    return out


def _hierarchy(rng: np.random.Generator, segment: np.ndarray) -> np.ndarray:
    """CRM parent of each customer: groups of 1-5 subsidiaries under enterprise/mid-market
    parents, some parents under a holding parent (depth 3). Acyclic by construction."""
    n = len(segment)
    parent = np.full(n, -1, dtype=np.int32)
    candidates = np.flatnonzero(segment < 2)
    n_groups = min(len(candidates), int(round(0.06 * n)))
    if n_groups == 0:
        return parent
    roots = rng.choice(candidates, n_groups, replace=False)
    others = rng.permutation(np.setdiff1d(np.arange(n), roots))
    sizes = rng.integers(1, 6, n_groups)
    start = 0
    for root, size in zip(roots, sizes, strict=True):
        children = others[start : start + size]
        parent[children] = root
        start += size
        if start >= len(others):
            break
    # a few parents belong to a holding parent that is itself a top-level root
    for i in range(1, n_groups):
        if rng.random() < 0.15 and parent[roots[i - 1]] == -1:
            parent[roots[i]] = roots[i - 1]
    return parent


def _defaults(rng: np.random.Generator, start_day: np.ndarray, history_start: int, as_of: int):
    """Pick the customers that default (established ones, at least two) and when.

    Half default early enough that their open items are written off before the as-of date; the
    others default late, so their unpaid invoices are still open, past 120 days, at the as-of date.
    Returns the defaulter mask and the default day per customer (NEVER for the others).
    """
    n = len(start_day)
    candidates = np.flatnonzero(start_day < history_start)
    k = min(len(candidates), max(2, int(round(DEFAULT_SHARE * n))))
    chosen = rng.choice(candidates, k, replace=False)
    early = np.arange(k) % 2 == 0
    day = np.where(
        early,
        rng.integers(history_start + 150, as_of - 270, k),
        rng.integers(as_of - 200, as_of - 20, k),
    )
    mask = np.zeros(n, dtype=bool)
    mask[chosen] = True
    default_day = np.full(n, NEVER, dtype=np.int32)
    default_day[chosen] = day
    return mask, default_day


def build_population(rng: np.random.Generator, n: int, history_start: int, as_of: int) -> Population:
    """Draw ``n`` customers whose history runs from ``history_start`` to ``as_of`` (day numbers)."""
    segment = rng.choice(3, n, p=SEGMENT_SHARES).astype(np.int8)
    region = rng.choice(3, n, p=REGION_SHARES).astype(np.int8)
    country_idx = _countries(rng, region)
    country = np.array([COUNTRIES[i][0] for i in country_idx], dtype=object)
    currency = np.array([COUNTRIES[i][2] for i in country_idx], dtype=np.int8)
    tax_rate = np.array([COUNTRIES[i][3][rng.integers(0, len(COUNTRIES[i][3]))] for i in country_idx])
    terms = _by_group(rng, TERM_PROBS, segment)
    method = _by_group(rng, METHOD_PROBS, currency)
    method[(segment == 0) & (method == CARD)] = METHODS.index("wire")  # enterprises do not pay by card

    size_usd = SEGMENT_MEDIAN_USD[segment] * rng.lognormal(0.0, 0.6, n)
    size_mu = np.log(size_usd / BASE_RATES[currency] * 100.0)
    activity = SEGMENT_ACTIVITY[segment] * rng.lognormal(0.0, 0.6, n)
    limit_base = np.array([1_000_000.0, 150_000.0, 20_000.0])[segment] * rng.lognormal(0.0, 0.5, n)
    credit_limit = (np.round(limit_base / 1000.0) * 1000.0 * 100).astype(np.int64)
    batch_share = np.array([0.7, 0.45, 0.1])[segment]
    payment_weekday = np.where(rng.random(n) < batch_share, rng.integers(1, 5, n), -1).astype(np.int8)

    onboarded_late = rng.random(n) < 0.35
    start_day = np.where(
        onboarded_late,
        rng.integers(history_start, as_of - 30, n),
        history_start - rng.integers(30, 1500, n),
    ).astype(np.int32)
    archetype = rng.choice(len(ARCHETYPE_SHARES), n, p=ARCHETYPE_SHARES).astype(np.int8)
    defaulter, default_day = _defaults(rng, start_day, history_start, as_of)
    archetype[defaulter] = DEFAULTER
    delay_mean = _uniform_ranges(rng, _DELAY_MEAN, archetype)
    delay_sd = _uniform_ranges(rng, _DELAY_SD, archetype)
    p_keep = _uniform_ranges(rng, _KEEP, archetype)
    span = as_of - history_start
    trend_start = (history_start + rng.uniform(0.25, 0.7, n) * span).astype(np.int32)
    trend_per_day = np.where(
        archetype == DETERIORATING,
        rng.uniform(0.06, 0.15, n),
        np.where(archetype == IMPROVING, -rng.uniform(0.04, 0.08, n), 0.0),
    )
    december_effect = rng.uniform(3.0, 12.0, n)
    summer_effect = np.where(region == 1, rng.uniform(4.0, 10.0, n), rng.uniform(0.0, 3.0, n))
    p_dispute = rng.uniform(0.005, 0.06, n) * np.where(segment == 0, 1.3, 1.0)
    p_partial = rng.uniform(0.0, 1.0, n) * np.where(segment == 2, 0.12, 0.06)

    write_off_day = np.full(n, NEVER, dtype=np.int32)
    write_off_day[defaulter] = default_day[defaulter] + rng.integers(150, 260, int(defaulter.sum()))
    end_day = np.full(n, NEVER, dtype=np.int32)
    end_day[defaulter] = default_day[defaulter] + rng.integers(20, 90, int(defaulter.sum()))
    churn = ~defaulter & (rng.random(n) < 0.07) & (start_day + 180 < as_of)
    end_day[churn] = rng.integers(np.maximum(start_day[churn] + 180, history_start), as_of)

    parent = _hierarchy(rng, segment)
    erp_parent = np.where((parent >= 0) & (rng.random(n) < 0.6), parent, -1).astype(np.int32)
    owners = person_names(rng, max(3, n // 35))
    collectors = person_names(rng, max(3, n // 60))
    collector_idx = (region.astype(np.int64) * 7 + rng.integers(0, len(collectors), n)) % len(collectors)

    return Population(
        number=10001 + np.arange(n, dtype=np.int64),
        name=_company_names(rng, country),
        country=country,
        region=region,
        currency=currency,
        segment=segment,
        terms=terms,
        credit_limit=credit_limit,
        tax_rate=tax_rate,
        po_required=rng.random(n) < np.array([0.8, 0.5, 0.1])[segment],
        activity=activity,
        size_mu=size_mu,
        method=method,
        payment_weekday=payment_weekday,
        archetype=archetype,
        delay_mean=delay_mean,
        delay_sd=delay_sd,
        trend_start=trend_start,
        trend_per_day=trend_per_day,
        december_effect=december_effect,
        summer_effect=summer_effect,
        p_dispute=p_dispute,
        p_partial=p_partial,
        p_keep_promise=p_keep,
        start_day=start_day,
        end_day=end_day,
        default_day=default_day,
        write_off_day=write_off_day,
        account_number=100001 + rng.permutation(n).astype(np.int64),
        parent=parent,
        erp_parent=erp_parent,
        owner=owners[rng.integers(0, len(owners), n)],
        collector=collectors[collector_idx],
    )
