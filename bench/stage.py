"""Run one pipeline stage (ingest, dbt or publish) of the main job in this process.

The benchmark starts this module in a child process per stage, so the wall time and the peak
resident memory it measures belong to that stage alone (DuckDB and dbt included).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

STAGES = ("ingest", "dbt", "publish")


def stage_keys(defs, stage: str) -> list:
    """Asset keys of one stage: landing + exception report, the dbt models, or the publish step."""
    from orchestration.defs.publish.assets import SERVING_KEY

    all_keys = defs.resolve_all_asset_keys()
    if stage == "publish":
        return [SERVING_KEY]
    dbt_keys = [k for k in all_keys if k.path[0] in ("staging", "intermediate", "marts")]
    if stage == "dbt":
        return dbt_keys
    return [k for k in all_keys if k not in dbt_keys and k != SERVING_KEY]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("stage", choices=STAGES)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--home", type=Path, required=True)
    args = parser.parse_args(argv)
    os.environ["INFLOW_CONFIG"] = str(args.config.resolve())
    os.environ["INFLOW_HOME"] = str(args.home.resolve())

    import dagster as dg

    from orchestration.definitions import MAIN_JOB, build_definitions
    from orchestration.settings import Settings

    defs = build_definitions(Settings.from_env())
    job = defs.resolve_job_def(MAIN_JOB)
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(),
                                    asset_selection=stage_keys(defs, args.stage), raise_on_error=False)
    if not result.success:
        print(f"stage {args.stage} failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
