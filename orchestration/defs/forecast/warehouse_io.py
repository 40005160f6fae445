"""Reading the forecast's inputs from the warehouse and writing its tables back.

The only place the cash forecast touches DuckDB: models/ gets DataFrames and returns DataFrames.
Table and column names here are constants (an allow-list), values go as parameters.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from models.forecast_state import ForecastInputs

#: Input relations of the forecast and the columns read from each.
INPUT_QUERIES = {
    "invoices": "select invoice_id, customer_id, segment, currency, invoice_date, due_date, amount, "
    "dispute_opened_date, dispute_resolved_date from intermediate.int_forecast_invoices",
    "events": "select invoice_id, event_type, effective_date, known_date, amount "
    "from intermediate.int_forecast_invoice_events",
    "cash_ledger": "select payment_id, customer_id, currency, movement, movement_date, payment_date, amount "
    "from intermediate.int_forecast_cash_ledger",
    "promises": "select promise_id, customer_id, document_id, created_date, promised_date, evaluation_date, "
    "promised_amount, outcome, is_judged, is_kept from intermediate.int_forecast_promises",
    "plan_lines": "select plan_id, customer_id, currency, expected_invoice_date, amount, kind, invoice_id, "
    "invoice_date from intermediate.int_forecast_plan_lines",
    "customers": "select customer_id, coalesce(segment, 'unknown') as segment from marts.dim_customers",
    "fx_rates": "select rate_date, currency, rate_to_reporting from intermediate.int_fx_rates_daily",
}
#: Money columns cast to DECIMAL(18,2) when read (pandas gets floats for the simulation).
_MONEY = {"amount", "promised_amount", "rate_to_reporting"}


def _frame(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    rel = con.sql(sql)
    casts = ", ".join(f"cast({c} as double) as {c}" if c in _MONEY else c for c in rel.columns)
    return con.sql(f"select {casts} from ({sql})").arrow().read_all().to_pandas()  # noqa: S608 (column names from the relation, SQL from this module's constants)


def read_inputs(con: duckdb.DuckDBPyConnection, reporting_currency: str) -> ForecastInputs:
    """The forecast's input frames (dbt models of schema forecast, customers and daily FX)."""
    frames = {name: _frame(con, sql) for name, sql in INPUT_QUERIES.items()}
    return ForecastInputs(**frames, reporting_currency=reporting_currency)


def day_number(day: dt.date) -> int:
    """A date as days since 1970-01-01, the day numbers models/ works in."""
    return (day - dt.date(1970, 1, 1)).days
