"""Adapter from the landing layer to the Great Expectations source contracts."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from orchestration.defs.ingestion.landing import BatchInfo

if TYPE_CHECKING:
    from expectations.runner import BatchVerdict


def gx_validator(entity_name: str, frame: pd.DataFrame, info: BatchInfo) -> BatchVerdict:
    """Validate one typed batch with its entity's suite, relations and batch rules.

    Great Expectations is imported here, not at module load: it takes ~3 s to import, and the
    Dagster definitions (UI, dbt and publish steps) should not pay for it.
    """
    from expectations.runner import BatchContext, validate_batch

    context = BatchContext(
        as_of=info.load_date,
        landed_row_count=info.landed_rows,
        previous_row_count=info.previous_rows,
        row_count_drop_threshold=info.drop_threshold,
        known_account_ids=info.known_account_ids,
    )
    return validate_batch(entity_name, frame, reporting_currency=info.reporting_currency,
                          known_customer_ids=info.known_customer_ids, context=context)
