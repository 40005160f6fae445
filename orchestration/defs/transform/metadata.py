"""What a person reads on a dbt asset instead of writing SQL: its row count, and the plot of the
two marts finance looks at first (the aging history, the KPI trend).

dagster-dbt's own ``fetch_row_counts()`` opens the warehouse while the next step may need it and
breaks that step's DuckDB connection, so the counts are read here, after dbt has exited and
released the file, from one read-only connection; the step's events are held until then.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from orchestration.defs.reporting.charts import aging_stack_png, kpi_trend_png, markdown_image
from orchestration.warehouse import connect

AGING_KEY = dg.AssetKey(["marts", "fct_ar_aging_daily"])
KPIS_KEY = dg.AssetKey(["marts", "ar_kpis_monthly"])


def _row_count(con: duckdb.DuckDBPyConnection, key: dg.AssetKey) -> int | None:
    schema, name = (part.replace('"', '""') for part in (key.path[0], key.path[-1]))
    sql = f'select count(*) from "{schema}"."{name}"'  # noqa: S608 (dbt's own asset key, quoted)
    try:
        return int(con.execute(sql).fetchone()[0])
    except duckdb.Error:  # a key that is no table (a dbt test's node, an ephemeral model)
        return None


def _plots(con: duckdb.DuckDBPyConnection, key: dg.AssetKey, currency: str) -> dict[str, dg.MetadataValue]:
    """The plot of an asset that has one, from what dbt just built."""
    if key == AGING_KEY:
        aging = con.execute(
            "select snapshot_date, aging_bucket, bucket_order, sum(open_amount_reporting) as open_amount_reporting "
            "from marts.fct_ar_aging_daily where snapshot_date = last_day(snapshot_date) "
            "or snapshot_date = (select max(snapshot_date) from marts.fct_ar_aging_daily) group by all"
        ).df()
        return {
            "aging_stack": dg.MetadataValue.md(
                markdown_image(aging_stack_png(aging, currency, "Open AR by days past due, month ends"), "aging stack")
            )
        }
    if key == KPIS_KEY:
        kpis = con.execute(
            "select month_end, is_complete_month, dso_countback_days, bpdso_days, cei_pct "
            "from marts.ar_kpis_monthly where dimension_type = 'total' order by month_end"
        ).df()
        return {
            "kpi_trend": dg.MetadataValue.md(
                markdown_image(kpi_trend_png(kpis, "DSO and CEI by month"), "DSO and CEI trend")
            )
        }
    return {}


def with_table_metadata(
    events: Iterable[Any],
    key_of: Callable[[str], dg.AssetKey],
    warehouse: Path,
    currency: str,
    memory_limit: str | None,
) -> Iterator[Any]:
    """The dbt step's events, each materialized model's ``Output`` with its row count (and plot)
    added; ``key_of`` maps an output name to its asset key."""
    held = list(events)
    outputs = [e for e in held if isinstance(e, dg.Output)]
    if not outputs:
        yield from held
        return
    con = connect(warehouse, read_only=True, memory_limit=memory_limit)
    try:
        extra = {}
        for event in outputs:
            key = key_of(event.output_name)
            count = _row_count(con, key)
            extra[id(event)] = {
                **({"dagster/row_count": count} if count is not None else {}),
                **_plots(con, key, currency),
            }
    finally:
        con.close()
    for event in held:
        added = extra.get(id(event))
        yield event.with_metadata({**event.metadata, **added}) if added else event
