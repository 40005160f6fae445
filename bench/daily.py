"""`make bench-daily`: the daily scenario of issue 15 — a full build as of D, one business day's
drop, the daily refresh as of D+1 on the same home, checked against a full rebuild as of D+1.

Per size: the company as of D (generated with horizon D+1, so it is D+1's company without D+1's
events: seeds/README.md) and as of D+1 are generated once and cached. In a work folder the
company as of D is built by the main job from an empty home (timed: "full build"); then D+1's
exports replace D's in the same folder (the drop, as the generator writes it: changed files
rewritten, unchanged ones byte-identical and skipped by landing) and the daily refresh
(``inflow_daily_refresh``) runs as of D+1 on that home (timed with its stages, as bench/run.py
times the main job). Then the main job builds the same folder, now D+1's exports, from an empty
home (the reference), and every published table of the refreshed home is compared with it row for
row (bench/compare.py).

Tables that may differ by design are reported, not failed. Weekly (``WEEKLY_PREFIXES``): the
cash forecast and the risk model with its evaluations (the daily refresh scores with the model
trained at D, the rebuild trains at D+1, so scores and the worklist ranked by them differ).
History (``HISTORY_TABLES``): records of runs, loads and publications, which a home that ran
twice has more of. The ERP outbox is a queue with a lifecycle, so only the live entries of the
one kind that is both derived for every entity that has one and independent of the weekly scores,
the collection stage, are compared, on content (``OUTBOX_VIEW``): what was proposed when and
entries superseded since are history; notes, promises, resolutions and the dispute flag are
derived within a lookback window that moved by a day (``writeback/DECISIONS.md`` W4), so an entry
the refresh proposed at D may fall outside the rebuild's window; risk bands and collector
assignments follow the weekly scores. The daily aging is compared over the rebuild's window (``aging_window``): a home
refreshed daily keeps the days before it, by design. Every other table must be equal row for row.

Environment: BENCH_SIZES (default 100000,1000000); BENCH_WORK, a folder to run in and keep (the
homes and the company) instead of a temporary one, to look into a difference afterwards;
BENCH_COMPARE_UP_TO, the largest size that is rebuilt and compared (default: every size). A
larger size measures the full build and the refresh only, and its row says it was not compared:
at 10M the rebuild would add another full build to an hour-long run, and correctness is checked
at the sizes below.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from pathlib import Path

from bench.compare import TableDifference, published_differences
from bench.run import CACHE, Measure, PipelineRun, company, machine, parse_dbt_project, run_floor, run_pipeline
from bench.stage import STAGES
from orchestration.config import load_config

DAY = "2026-11-27"  # a Friday
NEXT_DAY = "2026-11-30"  # the next business day
#: Published tables owned by the weekly jobs (or computed from their outputs): not rebuilt daily.
WEEKLY_PREFIXES = ("forecast.", "ml.", "marts.collector_queue", "marts.outreach_drafts")
#: Records of what ran, landed and was published: a refreshed home has D's runs too.
HISTORY_TABLES = ("audit.events", "meta.publication", "quality.source_loads")
#: The outbox's live collection stages on content (see the module's docstring); ids, batch, times
#: and the as-of date they were proposed on are its history.
OUTBOX_VIEW = {
    "writeback.erp_outbox": (
        ("seq", "idempotency_key", "previous_key", "batch_id", "as_of_date", "created_at", "updated_at", "approved_at"),
        "status <> 'rejected' and kind = 'collection_stage'",
    )
}


def aging_window(config: Path, as_of: str) -> dict[str, tuple[tuple[str, ...], str]]:
    """The daily aging's rows a rebuild as of ``as_of`` holds: the ``aging.history_days`` days
    ending on it. An incremental run keeps the older days a rebuild does not build."""
    days = load_config(config).aging.history_days
    start = dt.date.fromisoformat(as_of) - dt.timedelta(days=days - 1)
    return {"marts.fct_ar_aging_daily": ((), f"snapshot_date >= date '{start.isoformat()}'")}


def companies(invoices: int) -> tuple[Path, Path, Measure]:
    """The cached companies as of D (cut from D+1's world) and as of D+1; D+1's generation cost."""
    day, _ = company(invoices, DAY, NEXT_DAY, name=f"daily_{invoices}_{DAY}")
    next_day, measure = company(invoices, NEXT_DAY, name=f"daily_{invoices}_{NEXT_DAY}")
    return day, next_day, measure


def drop(source: Path, target: Path) -> list[str]:
    """Make ``target`` hold ``source``'s exports: files that differ are rewritten, identical ones
    are left alone (a generator rerun into the same folder would rewrite them with the same bytes).
    Returns the files written."""
    written = []
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        dest = target / rel
        if path.is_dir() or path.name == "bench_generation.json":
            continue
        if dest.exists() and dest.read_bytes() == path.read_bytes():
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)
        written.append(rel.as_posix())
    return written


def expected(table: str) -> str:
    """Why ``table`` may differ after a refresh ('' when it must not)."""
    if table.startswith(WEEKLY_PREFIXES):
        return "weekly, expected"
    return "history, expected" if table in HISTORY_TABLES else ""


def run_scenario(
    day: Path,
    next_day: Path,
    work: Path,
    floor: bool = True,
    compare: bool = True,
    dates: tuple[str, str] = (DAY, NEXT_DAY),
) -> dict:
    """Full build of ``day``'s company as of ``dates[0]``, its drop to ``next_day``'s, the daily
    refresh as of ``dates[1]``, then (when ``compare``) the reference rebuild and the comparison
    (the slow test runs this at a small size). Without ``compare``, ``rebuild`` is None and
    ``diffs`` empty."""
    first, second = dates
    folder, home, reference = work / "company", work / "home", work / "reference"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(day, folder, ignore=shutil.ignore_patterns("bench_generation.json"))
    config = folder / "inflow.yml"
    full: PipelineRun = run_pipeline(config, home, "main", first)
    print_run(f"full build as of {first}", full)
    dropped = drop(next_day, folder)
    refresh: PipelineRun = run_pipeline(config, home, "daily", second, fresh=False)
    print_run(f"daily refresh as of {second}", refresh)
    floor_run = run_floor(next_day, work, second) if floor else None
    if not compare:
        return {"full": full, "refresh": refresh, "rebuild": None, "floor": floor_run, "diffs": [], "dropped": dropped}
    # the same folder (D+1's exports now), so that file paths in lineage and exceptions agree
    rebuild: PipelineRun = run_pipeline(config, reference, "main", second)
    print_run(f"rebuild as of {second}", rebuild)
    views = OUTBOX_VIEW | aging_window(config, second)
    diffs = published_differences(home / "serving.duckdb", reference / "serving.duckdb", views=views)
    return {
        "full": full,
        "refresh": refresh,
        "rebuild": rebuild,
        "floor": floor_run,
        "diffs": diffs,
        "dropped": dropped,
    }


def print_run(label: str, run: PipelineRun) -> None:
    """One run's time, peak and stages, printed as soon as it is done (a later failure, such as a
    full disk at 10M, must not lose what was measured)."""
    stages = ", ".join(f"{s} {run.stages[s]:.1f}" for s in STAGES)
    print(
        f"  {label}: {run.measure.seconds:.1f} s, peak {run.measure.peak_mib:.0f} MiB ({stages}, "
        f"overhead {run.overhead:.1f}; {', '.join(f'{k} {v:g}' for k, v in run.fixed.items())})",
        flush=True,
    )


def report_differences(diffs: list[TableDifference]) -> tuple[int, int]:
    """Print every table that differs; return (tables compared, unexpected differences)."""
    unexpected = 0
    for d in diffs:
        if d.equal:
            continue
        kind = expected(d.table) or "UNEXPECTED"
        unexpected += not expected(d.table)
        left, right = d.only_left, d.only_right
        print(f"    {d.table}: {left} rows only after the refresh, {right} only in the rebuild {d.note} ({kind})")
    return len(diffs), unexpected


def main() -> int:
    sizes = [int(s) for s in os.environ.get("BENCH_SIZES", "100000,1000000").split(",")]
    compare_up_to = int(os.environ.get("BENCH_COMPARE_UP_TO", max(sizes)))
    CACHE.mkdir(parents=True, exist_ok=True)
    parse_dbt_project()
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f}", flush=True)
    rows = []
    for size in sizes:
        keep = os.environ.get("BENCH_WORK")
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            day, next_day, _ = companies(size)
            work = Path(keep) / str(size) if keep else Path(tmp)
            result = run_scenario(day, next_day, work, compare=size <= compare_up_to)
        files = sum(1 for p in day.rglob("*") if p.is_file()) - 1
        print(
            f"  {size:,} invoices: load average {os.getloadavg()[0]:.1f}; the drop rewrote {len(result['dropped'])} "
            f"of {files} files: {', '.join(result['dropped'])}",
            flush=True,
        )
        compared, unexpected = report_differences(result["diffs"])
        equal = sum(d.equal for d in result["diffs"])
        rows.append((size, result, compared, equal, unexpected))
        if result["rebuild"] is None:
            print(f"  {size:,} invoices: not rebuilt or compared (BENCH_COMPARE_UP_TO={compare_up_to:,})", flush=True)

    print()
    print(
        "| invoices | full build s | refresh s | "
        + " | ".join(f"{s} s" for s in STAGES)
        + " | overhead s | startup s (of overhead) | dbt start s (of dbt) | dbt nodes (median s)"
        + " | refresh peak MiB | rebuild D+1 s | floor s | refresh / floor | tables equal | unexpected |"
    )
    print("|---:" * (len(STAGES) + 13) + "|")
    for size, r, compared, equal, unexpected in rows:
        refresh, floor = r["refresh"], r["floor"].seconds
        fixed = refresh.fixed
        rebuilt = f"{r['rebuild'].measure.seconds:.1f}" if r["rebuild"] else "not run"
        checked = f"{equal}/{compared} | {unexpected}" if r["rebuild"] else "not compared | -"
        print(
            f"| {size:,} | {r['full'].measure.seconds:.1f} | {refresh.measure.seconds:.1f} | "
            + " | ".join(f"{refresh.stages[s]:.1f}" for s in STAGES)
            + f" | {refresh.overhead:.1f} | {fixed['startup']:.1f} | {fixed['dbt_start']:.1f} | "
            f"{fixed['dbt_nodes']:.0f} ({fixed['dbt_node_median']:.2f}) | "
            f"{refresh.measure.peak_mib:.0f} | {rebuilt} | "
            f"{floor:.1f} | {refresh.measure.seconds / floor:.1f}x | {checked} |"
        )
    return 1 if any(row[4] for row in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
