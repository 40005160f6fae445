"""The review pack as the last asset of the main job: built from what was just published."""

import dagster as dg

from orchestration.defs.keys import REVIEW_PACK_KEY, SERVING_KEY
from orchestration.defs.reporting.charts import markdown_image
from orchestration.defs.reporting.pack import build_review_pack
from orchestration.resources import RunOptions
from orchestration.settings import Settings

#: The plots shown in the asset's metadata, by section key.
_PLOTS = {"aging": "aging_stack", "kpis": "dso_cei_trend", "forecast": "cash_forecast_fan"}


def build_review_pack_asset(settings: Settings) -> dg.AssetsDefinition:
    @dg.asset(
        key=REVIEW_PACK_KEY,
        group_name="reports",
        kinds={"python", "html", "excel"},
        deps=[SERVING_KEY],
    )
    def review_pack(context: dg.AssetExecutionContext, run: RunOptions) -> dg.MaterializeResult:
        """The review pack finance opens: one self-contained HTML page and one formatted workbook
        (portfolio and aging, DSO/CEI trends, collector queue, payment behaviour by segment and
        customer, exceptions by owner, cash forecast) under reports/<as_of>/, read from the
        serving file that was just published (the dated one, for a rebuild of an earlier day)."""
        as_of = run.as_of(settings.config.as_of_date)
        result = build_review_pack(settings, as_of)
        if result.pack.as_of != as_of:
            context.log.warning(f"the publication is as of {result.pack.as_of}, the run as of {as_of}")
        images = result.pack.images()
        metadata: dict[str, dg.RawMetadataValue] = {
            "html": dg.MetadataValue.path(str(result.files["html"])),
            "workbook": dg.MetadataValue.path(str(result.files["xlsx"])),
            "as_of_date": result.pack.as_of.isoformat(),
            "build_seconds": round(result.seconds, 2),
            "headline": dg.MetadataValue.md(
                "| measure | value |\n|---|---|\n"
                + "\n".join(f"| {h.label} | {h.text} |" for h in result.pack.headline)
            ),
        }
        for key, name in _PLOTS.items():
            if key in images:
                metadata[name] = dg.MetadataValue.md(markdown_image(images[key], name.replace("_", " ")))
        context.log.info(f"review pack for {result.pack.as_of} in {result.folder} ({result.seconds:.1f}s)")
        return dg.MaterializeResult(metadata=metadata)

    return review_pack
