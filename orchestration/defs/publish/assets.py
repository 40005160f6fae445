"""The publish asset: the last step of write–audit–publish."""

from pathlib import Path

import dagster as dg

from orchestration.audit import AuditTrail, copy_to_duckdb, loaded_inputs
from orchestration.defs.keys import SERVING_KEY
from orchestration.defs.outreach.assets import published_personal_columns
from orchestration.defs.publish.descriptions import dbt_descriptions
from orchestration.defs.publish.guard import latest_build, mark_passed, refuse_partial, refuse_shrink, refuse_unbuilt
from orchestration.defs.publish.publication import ServingFormat, dated_link, publish_unit, publishes_dated
from orchestration.defs.transform.dbt import run_manifest
from orchestration.home.backups import write_backup
from orchestration.home.migrations import warehouse_version
from orchestration.permissions import share_with_group
from orchestration.privacy import PublishPrivacy
from orchestration.resources import RunOptions, WarehouseResource
from orchestration.settings import Settings


def _selected(context: dg.AssetExecutionContext) -> set[dg.AssetKey]:
    """The assets this run builds: its selection, or its whole job's."""
    return set(context.run.asset_selection or context.job_def.asset_layer.selected_asset_keys)


def build_publish_asset(
    settings: Settings, upstream: list[dg.AssetKey], required: list[dg.AssetKey]
) -> dg.AssetsDefinition:
    """The publish step after ``upstream``; a run that changes the warehouse must build all of
    ``required`` (the landing and the fact layer) to publish."""

    @dg.asset(key=SERVING_KEY, group_name="serving", kinds={"duckdb", "parquet"}, deps=upstream)
    def published(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, run: RunOptions
    ) -> dg.MaterializeResult:
        """Copies marts, ml, forecast, quality and writeback into a new publication (serving.duckdb
        and its Parquet/XLSX exports, switched in together), then backs up the landed raw tables.
        Runs only when every upstream step and blocking check of the run passed, the warehouse
        state comes from a complete build that passed, and the fact layer did not shrink silently;
        otherwise the serving file and exports stay as last published."""
        with warehouse.connection() as con:
            build = latest_build(con)
            if build is not None and build.run_id == context.run_id:
                refuse_partial(_selected(context), required, context.run_id)
                mark_passed(con, context.run_id)
            else:
                refuse_unbuilt(build, context.instance)
        as_of = run.as_of(settings.config.as_of_date)
        dated = publishes_dated(settings.layout, as_of, run.promote)
        if not dated:  # a dated publication replaces nothing: the shrink guard protects the current one
            refuse_shrink(
                Path(warehouse.path),
                settings.serving_path,
                settings.config.publish.max_open_invoice_drop,
                run.allow_shrink,
                warehouse.memory_limit,
            )
        manifest = run_manifest(settings, context.run_id)
        trail = AuditTrail(settings.home)
        passed = f"every blocking check of build {build.run_id if build else '?'} passed"
        trail.record("gate", "passed", run_id=context.run_id, as_of=as_of, subject="publish", detail=passed)
        where = dated_link(settings.layout, as_of) if dated else settings.serving_path
        with warehouse.connection() as con:
            inputs = loaded_inputs(con)
            trail.record("publish", "started", run_id=context.run_id, as_of=as_of, inputs=inputs, subject=str(where))
            copy_to_duckdb(trail, con)
        retention = settings.config.retention
        publication = publish_unit(
            settings.layout,
            Path(warehouse.path),
            as_of,
            context.run_id,
            warehouse.memory_limit,
            retention.publications_kept,
            ServingFormat(
                storage_version=settings.config.serving.storage_version,
                docs=dbt_descriptions(manifest),
                privacy=PublishPrivacy.load(
                    manifest, settings.config.privacy, settings.home, published_personal_columns()
                ),
            ),
            progress=context.log.info,
            dated=dated,
        )
        tables = publication.tables
        trail.record(
            "publish",
            "published",
            run_id=context.run_id,
            as_of=as_of,
            rows=sum(t.rows for t in tables),
            subject=str(where),
            detail=f"publication {publication.id}: {len(tables)} tables, {len(inputs)} input file(s)",
        )
        if settings.config.serving.group_read:
            share_with_group(settings.home, [settings.layout.publications, settings.exports_dir])
        context.log.info(f"published {len(tables)} tables to {where} (publication {publication.id})")
        if dated:
            context.log.warning(
                f"as of {as_of}, earlier than the current publication: published beside it under {where}; "
                "the current one is unchanged (inflow run --promote makes a rebuild of an earlier day current)"
            )
        with warehouse.connection(read_only=True) as con:
            backup = write_backup(
                con,
                settings.layout.backups,
                publication.id,
                context.run_id,
                warehouse_version(con) or 0,
                retention.backups_kept,
            )
        return dg.MaterializeResult(
            metadata={
                "serving_file": dg.MetadataValue.path(str(where / "serving.duckdb" if dated else where)),
                "dated": dated,
                "exports_dir": dg.MetadataValue.path(str(settings.exports_dir)),
                "publication": publication.id,
                "raw_backup": dg.MetadataValue.path(str(backup.folder)),
                "as_of_date": as_of.isoformat(),
                "tables": dg.MetadataValue.md(
                    "| table | rows |\n|---|---|\n" + "\n".join(f"| {t.schema}.{t.name} | {t.rows} |" for t in tables)
                ),
            }
        )

    return published
