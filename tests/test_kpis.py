"""AR KPIs, payment behaviour and expected credit loss over generated companies, through the CLI.

The formulas themselves are pinned by dbt unit tests with hand-computed figures
(dbt_project/models/marts/kpis/_kpis__unit_tests.yml). Here the whole pipeline runs on generated
companies and we check what only real data can show: every KPI stays in a plausible range, the
history of a month does not change when a later day is computed, and the KPIs move the right way
when the same company pays later. "Paying later" is the same generated export with every cash
payment (and its applications) dated DELAY_SHIFT_DAYS later, so nothing else differs; payments
pushed past the as-of day have simply not arrived yet. Invalid KPI settings are refused before
anything runs.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from orchestration.config import TableConfig, load_config

REPO = Path(__file__).resolve().parent.parent
DBT = Path(sys.executable).parent / "dbt"
AS_OF = dt.date(2026, 11, 27)
EARLIER_AS_OF = dt.date(2026, 6, 30)
CUSTOMERS, INVOICES, SEED = "120", "4000", "11"
#: Days every customer of the "late" company pays later than the same company at baseline.
DELAY_SHIFT_DAYS = 20


def inflow(*args: str) -> None:
    """Run the ``inflow`` CLI in a child process; fail with its output when it fails."""
    proc = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", *args], cwd=REPO, capture_output=True, text=True, timeout=1800
    )
    if proc.returncode != 0:
        raise AssertionError(f"inflow {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


def generate(out: Path) -> Path:
    """Generate the test company (clean exports) and return its inflow.yml."""
    inflow(
        "generate",
        "--out",
        str(out),
        "--customers",
        CUSTOMERS,
        "--invoices",
        INVOICES,
        "--seed",
        SEED,
        "--as-of",
        AS_OF.isoformat(),
        "--quiet",
    )
    return out / "inflow.yml"


def _shift_dates(table: TableConfig, files: list[Path], column: str, days: int, only_ids: set[str] | None) -> set[str]:
    """Move one date column of a CSV export ``days`` later (rows of ``only_ids`` payments only,
    when given) in the export's own date format; return the payment ids seen."""
    date_format = table.options.date_formats[0]
    id_column, date_column = table.columns["payment_id"].column, table.columns[column].column
    seen: set[str] = set()
    for path in files:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, sep=table.options.delimiter)
        rows = frame[id_column].isin(only_ids) if only_ids is not None else frame[id_column].ne("")
        dates = pd.to_datetime(frame.loc[rows, date_column], format=date_format) + pd.Timedelta(days=days)
        frame.loc[rows, date_column] = dates.dt.strftime(date_format)
        frame.to_csv(path, index=False, sep=table.options.delimiter)
        seen.update(frame[id_column])
    return seen


def pay_later(config_path: Path, days: int) -> None:
    """Date every payment of a generated company, and its applications, ``days`` later."""
    config = load_config(config_path)
    tables = {tbl.entity: tbl for _, _, _, tbl in config.tables()}
    payments, applications = tables["payments"], tables["payment_applications"]
    assert payments.format == applications.format == "csv", "the generator's payment exports are CSV"
    payment_ids = _shift_dates(payments, sorted(config_path.parent.glob(payments.path)), "payment_date", days, None)
    _shift_dates(applications, sorted(config_path.parent.glob(applications.path)), "applied_date", days, payment_ids)


def run(config: Path, home: Path) -> Path:
    """Run the pipeline as of AS_OF and return the working warehouse it built."""
    inflow("run", "--config", str(config), "--home", str(home), "--as-of", AS_OF.isoformat())
    return home / "warehouse.duckdb"


Query = Callable[[str], pd.DataFrame]


def reader(db: Path) -> Query:
    """A function running SQL read-only against one warehouse (no connection kept open)."""

    def query(sql: str) -> pd.DataFrame:
        con = duckdb.connect(str(db), read_only=True)
        try:
            return con.execute(sql).fetchdf()
        finally:
            con.close()

    return query


@pytest.fixture(scope="module")
def baseline_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("company"))


@pytest.fixture(scope="module")
def baseline_home(baseline_config: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("home")
    run(baseline_config, home)
    return home


@pytest.fixture(scope="module")
def baseline(baseline_home: Path) -> Query:
    return reader(baseline_home / "warehouse.duckdb")


@pytest.fixture(scope="module")
def late(tmp_path_factory: pytest.TempPathFactory) -> Query:
    config = generate(tmp_path_factory.mktemp("late_company"))
    pay_later(config, DELAY_SHIFT_DAYS)
    return reader(run(config, tmp_path_factory.mktemp("late_home")))


def recent_totals(query: Query, months: int = 6) -> pd.DataFrame:
    """The company-wide KPI rows of the last complete months."""
    return query(f"""
        select * from marts.ar_kpis_monthly
        where dimension_type = 'total' and is_complete_month
        order by month_end desc limit {months}
    """)


@pytest.mark.pipeline
def test_kpi_tables_are_built_and_published(baseline: Query, baseline_home: Path) -> None:
    expected = {
        "marts.ar_kpis_monthly",
        "marts.billing_cohort_collection_curves",
        "marts.payment_behavior",
        "marts.fct_invoice_detail",
        "marts.ar_expected_credit_loss",
    }
    published = reader(baseline_home / "serving.duckdb")
    tables = set(published("select table_schema || '.' || table_name as t from information_schema.tables")["t"])
    assert expected <= tables
    for table in expected:
        rows = int(baseline(f"select count(*) as n from {table}")["n"][0])
        assert rows > 0, table
        assert int(published(f"select count(*) as n from {table}")["n"][0]) == rows, table


@pytest.mark.pipeline
def test_monthly_kpis_stay_in_plausible_ranges(baseline: Query) -> None:
    kpis = recent_totals(baseline, months=12)
    assert len(kpis) == 12
    assert kpis["dso_simple_days"].between(5, 180).all(), kpis["dso_simple_days"]
    assert kpis["dso_countback_days"].between(5, 180).all(), kpis["dso_countback_days"]
    assert not kpis["dso_countback_is_capped"].any()
    assert (kpis["bpdso_days"] <= kpis["dso_simple_days"]).all()
    assert (kpis["add_days"] >= 0).all()
    assert kpis["cei_pct"].between(0, 100).all(), kpis["cei_pct"]
    assert kpis["cei_trailing_pct"].between(20, 100).all(), kpis["cei_trailing_pct"]
    assert kpis["pct_current"].between(0, 100).all()
    assert kpis["avg_days_to_pay"].between(1, 365).all()
    assert kpis["avg_days_to_pay_amount_weighted"].between(1, 365).all()
    assert (kpis["avg_days_beyond_terms"] >= 0).all()
    assert (kpis["avg_days_beyond_terms"] < kpis["avg_days_to_pay"]).all()
    at_risk = kpis["at_risk_rate_pct"].dropna()
    assert len(at_risk) >= 8, "months whose 90-day horizon has passed must carry an at-risk rate"
    assert at_risk.between(0, 60).all(), at_risk


@pytest.mark.pipeline
def test_last_month_ar_and_ecl_exposure_tie_to_open_invoices(baseline: Query) -> None:
    open_ar = baseline("""select sum(open_amount_reporting) as v from marts.fct_ar_invoices
                          where aging_bucket <> 'closed'""")["v"][0]
    last = baseline(f"""select ar_reporting as v from marts.ar_kpis_monthly
                        where dimension_type = 'total' and period_end_date = date '{AS_OF}'""")["v"]
    exposure = baseline("select sum(exposure_reporting) as v from marts.ar_expected_credit_loss")["v"][0]
    assert open_ar > 0
    assert last.tolist() == [open_ar]
    assert exposure == open_ar


@pytest.mark.pipeline
def test_expected_credit_loss_rates_rise_with_age(baseline: Query) -> None:
    ecl = baseline("select * from marts.ar_expected_credit_loss order by segment, bucket_order")
    assert ecl["loss_rate"].between(0.001, 1).all()
    for segment, rows in ecl.groupby("segment"):
        rates = rows["loss_rate"].tolist()
        assert rates == sorted(rates), f"{segment}: loss rates must not fall as invoices age: {rates}"
    allowance, exposure = ecl["allowance_reporting"].sum(), ecl["exposure_reporting"].sum()
    assert 0 < allowance < exposure


@pytest.mark.pipeline
def test_cohorts_behaviour_and_detail_are_consistent(baseline: Query) -> None:
    curves = baseline("""select * from marts.billing_cohort_collection_curves
                         where dimension_type = 'total' and months_since_billing = 12""")
    assert len(curves) > 0
    assert curves["share_collected"].between(0.5, 1).all(), curves["share_collected"]

    behavior = baseline("select * from marts.payment_behavior")
    customers = int(baseline("select count(*) as n from marts.dim_customers")["n"][0])
    assert len(behavior) == customers and behavior["customer_id"].is_unique
    paid = behavior[behavior["paid_invoice_count"] > 0]
    assert (paid["days_to_pay_median"] <= paid["days_to_pay_p90"]).all()
    for rate in ("on_time_rate", "partial_payment_share", "dispute_rate", "broken_promise_rate"):
        assert behavior[rate].dropna().between(0, 1).all(), rate
    assert behavior["promise_count"].sum() > 0 and behavior["broken_promise_rate"].notna().any()

    invoices = int(baseline("select count(*) as n from marts.fct_ar_invoices")["n"][0])
    detail = baseline("select invoice_id, payment_count, paid_amount from marts.fct_invoice_detail")
    assert len(detail) == invoices and detail["invoice_id"].is_unique
    assert (detail.loc[detail["paid_amount"] > 0, "payment_count"] > 0).all()


def rebuild_as_of(warehouse: Path, config_path: Path, as_of: dt.date, tmp: Path) -> Path:
    """Rebuild the KPI marts and everything under them as of an earlier day, on a copy of a
    landed warehouse (same raw data, only as_of_date differs), with the run's own dbt vars."""
    copy = tmp / "rebuilt.duckdb"
    shutil.copyfile(warehouse, copy)
    run_vars = load_config(config_path).dbt_vars(as_of)
    proc = subprocess.run(
        [
            str(DBT),
            "run",
            "--select",
            "+ar_kpis_monthly",
            "--vars",
            json.dumps(run_vars),
            "--project-dir",
            str(REPO / "dbt_project"),
            "--profiles-dir",
            str(REPO / "dbt_project"),
            "--target-path",
            str(tmp / "target"),
            "--log-path",
            str(tmp / "logs"),
        ],
        env={**os.environ, "INFLOW_WAREHOUSE": str(copy)},
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return copy


@pytest.mark.pipeline
def test_history_does_not_change_when_a_later_day_is_computed(
    baseline_home: Path, baseline_config: Path, tmp_path: Path
) -> None:
    """Months up to an earlier as_of read the same whether computed then or at AS_OF: later
    payments, credits and write-offs never leak into an earlier month end."""
    earlier = reader(rebuild_as_of(baseline_home / "warehouse.duckdb", baseline_config, EARLIER_AS_OF, tmp_path))
    later = reader(baseline_home / "warehouse.duckdb")
    columns = [
        "dimension_type",
        "dimension_value",
        "month_end",
        "credit_sales_reporting",
        "ar_reporting",
        "current_ar_reporting",
        "disputed_ar_reporting",
        "unapplied_cash_reporting",
        "cash_applied_reporting",
        "dso_simple_days",
        "dso_countback_days",
        "bpdso_days",
        "cei_pct",
        "cei_trailing_pct",
    ]
    sql = (
        f"select {', '.join(columns)} from marts.ar_kpis_monthly "
        f"where month_end <= date '{EARLIER_AS_OF}' order by 1, 2, 3"
    )
    then, now = earlier(sql), later(sql)
    assert len(then) > 0 and set(then["dimension_type"]) == {"total", "segment", "collector", "customer"}
    pd.testing.assert_frame_equal(then, now)


@pytest.mark.slow
@pytest.mark.pipeline
def test_kpis_move_the_right_way_when_customers_pay_later(baseline: Query, late: Query) -> None:
    base, slow = recent_totals(baseline).mean(numeric_only=True), recent_totals(late).mean(numeric_only=True)
    assert slow["avg_days_to_pay"] > base["avg_days_to_pay"] + DELAY_SHIFT_DAYS / 2
    assert slow["avg_days_beyond_terms"] > base["avg_days_beyond_terms"]
    assert slow["dso_simple_days"] > base["dso_simple_days"]
    assert slow["dso_countback_days"] > base["dso_countback_days"]
    assert slow["add_days"] > base["add_days"]
    assert slow["cei_trailing_pct"] < base["cei_trailing_pct"]
    assert slow["pct_current"] < base["pct_current"]

    def behaviour(query: Query) -> pd.Series:
        return query("""select median(days_to_pay_median) as median_days, avg(on_time_rate) as on_time
                        from marts.payment_behavior where paid_invoice_count > 0""").iloc[0]

    assert behaviour(late)["median_days"] > behaviour(baseline)["median_days"]
    assert behaviour(late)["on_time"] < behaviour(baseline)["on_time"]

    # The same invoices default either way, so the allowance need not grow; what must move is the
    # provision matrix's exposure, toward the older buckets.
    def past_due_share(query: Query) -> float:
        return float(
            query("""select sum(case when bucket_order > 0 then exposure_reporting else 0 end)
                              / sum(exposure_reporting) as v from marts.ar_expected_credit_loss""")["v"][0]
        )

    assert past_due_share(late) > past_due_share(baseline)


def compile_kpis(tmp_path: Path, selected: str, vars_yaml: str) -> subprocess.CompletedProcess:
    """Compile one KPI model with the given vars against an empty scratch warehouse."""
    env = {**os.environ, "INFLOW_WAREHOUSE": str(tmp_path / "scratch.duckdb")}
    return subprocess.run(
        [
            str(DBT),
            "compile",
            "--select",
            selected,
            "--vars",
            vars_yaml,
            "--project-dir",
            str(REPO / "dbt_project"),
            "--profiles-dir",
            str(REPO / "dbt_project"),
            "--target-path",
            str(tmp_path / "target"),
            "--log-path",
            str(tmp_path / "logs"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.parametrize(
    ("selected", "vars_yaml", "message"),
    [
        ("ar_kpis_monthly", "{kpi_dso_months: 0}", "var kpi_dso_months must be a whole number >= 1"),
        ("ar_kpis_monthly", "{kpi_countback_max_months: twelve}", "var kpi_countback_max_months must be"),
        ("ar_kpis_monthly", "{kpi_cei_months: 2.5}", "var kpi_cei_months must be a whole number >= 1"),
        (
            "ar_expected_credit_loss",
            "{ecl_loss_rate_floor: 0.5, ecl_loss_rate_ceiling: 0.2}",
            "0 <= floor <= ceiling <= 1",
        ),
        ("int_ecl_inputs", "{ecl_lookback_months: -3}", "var ecl_lookback_months must be a whole number >= 1"),
    ],
)
def test_invalid_kpi_settings_are_refused(tmp_path: Path, selected: str, vars_yaml: str, message: str) -> None:
    proc = compile_kpis(tmp_path, selected, vars_yaml)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr


def test_valid_kpi_settings_compile(tmp_path: Path) -> None:
    """The counterpart of the refusals above: the same models compile with sensible settings."""
    proc = compile_kpis(
        tmp_path,
        "ar_kpis_monthly ar_expected_credit_loss int_ecl_inputs",
        "{kpi_dso_months: 6, kpi_cei_months: 1, ecl_loss_rate_floor: 0, ecl_lookback_months: 12}",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
