"""Adapter from the landing layer to the Great Expectations source contracts."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from orchestration.defs.ingestion.landing import BatchInfo, LandingContext

if TYPE_CHECKING:
    from expectations.runner import BatchVerdict


def gx_validator(entity_name: str, landing: LandingContext, batches: list[tuple[pd.DataFrame, BatchInfo]]) -> list[BatchVerdict]:
    """Validate a group of typed batches with their entity's suite, relations and batch rules.

    Great Expectations is imported here, not at module load: it takes ~3 s to import, and the
    Dagster definitions (UI, dbt and publish steps) should not pay for it.
    """
    from expectations.runner import BatchContext, validate_batches

    def context(info: BatchInfo) -> BatchContext:
        return BatchContext(
            as_of=landing.load_date,
            landed_row_count=info.landed_rows,
            previous_row_count=info.previous_rows,
            row_count_drop_threshold=landing.drop_threshold,
            known_account_ids=landing.known_account_ids,
        )

    return validate_batches(entity_name, [(frame, context(info)) for frame, info in batches],
                            reporting_currency=landing.reporting_currency,
                            known_customer_ids=landing.known_customer_ids)
