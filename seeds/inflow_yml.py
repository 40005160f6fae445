"""The ``inflow.yml`` of a generated company: every export mapped onto the canonical contract.

The configuration declares exactly the formats the exports use (no more): the ERP document
files list the extra date formats only when defects actually wrote them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml

from seeds.crm import ACCOUNTS_SHEET
from seeds.exports import (
    ACCOUNT_COLUMNS,
    ACTIVITY_COLUMNS,
    APPLICATION_COLUMNS,
    BANK_COLUMNS,
    BANK_DATE_FORMAT,
    CONTACT_COLUMNS,
    CUSTOMER_COLUMNS,
    DISPUTE_COLUMNS,
    FX_COLUMNS,
    INVOICE_COLUMNS,
    PAYMENT_COLUMNS,
    PLAN_COLUMNS,
    PROMISE_COLUMNS,
    SETTLEMENT_COLUMNS,
    WRITE_OFF_COLUMNS,
)
from seeds.population import REPORTING_CURRENCY
from seeds.workflow import QUERIES

ISO_DATE = "%Y-%m-%d"
TIMESTAMP = "%Y-%m-%d %H:%M:%S"
OWNER_DOMAIN = "inflow-demo.example"

#: Relative paths (to the folder of inflow.yml) of every export.
PATHS = {
    "customers": "erp/customers.csv",
    "invoices": "erp/invoices/invoices_{month}.csv",
    "payments": "erp/payments/payments_{month}.csv",
    "payment_applications": "erp/payment_applications/payment_applications_{month}.csv",
    "write_offs": "erp/write_offs.csv",
    "fx_rates": "erp/fx_rates.csv",
    "accounts": "crm/accounts.xlsx",
    "contacts": "crm/contacts.jsonl",
    "planned_billing": "billing/planned_billing.parquet",
    "settlements": "processor/settlements.csv",
    "bank": "bank/statement.csv",
    "workflow": "workflow/workflow.sqlite",
}


def monthly_glob(key: str) -> str:
    return PATHS[key].replace("{month}", "*")


def _table(entity: str, fmt: str, columns: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {"entity": entity, "format": fmt, **extra, "columns": dict(columns)}


def build_config(company: str, as_of: dt.date, document_date_formats: list[str]) -> dict[str, Any]:
    """The configuration as a plain mapping, in the order it is written."""
    csv = "csv"

    def owner(team: str) -> str:
        return f"{team}@{OWNER_DOMAIN}"

    return {
        "company": company,
        "reporting_currency": REPORTING_CURRENCY,
        "as_of_date": as_of,
        "aging": {"basis": "due_date", "buckets": [30, 60, 90, 120], "missing_due_date_terms_days": 30},
        "sources": {
            "erp": {
                "system": "erp",
                "role": "system_of_record",
                "transport": "file",
                "owner": owner("ar-ops"),
                # Generated exports are static: a stale ERP is reported, not allowed to block publishing.
                "cadence": {"expected_every": "1d", "block_publish_when_stale": False},
                "tables": {
                    "customers": _table(
                        "customers",
                        csv,
                        CUSTOMER_COLUMNS,
                        path=PATHS["customers"],
                        options={"timestamp_formats": [TIMESTAMP]},
                    ),
                    "invoices": _table(
                        "invoices",
                        csv,
                        INVOICE_COLUMNS,
                        path=monthly_glob("invoices"),
                        options={"date_formats": [ISO_DATE, *document_date_formats], "timestamp_formats": [TIMESTAMP]},
                        credit_memo_sign="positive",
                    ),
                    "payments": _table("payments", csv, PAYMENT_COLUMNS, path=monthly_glob("payments")),
                    "payment_applications": _table(
                        "payment_applications", csv, APPLICATION_COLUMNS, path=monthly_glob("payment_applications")
                    ),
                    "write_offs": _table("write_offs", csv, WRITE_OFF_COLUMNS, path=PATHS["write_offs"]),
                    "fx_rates": _table("fx_rates", csv, FX_COLUMNS, path=PATHS["fx_rates"]),
                },
            },
            "crm": {
                "system": "crm",
                "role": "context",
                "transport": "file",
                "owner": owner("revops"),
                "cadence": {"expected_every": "7d"},
                "tables": {
                    "accounts": _table(
                        "crm_accounts",
                        "xlsx",
                        ACCOUNT_COLUMNS,
                        path=PATHS["accounts"],
                        options={"header_row": 2, "sheet": ACCOUNTS_SHEET},
                    ),
                    "contacts": _table("crm_contacts", "jsonl", CONTACT_COLUMNS, path=PATHS["contacts"]),
                },
            },
            "billing": {
                "system": "billing",
                "role": "timing",
                "transport": "file",
                "owner": owner("billing-ops"),
                "cadence": {"expected_every": "1d"},
                "tables": {
                    "planned_billing": _table(
                        "planned_billing", "parquet", PLAN_COLUMNS, path=PATHS["planned_billing"]
                    ),
                },
            },
            "processor": {
                "system": "payments",
                "role": "payments",
                "transport": "file",
                "owner": owner("treasury"),
                "cadence": {"expected_every": "1d"},
                "tables": {
                    "settlements": _table("settlements", csv, SETTLEMENT_COLUMNS, path=PATHS["settlements"]),
                },
            },
            "bank": {
                "system": "bank",
                "role": "payments",
                "transport": "file",
                "owner": owner("treasury"),
                "cadence": {"expected_every": "1d"},
                "tables": {
                    "statement_lines": _table(
                        "bank_lines",
                        csv,
                        BANK_COLUMNS,
                        path=PATHS["bank"],
                        options={
                            "delimiter": ";",
                            "decimal": ",",
                            "thousands": ".",
                            "date_formats": [BANK_DATE_FORMAT],
                        },
                    ),
                },
            },
            "workflow": {
                "system": "workflow",
                "role": "workflow",
                "transport": "database",
                "owner": owner("collections"),
                "url": f"sqlite:///{PATHS['workflow']}",
                "cadence": {"expected_every": "6h"},
                "tables": {
                    # written on their own day and never changed: a date watermark misses nothing
                    "activities": _table(
                        "activities",
                        "query",
                        ACTIVITY_COLUMNS,
                        query=QUERIES["activities"],
                        watermark={"column": "activity_date", "full_every_days": 7},
                    ),
                    "promises": _table(
                        "promises",
                        "query",
                        PROMISE_COLUMNS,
                        query=QUERIES["promises"],
                        options={"timestamp_formats": [TIMESTAMP]},
                    ),
                    "disputes": _table(
                        "disputes",
                        "query",
                        DISPUTE_COLUMNS,
                        query=QUERIES["disputes"],
                        options={"timestamp_formats": [TIMESTAMP]},
                    ),
                },
            },
        },
        "writeback": {
            # The ERP imports a NetSuite-style CSV per batch from a drop folder under INFLOW_HOME.
            "targets": {
                "erp_import": {
                    "type": "file",
                    "format": "netsuite_csv",
                    "directory": "outbox/erp_import",
                    "owner": owner("ar-ops"),
                    "kinds": [
                        "promise",
                        "dispute_flag",
                        "dispute_resolution",
                        "note",
                        "collection_stage",
                        "risk_band",
                        "collector_assignment",
                    ],
                }
            }
        },
    }


def write_config(path: Path, config: dict[str, Any], seed: int) -> None:
    header = (
        f"# Generated by seeds.generator (seed {seed}). Regenerate rather than edit: the exports and\n"
        "# this mapping are produced together. See seeds/README.md.\n"
    )
    body = yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=110)
    path.write_text(header + body, encoding="utf-8")
