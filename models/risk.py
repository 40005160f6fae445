"""The risk model: calibrated P(late) and P(severe), and the pay-time distribution, per row.

- **Classifiers.** Per target, gradient boosting (scikit-learn's
  ``HistGradientBoostingClassifier``, fixed seed, no early stopping, monotone increasing in the
  customer's own lateness record) and a logistic regression, trained on the undecided rows
  (``labels``: a row already past its deadline on its scoring day has a fixed label and is
  published as 1) scored before the last ``calibration_share`` (20 %) of the training days.
  **Stacking and calibration** on those last days: a logistic regression of the outcome on
  the two log-odds weighs the models and maps their combination to a probability (sigmoid;
  optionally an isotonic map of the combined score). Measured: on the IBM sample (1,900
  training invoices) the stacker leans on the linear model, on a 20,000-invoice generated
  ledger on boosting; either alone loses on the other. Calibrating on the latest rows, not on
  random folds, also absorbs drift between what the models learned and now.
- **Insufficient history.** A customer with fewer than ``min_paid_invoices`` (5) paid invoices
  or fewer than ``min_history_days`` (84, twelve weeks) since its first invoice on the scoring
  day is flagged ``insufficient_history`` and scored from its segment's prior instead
  (``SegmentPriors``): the late and severe rates and the pay-time distribution of the training
  rows of the same segment and days-past-due bucket.
- **Training window.** Rows scored in the last ``training_days`` (540) before the training day,
  at most ``max_training_rows`` (60,000, a uniform seeded sample beyond) per classifier and
  ``max_timing_pairs`` (150,000) (row, horizon) pairs for the timing model: the cost of
  training is bounded whatever the size of the ledger.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from models.features import (
    CATEGORICAL,
    NUMERIC,
    RISK_INCREASING,
    categories_of,
    feature_matrix,
    reference_row,
    trainable,
)
from models.labels import RiskTargets, days_past_due_on, late_labels, paid_within, past_due_bucket
from models.pay_time import HORIZONS, KnotCdf, TimingModel, fit_timing, monotone

MODEL_NAME = "gbm_logit_stack"
#: Days-past-due buckets of the segment priors (upper bounds; the last is open-ended).
PRIOR_BUCKETS = (0, 30, 60, 90)
#: Fewest rows a (segment, bucket) cell needs to be its own prior; below, the bucket's across segments.
MIN_PRIOR_ROWS = 30


@dataclass(frozen=True)
class RiskParams:
    targets: RiskTargets = field(default_factory=RiskTargets)
    min_paid_invoices: int = 5
    min_history_days: int = 84
    training_days: int = 540
    max_training_rows: int = 60_000
    max_timing_pairs: int = 150_000
    calibration: str = "sigmoid"
    calibration_share: float = 0.2
    horizons: tuple[int, ...] = HORIZONS
    max_iter: int = 100
    learning_rate: float = 0.08
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 40
    l2_regularization: float = 1.0
    monotone: bool = True
    linear_c: float = 0.5
    seed: int = 0

    def __post_init__(self) -> None:
        if self.calibration not in ("isotonic", "sigmoid"):
            raise ValueError(f"calibration must be 'isotonic' or 'sigmoid', got {self.calibration!r}")
        if not 0.0 < self.calibration_share < 1.0:
            raise ValueError(f"calibration_share must be in (0, 1), got {self.calibration_share}")


def insufficient_history(rows: pd.DataFrame, params: RiskParams) -> np.ndarray:
    """True where the customer had too little history on the scoring day to be scored on its own."""
    paid = pd.to_numeric(rows["paid_invoice_count"], errors="coerce").fillna(0).to_numpy()
    tenure = pd.to_numeric(rows["customer_tenure_days"], errors="coerce").fillna(-1).to_numpy()
    return (paid < params.min_paid_invoices) | (tenure < params.min_history_days)


def prior_bucket(rows: pd.DataFrame) -> np.ndarray:
    """The days-past-due bucket label of each row on its scoring day ('not_due', '1-30', ...)."""
    return past_due_bucket(rows, PRIOR_BUCKETS)


def linear_matrix(matrix: pd.DataFrame) -> pd.DataFrame:
    """The model matrix as the linear model reads it: categories as text, 'missing' for none."""
    return matrix.assign(
        **{name: matrix[name].astype(object).where(matrix[name].notna(), "missing") for name in CATEGORICAL}
    )


def linear_model(params: RiskParams) -> Pipeline:
    """Logistic regression on standardised numbers (median-imputed, with missing-value
    indicators) and one-hot categories (rare ones, under 20 rows, pooled)."""
    numbers = make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True), StandardScaler()
    )
    categories = OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=20)
    return make_pipeline(
        ColumnTransformer([("numbers", numbers, list(NUMERIC)), ("categories", categories, list(CATEGORICAL))]),
        LogisticRegression(C=params.linear_c, max_iter=2000),
    )


@dataclass
class CalibratedClassifier:
    """Gradient boosting and a logistic regression, stacked and calibrated on the latest days:
    raw score = a * boosting log-odds + b * linear log-odds + c (``stacker``), probability =
    sigmoid of it (or an isotonic map of it). On a small ledger the stacker leans on the linear
    model, on a large one on boosting; the weights are in the model card."""

    boosting: HistGradientBoostingClassifier
    linear: Pipeline
    stacker: LogisticRegression
    isotonic: IsotonicRegression | None
    categories: dict[str, list[str]]

    def raw(self, rows: pd.DataFrame) -> np.ndarray:
        return self.raw_matrix(feature_matrix(rows, self.categories))

    def raw_matrix(self, matrix: pd.DataFrame) -> np.ndarray:
        scores = np.column_stack(
            [self.boosting.decision_function(matrix), self.linear.decision_function(linear_matrix(matrix))]
        )
        return self.stacker.decision_function(scores)

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        if self.isotonic is not None:
            return self.isotonic.predict(raw)
        return 1.0 / (1.0 + np.exp(-raw))

    def probability(self, rows: pd.DataFrame) -> np.ndarray:
        return self.calibrate(self.raw(rows))

    @property
    def weights(self) -> dict[str, float]:
        return {
            "boosting": float(self.stacker.coef_[0, 0]),
            "linear": float(self.stacker.coef_[0, 1]),
            "intercept": float(self.stacker.intercept_[0]),
        }


@dataclass
class ConstantProbability:
    """The stand-in when training saw one outcome only (no invoice was ever 60 days late): the
    observed rate for every row, and no contribution from any feature."""

    rate: float
    categories: dict[str, list[str]]

    def raw(self, rows: pd.DataFrame) -> np.ndarray:
        return np.zeros(len(rows))

    def raw_matrix(self, matrix: pd.DataFrame) -> np.ndarray:
        return np.zeros(len(matrix))

    def probability(self, rows: pd.DataFrame) -> np.ndarray:
        return np.full(len(rows), self.rate)


def _sample(n: int, limit: int, seed: int) -> np.ndarray:
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))


def boosting(params: RiskParams, **extra) -> HistGradientBoostingClassifier:
    """The gradient-boosting classifier of every model part, with the run's parameters."""
    return HistGradientBoostingClassifier(
        max_iter=params.max_iter,
        learning_rate=params.learning_rate,
        max_leaf_nodes=params.max_leaf_nodes,
        min_samples_leaf=params.min_samples_leaf,
        l2_regularization=params.l2_regularization,
        categorical_features="from_dtype",
        early_stopping=False,
        random_state=params.seed,
        **extra,
    )


class LedgerTooYoung(ValueError):
    """No training row has a decided label yet: nothing to learn from on that day."""


def fit_calibrated(
    rows: pd.DataFrame, labels: np.ndarray, categories: dict[str, list[str]], params: RiskParams
) -> CalibratedClassifier | ConstantProbability:
    """Fit on the earlier scoring days, calibrate on the last ``calibration_share`` of them.
    With a single outcome in either part, the observed rate (``ConstantProbability``)."""
    if len(rows) == 0:
        raise LedgerTooYoung("no training rows with a decided label: the ledger is too young to train on")
    keep = _sample(len(rows), params.max_training_rows, params.seed)
    rows, labels = rows.iloc[keep], labels[keep]
    days = rows["scoring_date"].to_numpy("datetime64[D]")
    cut = np.sort(days)[int(len(days) * (1 - params.calibration_share))]
    early = days < cut
    if early.all() or not early.any() or len(np.unique(labels[early])) < 2 or len(np.unique(labels[~early])) < 2:
        return ConstantProbability(float(np.mean(labels)), categories)
    train = trainable(feature_matrix(rows[early], categories))
    trees = boosting(params, monotonic_cst=dict.fromkeys(RISK_INCREASING, 1) if params.monotone else None)
    trees.fit(train, labels[early])
    linear = linear_model(params).fit(linear_matrix(train), labels[early])
    holdout = feature_matrix(rows[~early], categories)
    scores = np.column_stack([trees.decision_function(holdout), linear.decision_function(linear_matrix(holdout))])
    stacker = LogisticRegression().fit(scores, labels[~early])
    isotonic = None
    if params.calibration == "isotonic":
        isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(
            stacker.decision_function(scores), labels[~early]
        )
    return CalibratedClassifier(trees, linear, stacker, isotonic, categories)


Cell = tuple[str, str]


def _lookup(table: dict[Cell, float | np.ndarray], segment: str, bucket: str):
    """The (segment, bucket) entry, else the bucket's across segments, else the overall one."""
    for key in ((segment, bucket), ("*", bucket), ("*", "*")):
        if key in table:
            return table[key]
    return np.nan


def _segments(rows: pd.DataFrame) -> np.ndarray:
    return rows["segment"].astype(object).where(rows["segment"].notna(), "*").to_numpy()


def _cell_means(segments: np.ndarray, buckets: np.ndarray, values: np.ndarray) -> dict[Cell, float]:
    """Mean of the non-missing values per (segment, bucket), per bucket and overall; a cell
    with fewer than MIN_PRIOR_ROWS values is left out (its lookup falls back)."""
    frame = pd.DataFrame({"segment": segments, "bucket": buckets, "value": values}).dropna(subset=["value"])
    out: dict[Cell, float] = {}
    if len(frame):
        out[("*", "*")] = float(frame["value"].mean())
    for bucket, group in frame.groupby("bucket"):
        if len(group) >= MIN_PRIOR_ROWS:
            out[("*", bucket)] = float(group["value"].mean())
    for (segment, bucket), group in frame.groupby(["segment", "bucket"]):
        if len(group) >= MIN_PRIOR_ROWS:
            out[(segment, bucket)] = float(group["value"].mean())
    return out


@dataclass
class SegmentPriors:
    """Late and severe rates and the pay-time CDF by (segment, days-past-due bucket on the
    scoring day), and the mean days beyond terms by segment, from training rows."""

    late: dict[Cell, float]
    severe: dict[Cell, float]
    cdf: list[dict[Cell, float]]  # one table per horizon
    days_beyond_terms: dict[str, float]
    horizons: np.ndarray

    def rate(self, rows: pd.DataFrame, target: str) -> np.ndarray:
        table = self.late if target == "late" else self.severe
        return np.array(
            [_lookup(table, s, b) for s, b in zip(_segments(rows), prior_bucket(rows), strict=True)], dtype=float
        )

    def knot_cdf(self, rows: pd.DataFrame) -> KnotCdf:
        cells = list(zip(_segments(rows), prior_bucket(rows), strict=True))
        values = np.array([[_lookup(table, s, b) for table in self.cdf] for s, b in cells], dtype=float)
        return KnotCdf(self.horizons, monotone(np.nan_to_num(values.reshape(len(cells), len(self.horizons)))))

    def mean_days_beyond_terms(self, rows: pd.DataFrame) -> np.ndarray:
        overall = self.days_beyond_terms.get("*", 0.0)
        return np.array([self.days_beyond_terms.get(s, overall) for s in _segments(rows)], dtype=float)


def fit_priors(
    rows: pd.DataFrame, known_on: dt.date, targets: RiskTargets, horizons: Sequence[int] = HORIZONS
) -> SegmentPriors:
    """The priors from training rows, each label from the rows it is decided for on ``known_on``."""
    segments, buckets = _segments(rows), prior_bucket(rows)
    labels = late_labels(rows, targets, known_on)
    late = _cell_means(segments, buckets, np.where(labels["late_fixed"], 1.0, labels["late"]))
    severe = _cell_means(segments, buckets, np.where(labels["severe_fixed"], 1.0, labels["severe"]))
    cdf = [_cell_means(segments, buckets, paid_within(rows, h, known_on)) for h in horizons]
    issue = rows["row_kind"].to_numpy() == "issue"
    dbt = pd.Series(pd.to_numeric(rows["days_beyond_terms_mean"], errors="coerce").to_numpy()[issue])
    by_segment = dbt.groupby(segments[issue]).mean().dropna()
    days_beyond_terms = {str(k): float(v) for k, v in by_segment.items()}
    days_beyond_terms["*"] = float(dbt.mean()) if dbt.notna().any() else 0.0
    return SegmentPriors(late, severe, cdf, days_beyond_terms, np.asarray(horizons, dtype=float))


@dataclass
class RiskModel:
    """A trained model: classifiers, timing model and priors, with what it was trained on."""

    params: RiskParams
    trained_on: dt.date
    late: CalibratedClassifier | ConstantProbability
    severe: CalibratedClassifier | ConstantProbability
    timing: TimingModel
    priors: SegmentPriors
    training_rows: int
    reference: dict  # typical feature values, for explanations
    name: str = MODEL_NAME

    def score(self, rows: pd.DataFrame) -> pd.DataFrame:
        """p_late, p_severe and insufficient_history per row (index kept)."""
        return score_with(self, rows, self.late.probability, self.severe.probability)

    def distribution(self, rows: pd.DataFrame) -> KnotCdf:
        """The pay-time distribution of each row (``timing`` interface): the timing model's, the
        segment prior's for customers with insufficient history."""
        return self.knot_cdf(rows)

    def knot_cdf(self, rows: pd.DataFrame) -> KnotCdf:
        thin = insufficient_history(rows, self.params)
        values = self.timing.knot_cdf(rows).values if len(rows) else np.empty((0, len(self.params.horizons)))
        if thin.any():
            values[thin] = self.priors.knot_cdf(rows[thin]).values
        return KnotCdf(np.asarray(self.params.horizons, dtype=float), values)

    def cdf(self, rows: pd.DataFrame, days: Sequence[float]) -> np.ndarray:
        return self.knot_cdf(rows).at(days)

    def quantiles(self, rows: pd.DataFrame, levels: Sequence[float]) -> np.ndarray:
        return self.knot_cdf(rows).quantiles(levels)


def score_with(scorer, rows: pd.DataFrame, late_probability, severe_probability) -> pd.DataFrame:
    """Probabilities for the undecided rows from the given functions, 1 for the fixed ones, the
    segment prior for customers with insufficient history."""
    targets = scorer.params.targets
    past_due = days_past_due_on(rows)
    thin = insufficient_history(rows, scorer.params)
    out = pd.DataFrame(index=rows.index)
    out["insufficient_history"] = thin
    for name, probability, days in (
        ("late", late_probability, targets.grace_days),
        ("severe", severe_probability, targets.severe_days),
    ):
        fixed = past_due > days
        value = np.ones(len(rows))
        model_rows = ~fixed & ~thin
        if model_rows.any():
            value[model_rows] = probability(rows[model_rows])
        prior_rows = ~fixed & thin
        if prior_rows.any():
            value[prior_rows] = scorer.priors.rate(rows[prior_rows], name)
        out[f"p_{name}"] = value
    return out


def training_window(rows: pd.DataFrame, known_on: dt.date, days: int) -> pd.DataFrame:
    """Rows scored before ``known_on`` and within ``days`` of it."""
    scored = rows["scoring_date"].to_numpy("datetime64[D]")
    end = np.datetime64(known_on, "D")
    return rows[(scored < end) & (scored >= end - np.timedelta64(days, "D"))]


def fit_risk_model(rows: pd.DataFrame, known_on: dt.date, params: RiskParams | None = None) -> RiskModel:
    """Train every part of the model on what was known on ``known_on`` (a backtest origin, or
    the as-of date for the model that will be published)."""
    params = params or RiskParams()
    window = training_window(rows, known_on, params.training_days).reset_index(drop=True)
    categories = categories_of(window)
    labels = late_labels(window, params.targets, known_on)
    classifiers = {}
    for name in ("late", "severe"):
        usable = (~labels[f"{name}_fixed"] & labels[name].notna()).to_numpy()
        classifiers[name] = fit_calibrated(
            window[usable], labels.loc[usable, name].to_numpy().astype(int), categories, params
        )
    timing = fit_timing(
        window,
        known_on,
        categories,
        boosting(params, monotonic_cst={"horizon_days": 1}),
        horizons=params.horizons,
        max_pairs=params.max_timing_pairs,
        seed=params.seed,
    )
    priors = fit_priors(window, known_on, params.targets, params.horizons)
    reference = reference_row(feature_matrix(window, categories))
    return RiskModel(
        params, known_on, classifiers["late"], classifiers["severe"], timing, priors, len(window), reference
    )
