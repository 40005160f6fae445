"""What the review pack and the DuckDB 1.x storage format cost, measured on a published home.

    python -m bench.reporting_cost --config DIR/inflow.yml --home HOME [--repeat 3]

The home must hold a finished run (``inflow run``). For each storage version (``v1.5.0``, the
default, and ``latest``, DuckDB 2's own) the serving file is built from the home's warehouse into
a scratch folder ``repeat`` times (the same code as the publish step), its size taken, and a
reader's queries timed on it; then the review pack is built ``repeat`` times from the home's
serving file. Medians are printed. Nothing under the home changes except ``reports/<as_of>/``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from orchestration.defs.publish.descriptions import dbt_descriptions
from orchestration.defs.publish.serving import publish
from orchestration.defs.reporting.pack import build_review_pack
from orchestration.defs.transform.dbt import DBT_DIR
from orchestration.settings import Settings

#: What a BI reader does on open: list tables and columns, then aggregate the two largest marts.
READER_QUERIES = (
    "select count(*) from duckdb_columns() where schema_name = 'marts'",
    "select aging_bucket, sum(open_amount_reporting) from marts.fct_ar_invoices group by all",
    "select snapshot_date, sum(open_amount_reporting) from marts.fct_ar_aging_daily group by all order by 1",
)


def _seconds(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _read(path: Path) -> None:
    con = duckdb.connect(str(path), read_only=True)
    try:
        for sql in READER_QUERIES:
            con.execute(sql).fetchall()
    finally:
        con.close()


def measure(settings: Settings, repeat: int) -> list[str]:
    docs = dbt_descriptions(DBT_DIR / "target" / "manifest.json")
    lines = ["| storage version | publish s (median) | file MiB | reader queries s (median) |", "|---|---:|---:|---:|"]
    versions = ("v1.5.0", "latest")
    runs: dict[str, list[float]] = {v: [] for v in versions}
    reads: dict[str, list[float]] = {v: [] for v in versions}
    with tempfile.TemporaryDirectory() as scratch:
        targets = {v: Path(scratch) / f"serving-{v}.duckdb" for v in versions}
        for _ in range(repeat):  # interleaved, so a warm cache or a busy minute does not favour one
            for version, target in targets.items():
                runs[version].append(
                    _seconds(
                        lambda t=target, v=version: publish(
                            settings.warehouse_path, t, dt.date.today(), "bench", settings.config.engine.memory_limit,
                            v, docs,
                        )
                    )
                )  # fmt: skip
                reads[version].append(_seconds(lambda t=target: _read(t)))
        for version, target in targets.items():
            size = target.stat().st_size / 2**20
            lines.append(
                f"| {version} | {statistics.median(runs[version]):.2f} | {size:.1f} | "
                f"{statistics.median(reads[version]):.3f} |"
            )
    packs = [build_review_pack(settings).seconds for _ in range(repeat)]
    lines.append(f"\nreview pack: {statistics.median(packs):.2f} s median of {repeat} (read, plots, page, workbook)")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True, help="the inflow.yml of the published company")
    parser.add_argument("--home", type=Path, required=True, help="the home holding a finished run")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement (median printed)")
    args = parser.parse_args()
    print("\n".join(measure(Settings.load(args.config, args.home), args.repeat)))


if __name__ == "__main__":
    main()
