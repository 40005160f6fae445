"""The exception report asset: every exception for its owner, and a summary in the Dagster UI.

On a run whose landing succeeded, this step writes the owners' files once (``exports/exceptions/
<owner>.csv``, see :mod:`orchestration.defs.quality.store`). A landing step that rejects a batch
writes them itself before failing, and ``inflow run`` writes them once more at the end of a failed
run: when a run is blocked by bad data, the people who own that data need the list.
"""

import dagster as dg
import pandas as pd

from orchestration.defs.keys import EXCEPTION_REPORT_KEY
from orchestration.defs.quality.store import exception_summary, load_status_counts, owner_file_name, write_owner_reports
from orchestration.resources import WarehouseResource
from orchestration.settings import Settings


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
        with warehouse.connection(read_only=True) as con:
            summary = exception_summary(con)
            per_owner = write_owner_reports(con, folder)
            loads = load_status_counts(con)
        for owner, rows in per_owner.items():
            context.log.info(f"{rows} exception(s) for {owner} in {folder / owner_file_name(owner)}")
        return dg.MaterializeResult(
            metadata={
                "exceptions_total": int(summary["exceptions"].sum()) if not summary.empty else 0,
                "owners": len(per_owner),
                "summary": dg.MetadataValue.md(_markdown(summary)),
                "loads_by_status": dg.MetadataValue.json(loads),
                "folder": dg.MetadataValue.path(str(folder)),
            }
        )

    return exception_report
