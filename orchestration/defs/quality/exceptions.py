"""Exceptions for their owners: one CSV per owner and a summary in the Dagster UI.

The per-owner files are rewritten by every landing asset, even one that fails: when a run is
blocked by bad data, the people who own that data are exactly the ones who need the list. The
report asset adds the summary across all sources for the Dagster UI.
"""


import re
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from orchestration.resources import WarehouseResource
from orchestration.settings import Settings

EXCEPTION_REPORT_KEY = dg.AssetKey(["quality", "exception_report"])


def owner_file_name(owner: str) -> str:
    """A safe file name for an owner address ('ar-ops@x.com' -> 'ar-ops_at_x.com.csv')."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", owner.replace("@", "_at_")) + ".csv"


def exception_summary(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Counts of exceptions by source, rule and owner, most frequent first."""
    return con.execute(
        "select source, rule, owner, count(*) as exceptions from quality.exceptions "
        "group by all order by exceptions desc, source, rule"
    ).df()


def write_owner_reports(con: duckdb.DuckDBPyConnection, folder: Path) -> dict[str, int]:
    """Replace ``folder`` with one CSV per owner of every exception; returns rows per owner."""
    pending = folder.with_name(folder.name + ".new")
    shutil.rmtree(pending, ignore_errors=True)
    pending.mkdir(parents=True)
    counts: dict[str, int] = {}
    for (owner,) in con.execute("select distinct owner from quality.exceptions order by 1").fetchall():
        target = pending / owner_file_name(owner)
        con.execute(
            "copy (select source, source_table, entity, file, row_number, rule, column_name, detail, payload, "
            f"detected_at from quality.exceptions where owner = ? order by detected_at, file, row_number) "
            f"to '{target}' (header, delimiter ',')",
            [owner],
        )
        counts[owner] = con.execute("select count(*) from quality.exceptions where owner = ?", [owner]).fetchall()[0][0]
    shutil.rmtree(folder, ignore_errors=True)
    pending.rename(folder)
    return counts


def _markdown(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "No exceptions."
    header = "| " + " | ".join(frame.columns) + " |\n|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, *rows])


def build_exception_report(settings: Settings, upstream: list[dg.AssetKey]) -> dg.AssetsDefinition:

    @dg.asset(
        key=EXCEPTION_REPORT_KEY,
        group_name="quality",
        kinds={"duckdb", "csv"},
        deps=upstream,
    )
    def exception_report(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        """Every quarantined row and rejected batch, one CSV per owner under exports/exceptions/,
        with counts by source, rule and owner shown here."""
        folder = settings.exports_dir / "exceptions"
        with warehouse.connection() as con:
            summary = exception_summary(con)
            per_owner = write_owner_reports(con, folder)
            loads = con.execute(
                "select status, count(*) from quality.source_loads group by status order by status"
            ).fetchall()
        for owner, rows in per_owner.items():
            context.log.info(f"{rows} exception(s) for {owner} in {folder / owner_file_name(owner)}")
        return dg.MaterializeResult(metadata={
            "exceptions_total": int(summary["exceptions"].sum()) if not summary.empty else 0,
            "owners": len(per_owner),
            "summary": dg.MetadataValue.md(_markdown(summary)),
            "loads_by_status": dg.MetadataValue.json({status: n for status, n in loads}),
            "folder": dg.MetadataValue.path(str(folder)),
        })

    return exception_report
