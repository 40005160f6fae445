"""The publish asset: the last step of write–audit–publish."""


import dagster as dg

from orchestration.defs.publish.serving import publish, write_exports
from orchestration.settings import Settings

SERVING_KEY = dg.AssetKey(["serving", "published"])


def build_publish_asset(settings: Settings, upstream: list[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(key=SERVING_KEY, group_name="serving", kinds={"duckdb", "parquet"}, deps=upstream)
    def published(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        """Copies marts, ml, forecast, quality and writeback into serving.duckdb (atomic swap) and
        exports Parquet/XLSX. Runs only when every upstream step and blocking check of the run
        passed; otherwise the serving file and exports stay as last published."""
        memory_limit = settings.config.engine.memory_limit
        tables = publish(settings.warehouse_path, settings.serving_path, settings.as_of_date, context.run_id,
                         memory_limit)
        write_exports(settings.serving_path, settings.exports_dir, tables, memory_limit)
        context.log.info(f"published {len(tables)} tables to {settings.serving_path}")
        return dg.MaterializeResult(metadata={
            "serving_file": dg.MetadataValue.path(str(settings.serving_path)),
            "exports_dir": dg.MetadataValue.path(str(settings.exports_dir)),
            "as_of_date": settings.as_of_date.isoformat(),
            "tables": dg.MetadataValue.md(
                "| table | rows |\n|---|---|\n"
                + "\n".join(f"| {t.schema}.{t.name} | {t.rows} |" for t in tables)
            ),
        })

    return published
