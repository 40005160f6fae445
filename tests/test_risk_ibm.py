"""The IBM "Accounts Receivable" evaluation (bench/ibm_risk.py): its issue-time feature rows on a
hand-made export, and the chronological evaluation on the real file when it is present."""

from __future__ import annotations

import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from bench.ibm_risk import IBM_CSV, IBM_SPLIT, ibm_feature_rows
from models.evaluate import evaluate_split

COLUMNS = [
    "countryCode",
    "customerID",
    "PaperlessDate",
    "invoiceNumber",
    "InvoiceDate",
    "DueDate",
    "InvoiceAmount",
    "Disputed",
    "SettledDate",
    "PaperlessBill",
    "DaysToSettle",
    "DaysLate",
]


def test_issue_time_rows_use_only_what_was_settled_before_the_invoice():
    raw = pd.DataFrame(
        [
            ["391", "A", "1/1/2012", "1", "1/2/2012", "2/1/2012", "100", "No", "2/11/2012", "Paper", "40", "10"],
            ["391", "A", "1/1/2012", "2", "1/20/2012", "2/19/2012", "300", "Yes", "2/15/2012", "Paper", "26", "0"],
            ["391", "A", "1/1/2012", "3", "2/12/2012", "3/13/2012", "200", "No", "3/1/2012", "Paper", "18", "0"],
        ],
        columns=COLUMNS,
    )
    rows = ibm_feature_rows(raw).set_index("invoice_id")
    third = rows.loc["3"]
    assert third["paid_invoice_count"] == 1 and third["late_share"] == 1.0  # invoice 1, 10 days late, by 2/11
    assert third["days_beyond_terms_mean"] == 10.0 and third["days_since_last_late_payment"] == 1
    assert third["prior_invoice_count"] == 2 and third["usual_invoice_amount_reporting"] == 200.0
    assert third["other_open_invoice_count"] == 1 and third["other_open_balance_reporting"] == 300.0
    assert third["other_overdue_invoice_count"] == 0  # invoice 2 is due 2/19
    assert rows.loc["1", "paid_invoice_count"] == 0 and pd.isna(rows.loc["1", "late_share"])
    assert rows.loc["2", "paid_invoice_count"] == 0  # invoice 1 settled after invoice 2 was issued
    assert "Disputed" not in rows.columns and (rows["customer_dispute_count"] == 0).all()


@pytest.mark.pipeline
@pytest.mark.skipif(not IBM_CSV.exists(), reason=f"the IBM sample is not at {IBM_CSV}")
def test_ibm_chronological_evaluation():
    rows = ibm_feature_rows(pd.read_csv(IBM_CSV, dtype=str))
    with threadpool_limits(1):
        result = evaluate_split(rows, IBM_SPLIT, bootstrap_samples=100)
    m = result.metrics.set_index(["model", "metric"])["value"]
    assert len(result.predictions) == 536  # SOURCE.md: 536 test invoices issued on or after 2013-07-01
    assert (result.predictions["pay_date_p50"].dropna() >= pd.Timestamp(IBM_SPLIT).date()).all()
    assert m[("gbm_logit_stack", "auc")] > 0.84
    assert m[("gbm_logit_stack", "mae_days")] < m[("baseline_customer_mean_days", "mae_days")]
    assert m[("gbm_logit_stack", "weekly_receipts_wape")] < m[("baseline_due_date", "weekly_receipts_wape")]
