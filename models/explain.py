"""Why a row is risky, from the model, in sentences a collector understands.

**Method (group occlusion).** The features are grouped into reasons a collector recognises
(payment history, recent trend, other overdue invoices, exposure, invoice size, terms, age,
disputes, promises, contact, customer profile, season). For each row and group, the
contribution is the change in the classifier's raw score (log-odds, before calibration, which
is monotone) when that group's features are replaced by the training rows' typical values
(median of each number, most frequent category): how much more (or less) likely to be late
this row is *because of* that group, all else as it is. It needs one extra prediction per group
and no extra library, and it reads the very model that scored the row. Interactions are
credited to each group they touch, so contributions do not add up to the score exactly; they
rank reasons, they are not an accounting identity.

The row's live question decides which classifier is read: P(late) while the invoice is not
late yet, P(severe) once it is. The top reasons are the groups with the largest contributions
above ``MIN_CONTRIBUTION`` (0.05 log-odds); a row with none gets its strongest risk-lowering
reason ("paid 18 of its 20 invoices on time"). Each group renders one sentence from the row's
own values. A customer with insufficient history is scored from its segment's prior, and says
so first.
"""

from __future__ import annotations

import calendar
import math

import numpy as np
import pandas as pd

from models.features import CATEGORICAL, feature_matrix
from models.labels import days_past_due_on
from models.risk import (
    CalibratedClassifier,
    ConstantProbability,
    RiskModel,
    insufficient_history,
)

GROUPS: dict[str, tuple[str, ...]] = {
    "payment_history": (
        "paid_invoice_count",
        "late_invoice_count",
        "late_share",
        "severe_late_share",
        "partial_payment_share",
        "days_beyond_terms_mean",
        "days_late_when_late_mean",
        "days_late_mean",
        "days_beyond_terms_median_last_10",
        "days_since_last_late_payment",
    ),
    "trend": ("days_beyond_terms_mean_last_5", "days_beyond_terms_trend", "days_late_mean_last_5"),
    "overdue_elsewhere": ("other_overdue_invoice_count", "other_overdue_balance_reporting", "other_overdue_share"),
    "exposure": ("other_open_invoice_count", "other_open_balance_reporting", "credit_limit_use"),
    "invoice_size": ("amount_reporting_value", "invoice_size_ratio", "usual_invoice_amount_reporting"),
    "terms": ("terms_days", "usual_terms_days", "payment_terms", "due_date_is_imputed"),
    "age": ("age_days", "days_past_due", "open_share"),
    "disputes": ("own_dispute_open", "own_dispute_count", "customer_dispute_count"),
    "promises": (
        "broken_promise_count",
        "days_since_broken_promise",
        "own_broken_promise_count",
        "own_promise_pending",
    ),
    "contact": ("days_since_last_touch",),
    "customer_profile": (
        "segment",
        "region",
        "country",
        "currency",
        "document_type",
        "customer_tenure_days",
        "prior_invoice_count",
        "written_off_invoice_count",
    ),
    "season": ("due_month",),
}
#: Groups that describe the customer's own history: not used to explain a prior-scored row.
HISTORY_GROUPS = ("payment_history", "trend")
MIN_CONTRIBUTION = 0.05
TOP_REASONS = 3


def contributions(
    classifier: CalibratedClassifier | ConstantProbability, rows: pd.DataFrame, reference: dict
) -> pd.DataFrame:
    """Per row and group: raw score minus the raw score with the group set to the reference."""
    matrix = feature_matrix(rows, classifier.categories)
    base = classifier.raw_matrix(matrix)
    out = pd.DataFrame(index=rows.index)
    for group, names in GROUPS.items():
        occluded = matrix.copy()
        for name in names:
            if name in CATEGORICAL:
                occluded[name] = pd.Categorical(
                    [reference[name]] * len(occluded), categories=matrix[name].cat.categories
                )
            else:
                occluded[name] = reference[name]
        out[group] = base - classifier.raw_matrix(occluded)
    return out


def _num(row: dict, name: str) -> float:
    value = row.get(name)
    try:
        value = float(value)
    except (TypeError, ValueError):
        return math.nan
    return value


def _money(amount: float, currency: str) -> str:
    return f"{currency} {amount:,.0f}"


def _plural(n: float, word: str) -> str:
    n = int(n)
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def sentence(group: str, row: dict, raises_risk: bool, currency: str) -> str | None:
    """The group's reason for this row in plain words, or None when its values say nothing."""
    if group == "payment_history":
        paid, late = _num(row, "paid_invoice_count"), _num(row, "late_invoice_count")
        if not paid > 0:
            return "no paid invoice yet to judge by"
        if raises_risk:
            days = _num(row, "days_late_when_late_mean")
            when = f", {days:.0f} days on average" if days > 0 else ""
            return f"paid {int(late)} of its {_plural(paid, 'invoice')} late{when}"
        return f"paid {int(paid - late)} of its {_plural(paid, 'invoice')} on time"
    if group == "trend":
        recent, trend = _num(row, "days_beyond_terms_mean_last_5"), _num(row, "days_beyond_terms_trend")
        if math.isnan(trend):
            return None
        overall = recent - trend
        pace = "later" if trend > 0 else "faster"
        return (
            f"paying {pace} lately: {recent:.0f} days beyond terms on its last 5 invoices against {overall:.0f} overall"
        )
    if group == "overdue_elsewhere":
        count, amount = _num(row, "other_overdue_invoice_count"), _num(row, "other_overdue_balance_reporting")
        if count > 0:
            return f"{_plural(count, 'other invoice')} overdue ({_money(amount, currency)})"
        return "no other invoice overdue"
    if group == "exposure":
        count, amount, use = (
            _num(row, "other_open_invoice_count"),
            _num(row, "other_open_balance_reporting"),
            _num(row, "credit_limit_use"),
        )
        limit = f", {use:.0%} of its credit limit in use" if use >= 0 else ""
        if count > 0:
            return f"owes {_money(amount, currency)} on {_plural(count, 'other open invoice')}{limit}"
        return f"no other open invoice{limit}"
    if group == "invoice_size":
        ratio = _num(row, "invoice_size_ratio")
        if ratio >= 1.5:
            return f"{ratio:.1f} times the customer's usual invoice"
        if 0 <= ratio < 0.1:
            return "under a tenth of the customer's usual invoice"
        if 0.1 <= ratio <= 0.67:
            return f"a small invoice for this customer ({ratio:.1f} times its usual)"
        amount = _num(row, "amount_reporting_value")
        return f"an invoice of {_money(amount, currency)}" if amount > 0 else None
    if group == "terms":
        terms = _num(row, "terms_days")
        return f"{terms:.0f}-day payment terms" if terms >= 0 else None
    if group == "age":
        past_due = _num(row, "days_past_due")
        if past_due > 0:
            return f"already {_plural(past_due, 'day')} past due"
        if past_due == 0:
            return "due today"
        return f"due in {_plural(-past_due, 'day')}" if past_due < 0 else None
    if group == "disputes":
        if _num(row, "own_dispute_open") > 0:
            opened = row.get("own_last_dispute_opened_date")
            since = f" since {pd.Timestamp(opened).date().isoformat()}" if pd.notna(opened) else ""
            return f"in dispute{since}"
        disputes = _num(row, "customer_dispute_count")
        if disputes > 0:
            return f"{_plural(disputes, 'dispute')} raised on its invoices"
        return "no dispute on record"
    if group == "promises":
        if _num(row, "own_promise_pending") > 0:
            promised = row.get("own_pending_promised_date")
            on = f" on {pd.Timestamp(promised).date().isoformat()}" if pd.notna(promised) else ""
            return f"promised to pay{on}"
        broken = _num(row, "broken_promise_count")
        if broken > 0:
            last = row.get("last_broken_promised_date")
            on = f" on {pd.Timestamp(last).date().isoformat()}" if pd.notna(last) else ""
            more = f" ({_plural(broken, 'broken promise')} in all)" if broken > 1 else ""
            return f"promise broken{on}{more}"
        return "no broken promise"
    if group == "contact":
        days = _num(row, "days_since_last_touch")
        if math.isnan(days):
            return "never contacted by a collector"
        return (
            f"no collector contact for {_plural(days, 'day')}"
            if raises_risk
            else f"contacted {_plural(days, 'day')} ago"
        )
    if group == "customer_profile":
        tenure = _num(row, "customer_tenure_days")
        if tenure < 180 or math.isnan(tenure):
            return "a new customer" if math.isnan(tenure) else f"a customer for {_plural(tenure, 'day')} only"
        segment, region = row.get("segment"), row.get("region")
        where = f" in {region}" if isinstance(region, str) else ""
        return f"{segment} customer{where}" if isinstance(segment, str) else None
    if group == "season":
        month = _num(row, "due_month")
        return f"due in {calendar.month_name[int(month)]}" if 1 <= month <= 12 else None
    raise ValueError(f"unknown reason group {group!r}")


def reasons_for(
    contribution: dict[str, float], row: dict, currency: str, skip: tuple[str, ...] = (), top: int = TOP_REASONS
) -> list[str]:
    """The row's top reasons, strongest first (see module doc)."""
    ranked = sorted(((value, group) for group, value in contribution.items() if group not in skip), reverse=True)
    out = []
    for value, group in ranked:
        if value < MIN_CONTRIBUTION or len(out) >= top:
            break
        text = sentence(group, row, True, currency)
        if text:
            out.append(text)
    if not out:
        for value, group in reversed(ranked):
            text = sentence(group, row, value > 0, currency)
            if text:
                out.append(text)
                break
    return out


def prior_lead(row: dict) -> str:
    """The first reason of a row scored from its segment's prior."""
    segment = row.get("segment") if isinstance(row.get("segment"), str) else "other"
    paid = np.nan_to_num(_num(row, "paid_invoice_count"))
    return f"little payment history ({_plural(paid, 'paid invoice')}): scored like other {segment} customers"


def explain(model: RiskModel, rows: pd.DataFrame, reporting_currency: str) -> pd.Series:
    """The reasons of every row, as one string of sentences separated by '; ' (index kept)."""
    if rows.empty:
        return pd.Series([], index=rows.index, dtype=object)
    late_yet = days_past_due_on(rows) > model.params.targets.grace_days
    thin = insufficient_history(rows, model.params)
    reasons = pd.Series("", index=rows.index, dtype=object)
    for mask, classifier in ((~late_yet, model.late), (late_yet, model.severe)):
        if not mask.any():
            continue
        part = rows[mask]
        table = contributions(classifier, part, model.reference).to_dict("records")
        found = []
        for record, contribution, prior in zip(part.to_dict("records"), table, thin[mask], strict=True):
            if prior:
                tail = reasons_for(contribution, record, reporting_currency, skip=HISTORY_GROUPS, top=TOP_REASONS - 1)
                found.append("; ".join([prior_lead(record), *tail]))
            else:
                found.append("; ".join(reasons_for(contribution, record, reporting_currency)))
        reasons[mask] = found
    return reasons
