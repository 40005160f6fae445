"""Asset keys of the assets Inflow builds in Python: one home for how they are named.

dbt models are keyed ``<schema>/<model>`` by the dbt translator (``defs/transform/dbt.py``); the
landing assets, the exception report and the publication are keyed here.
"""

from __future__ import annotations

import dagster as dg

EXCEPTION_REPORT_KEY = dg.AssetKey(["quality", "exception_report"])
SERVING_KEY = dg.AssetKey(["serving", "published"])
REVIEW_PACK_KEY = dg.AssetKey(["reports", "review_pack"])
FX_COVERAGE_KEY = dg.AssetKey(["quality", "fx_coverage"])
OUTREACH_DRAFTS_KEY = dg.AssetKey(["marts", "outreach_drafts"])


def raw_table_key(raw_table: str) -> dg.AssetKey:
    """A configured source table as landed: ``raw/<source>__<table>``."""
    return dg.AssetKey(["raw", raw_table])


def entity_key(entity_name: str) -> dg.AssetKey:
    """The union view of one canonical entity over its source tables: ``raw/<entity>``."""
    return dg.AssetKey(["raw", entity_name])
