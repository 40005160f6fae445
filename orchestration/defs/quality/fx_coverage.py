"""FX coverage before publish: every open document must have a rate to the reporting currency.

A document in a currency without a rate on or before the as-of date has no reporting-currency open
amount: it silently vanishes from every reporting-currency KPI and from the ECL provision. This
step judges the landed data (it runs right after landing, so its message comes first and is not
lost behind the dbt tests that the missing values then break) and, per
``quality.fx_rate_missing``, blocks publish (``block``, the default) or warns (``warn``); either
way each currency is recorded in ``quality.exceptions`` (rule ``fx_rate_missing``, replaced each
run) naming the currency, the open amount and the missing date. The open amount here is each
invoice or debit memo less its applications and write-offs by the as-of date: enough to say what
is at stake; the fact layer's allocation of credit memos is not repeated.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import dagster as dg
import duckdb
import pandas as pd

from expectations.rules import rule
from orchestration.defs.keys import FX_COVERAGE_KEY, entity_key
from orchestration.defs.quality.store import EXCEPTION_COLUMNS, replace_exceptions_of
from orchestration.resources import RunOptions, WarehouseResource
from orchestration.settings import Settings

#: The ``source`` of this step's rows in quality.exceptions (replaced each run).
FX_SOURCE = "fx_coverage"
#: The landed entities the judgement reads.
INPUTS = ("invoices", "fx_rates", "payment_applications", "write_offs")


@dataclass(frozen=True)
class MissingRate:
    """Open documents of one currency without a rate on or before ``missing_date``."""

    currency: str
    documents: int
    open_amount: Decimal
    missing_date: dt.date

    def describe(self, reporting_currency: str) -> str:
        return (
            f"{self.documents:,} open document(s) in {self.currency}, open amount {self.open_amount:,.2f} "
            f"{self.currency}: no {self.currency}->{reporting_currency} rate on or before {self.missing_date}"
        )


def missing_rates(con: duckdb.DuckDBPyConnection, as_of: dt.date, reporting_currency: str) -> list[MissingRate]:
    """Currencies of invoices open on the as-of date (accepted rows) without a rate on or before it."""
    rows = con.execute(
        """
        with documents as (
            select document_id, currency, amount from raw.invoices
            where _status = 'accepted' and document_type in ('invoice', 'debit_memo')
                and document_date <= ? and currency <> ?
        ),
        applied as (
            select document_id, sum(applied_amount) as applied from raw.payment_applications
            where _status = 'accepted' and applied_date <= ? group by document_id
        ),
        written_off as (
            select document_id, sum(amount) as written_off from raw.write_offs
            where _status = 'accepted' and write_off_date <= ? group by document_id
        ),
        rated as (
            select distinct currency from raw.fx_rates where _status = 'accepted' and rate_date <= ?
        ),
        open_documents as (
            select d.currency, d.amount - coalesce(a.applied, 0) - coalesce(w.written_off, 0) as open_amount
            from documents d
            left join applied a using (document_id)
            left join written_off w using (document_id)
        )
        select currency, count(*), sum(open_amount) from open_documents
        where open_amount > 0 and currency not in (select currency from rated)
        group by currency order by currency
        """,
        [as_of, reporting_currency, as_of, as_of, as_of],
    ).fetchall()
    return [MissingRate(currency, n, amount, as_of) for currency, n, amount in rows]


def _exceptions(missing: list[MissingRate], reporting_currency: str, owner: str) -> pd.DataFrame:
    now = dt.datetime.now().replace(microsecond=0)
    return pd.DataFrame(
        [
            {
                "source": FX_SOURCE,
                "source_table": "raw.invoices",
                "entity": "fx_rates",
                "file": "(run)",
                "checksum": "",
                "row_number": None,
                "rule": rule("fx_rate_missing"),
                "column_name": "currency",
                "detail": m.describe(reporting_currency),
                "owner": owner,
                "payload": None,
                "detected_at": now,
            }
            for m in missing
        ],
        columns=list(EXCEPTION_COLUMNS),
    ).astype({"row_number": "Int64"})


def fx_owner(settings: Settings) -> str:
    """Who fixes missing rates: the owner of the FX source, else of the invoices' source."""
    config = settings.config
    for entity_name in ("fx_rates", "invoices"):
        for _, _, src, tbl in config.tables():
            if tbl.entity == entity_name:
                return src.owner
    return "unassigned"


def build_fx_coverage_asset(settings: Settings) -> dg.AssetsDefinition:
    mode = settings.config.quality.fx_rate_missing

    @dg.asset(key=FX_COVERAGE_KEY, group_name="quality", kinds={"duckdb"}, deps=[entity_key(name) for name in INPUTS])
    def fx_coverage(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, run: RunOptions
    ) -> dg.MaterializeResult:
        """Open documents in a currency without an FX rate to the reporting currency on or before
        the as-of date; blocks publish (quality.fx_rate_missing: block) or warns (warn)."""
        as_of = run.as_of(settings.config.as_of_date)
        currency = settings.config.reporting_currency
        with warehouse.connection() as con:
            missing = missing_rates(con, as_of, currency)
            replace_exceptions_of(con, FX_SOURCE, _exceptions(missing, currency, fx_owner(settings)))
        messages = [m.describe(currency) for m in missing]
        if missing and mode == "block":
            raise dg.Failure(
                description="fx_rate_missing: " + "; ".join(messages) + ". Add the rates to the FX source, or set "
                "quality.fx_rate_missing: warn to publish without these documents in reporting-currency figures."
            )
        for message in messages:
            context.log.warning(f"fx_rate_missing (publishing anyway, quality.fx_rate_missing: warn): {message}")
        return dg.MaterializeResult(metadata={"currencies_missing": len(missing), "mode": mode})

    return fx_coverage
