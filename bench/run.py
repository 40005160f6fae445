"""`make bench`: time each pipeline stage at 100k, 1M and 10M invoices against a hand-written floor.

For each size a company is generated once and cached under ``bench/cache/`` (its generation time
and memory are cached with it). The main job then runs BENCH_REPEAT times in a child process of
its own, from an empty INFLOW_HOME, as ``inflow run`` runs it; the table reports the median wall
time of the run and of each stage within it (from Dagster's step events), the peak resident
memory of the run, and the ratio of the run to the floor: one DuckDB SQL script
(`bench/floor.sql`) that loads the same files and computes the same ``fct_ar_invoices`` (checked
row by row after every run). Landing (the ingest stage) is also set against the landing floor,
the time DuckDB alone takes to read and type the same files (`bench/landing_floor.py`), measured in
the same run.

Environment: BENCH_SIZES (comma list, default 100000,1000000,10000000), BENCH_REPEAT (default 3;
sizes of 10M and more, and Spark, run once), BENCH_ENGINES (comma list of dbt engines, default
duckdb; ``duckdb,spark`` runs each size on both, Spark local in the dbt process).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from bench.stage import FIXED, STAGES

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / "cache"
FLOOR_SQL = ROOT / "bench" / "floor.sql"
AS_OF = "2026-11-27"
SEED = 11


@dataclass(frozen=True)
class Measure:
    seconds: float
    peak_mib: float


def run_measured(cmd: list[str]) -> Measure:
    """Run a child process; wall time and its peak RSS (from wait4, so children of it are excluded).

    Its output goes to a log file, not a pipe: a pipe nobody reads fills up and stalls the child.
    """
    with tempfile.TemporaryFile() as log:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603 (the benchmark runs this interpreter's own inflow)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            log.seek(0)
            raise RuntimeError(f"{' '.join(cmd)} failed ({code}):\n{log.read().decode(errors='replace')[-4000:]}")
    return Measure(seconds, usage.ru_maxrss / 1024)


def company(
    invoices: int, as_of: str = AS_OF, horizon: str | None = None, name: str | None = None
) -> tuple[Path, Measure]:
    """The cached company of a size, generating it (and recording how long that took) if missing.

    ``as_of`` and ``horizon`` are the generator's (the daily scenario's day D is cut from D+1's
    world, see seeds/README.md); ``name`` is the cache folder (default ``company_<invoices>``).
    """
    folder = CACHE / (name or f"company_{invoices}")
    meta = folder / "bench_generation.json"
    if meta.exists():
        data = json.loads(meta.read_text())
        return folder, Measure(data["seconds"], data["peak_mib"])
    shutil.rmtree(folder, ignore_errors=True)
    customers = max(200, invoices // 200)
    cmd = [sys.executable, "-m", "orchestration.cli", "generate", "--out", str(folder), "--customers", str(customers)]
    cmd += ["--invoices", str(invoices), "--seed", str(SEED), "--as-of", as_of, "--quiet"]
    measure = run_measured(cmd + (["--horizon", horizon] if horizon else []))
    meta.write_text(json.dumps({"seconds": measure.seconds, "peak_mib": measure.peak_mib}))
    return folder, measure


def floor_script(config_dir: Path, target: Path, as_of: str = AS_OF) -> Path:
    """The floor SQL with the company's folder and the as-of date filled in."""
    script = FLOOR_SQL.read_text().replace("{{company}}", str(config_dir)).replace("{{as_of}}", as_of)
    target.write_text(script)
    return target


def run_floor(config_dir: Path, work: Path, as_of: str = AS_OF) -> Measure:
    script = floor_script(config_dir, work / "floor.sql", as_of)
    db = work / "floor.duckdb"
    db.unlink(missing_ok=True)
    code = f"import duckdb; duckdb.connect({str(db)!r}).execute(open({str(script)!r}).read())"
    return run_measured([sys.executable, "-c", code])


def run_landing_floor(config: Path, work: Path) -> float:
    """Seconds DuckDB alone takes to read and type the company's files (inside a child process)."""
    with tempfile.TemporaryFile() as out:
        subprocess.run(  # noqa: S603 (the benchmark runs this interpreter's own inflow)
            [sys.executable, "-m", "bench.landing_floor", str(config), str(work / "landing_floor.duckdb")],
            stdout=out,
            check=True,
        )
        out.seek(0)
        return json.loads(out.read())["seconds"]


def check_same_result(warehouse: Path, floor_db: Path) -> None:
    """The floor is only a floor if it computes the same table: compare them row by row."""
    con = duckdb.connect(str(floor_db), read_only=True)
    try:
        con.execute(f"attach '{warehouse}' as wh (read_only)")
        differing = con.execute(
            "select count(*) from fct_ar_invoices f full join wh.marts.fct_ar_invoices w using (invoice_id) "
            "where f.open_amount is distinct from w.open_amount or f.aging_bucket is distinct from w.aging_bucket "
            "or f.open_amount_reporting is distinct from w.open_amount_reporting"
        ).fetchall()[0][0]
    finally:
        con.close()
    if differing:
        raise RuntimeError(f"floor and pipeline disagree on {differing} invoices: the comparison is void")


@dataclass(frozen=True)
class PipelineRun:
    """One run of the main job: its wall time and peak memory, seconds per stage, and the fixed
    costs measured beside them (``bench.stage.FIXED``)."""

    measure: Measure
    stages: dict[str, float]
    fixed: dict[str, float]

    @property
    def overhead(self) -> float:
        """Wall time outside the steps: interpreter start, definitions, orchestration."""
        return self.measure.seconds - sum(self.stages.values())


def run_pipeline(
    config: Path,
    home: Path,
    job: str = "main",
    as_of: str | None = None,
    fresh: bool = True,
    engine: str = "duckdb",
) -> PipelineRun:
    """A job (``main`` or ``daily``) in one child process, as ``inflow run --engine`` runs it: from
    an empty home when ``fresh``, else on what the home holds (the daily scenario's refresh)."""
    if fresh:
        shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True, exist_ok=True)
    timings = home / "bench_timings.json"
    cmd = [sys.executable, "-m", "bench.stage", "--config", str(config), "--home", str(home), "--timings", str(timings)]
    cmd += ["--job", job, "--engine", engine, "--started-at", f"{time.time():.3f}"]
    measure = run_measured(cmd + (["--as-of", as_of] if as_of else []))
    timed = json.loads(timings.read_text())
    return PipelineRun(measure, {s: timed[s] for s in STAGES}, {f: timed[f] for f in FIXED})


def parse_dbt_project() -> None:
    """Parse the dbt project now if its manifest is stale, so no timed run pays for the parse."""
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from orchestration.defs.transform.dbt import dbt_project; "
            "from orchestration.settings import Settings; dbt_project(Settings.load())",
        ],
        check=True,
    )


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, Python {platform.python_version()}, "
        f"DuckDB {duckdb.__version__}, {platform.system()} {platform.release()}"
    )


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> int:
    sizes = [int(s) for s in os.environ.get("BENCH_SIZES", "100000,1000000,10000000").split(",")]
    repeat = int(os.environ.get("BENCH_REPEAT", "3"))
    engines = os.environ.get("BENCH_ENGINES", "duckdb").split(",")
    CACHE.mkdir(parents=True, exist_ok=True)
    parse_dbt_project()
    print(f"machine: {machine()}", flush=True)
    rows = []
    for size, engine in [(size, engine) for size in sizes for engine in engines]:
        folder, gen = company(size)
        runs = 1 if size >= 10_000_000 or engine == "spark" else repeat
        pipeline_runs: list[PipelineRun] = []
        floors: list[Measure] = []
        landing_floors: list[float] = []
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            for _ in range(runs):
                home = Path(tmp) / "home"
                pipeline_runs.append(run_pipeline(folder / "inflow.yml", home, engine=engine))
                stages = ", ".join(f"{s} {t:.1f}s" for s, t in pipeline_runs[-1].stages.items())
                print(f"    run on {engine}: {pipeline_runs[-1].measure.seconds:.1f}s ({stages})", flush=True)
                floors.append(run_floor(folder, Path(tmp)))
                landing_floors.append(run_landing_floor(folder / "inflow.yml", Path(tmp)))
                check_same_result(home / "warehouse.duckdb", Path(tmp) / "floor.duckdb")
        med = {s: median([r.stages[s] for r in pipeline_runs]) for s in STAGES}
        med["overhead"] = median([r.overhead for r in pipeline_runs])
        total = median([r.measure.seconds for r in pipeline_runs])
        peak = max(r.measure.peak_mib for r in pipeline_runs)
        floor = median([m.seconds for m in floors])
        landing_floor = median(landing_floors)
        rows.append((size, engine, runs, gen, med, peak, total, floor, max(m.peak_mib for m in floors), landing_floor))
        print(
            f"  {size:>10,} invoices on {engine} done: pipeline {total:.1f}s, floor {floor:.1f}s, "
            f"landing {med['ingest']:.1f}s against a landing floor of {landing_floor:.1f}s",
            flush=True,
        )

    print()
    print(
        "| invoices | engine | runs | generate s (MiB) | ingest s | landing floor s | ingest ratio | dbt s | risk s "
        "| forecast s | outputs s | publish s | overhead s | run s | peak MiB | floor s (MiB) | ratio |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size, engine, runs, gen, med, peak, total, floor, floor_peak, landing_floor in rows:
        print(
            f"| {size:,} | {engine} | {runs} | {gen.seconds:.1f} ({gen.peak_mib:.0f}) | {med['ingest']:.1f} | "
            f"{landing_floor:.1f} | {med['ingest'] / landing_floor:.1f}x | {med['dbt']:.1f} | {med['risk']:.1f} | "
            f"{med['forecast']:.1f} | {med['outputs']:.1f} | {med['publish']:.1f} | {med['overhead']:.1f} | "
            f"{total:.1f} | {peak:.0f} | {floor:.1f} ({floor_peak:.0f}) | {total / floor:.1f}x |"
        )
    print("\nMedians over the runs. 'run' is the wall time of the whole job in one process (the stages +")
    print("overhead: interpreter start, definitions, orchestration between steps); the ratio is")
    print("run / floor. Peak MiB is the largest resident set of a run, its dbt subprocess included. The")
    print("landing floor reads and types the same files with DuckDB alone; the ingest ratio is ingest / it.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
