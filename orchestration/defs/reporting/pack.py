"""Build the review pack of one publication: ``INFLOW_HOME/reports/<as_of>/``.

``inflow report`` and the Dagster asset after publish both come here. The serving file is opened
read-only, so a pack can be built while BI tools read the same file, and never changes what is
published.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration.defs.publish.publication import serving_for
from orchestration.defs.reporting.render import write_pack_files
from orchestration.defs.reporting.sections import ReportError, ReviewPack, read_pack
from orchestration.permissions import share_with_group
from orchestration.settings import Settings


@dataclass(frozen=True)
class PackResult:
    pack: ReviewPack
    folder: Path
    files: dict[str, Path]
    seconds: float


def reports_folder(settings: Settings, as_of: dt.date) -> Path:
    return settings.home / "reports" / as_of.isoformat()


def build_review_pack(settings: Settings, as_of: dt.date | None = None) -> PackResult:
    """Read the publication (as of ``as_of``, default its own date; a dated publication of that
    day when there is one) and write the page, the workbook and the plots into ``reports/<as_of>/``."""
    started = time.perf_counter()
    serving = serving_for(settings.layout, as_of)
    if not serving.is_file():
        raise ReportError(f"{serving} does not exist: run the pipeline (inflow run) to publish first")
    con = duckdb.connect(str(serving), read_only=True)
    try:
        pack = read_pack(con, settings.config.company, settings.config.reporting_currency, as_of)
    finally:
        con.close()
    folder = reports_folder(settings, pack.as_of)
    files = write_pack_files(pack, folder, serving.name, dt.datetime.now())
    if settings.config.serving.group_read:
        share_with_group(settings.home, [folder.parent])
    return PackResult(pack, folder, files, time.perf_counter() - started)
