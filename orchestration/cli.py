"""The ``inflow`` command line: generate a synthetic company, run the pipeline headless.

``inflow run`` executes the main job in this process against the Dagster instance under
``INFLOW_HOME/dagster``, so its runs appear in ``make ui``. Exit status is 0 only when every step
succeeded (and so the serving file was published).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from orchestration.config import ConfigError, config_path_from_env, home_from_env, load_config

if TYPE_CHECKING:  # Dagster takes seconds to import; `inflow generate` does not need it
    import dagster as dg

    from orchestration.settings import Settings


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date like 2026-11-27") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="inflow", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write a synthetic company's source exports and its inflow.yml")
    gen.add_argument("--out", type=Path, required=True, help="directory to write into")
    gen.add_argument("--customers", type=int, default=250)
    gen.add_argument("--invoices", type=int, default=5000)
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--defect-rate", type=float, default=0.0, help="share of rows carrying export defects")
    gen.add_argument("--as-of", type=_date, default=None, help="last day of the history (default today)")
    gen.add_argument("--quiet", action="store_true", help="no progress bar")

    run = sub.add_parser("run", help="land, build, test and publish every asset")
    run.add_argument("--config", type=Path, default=None, help="inflow.yml (default $INFLOW_CONFIG or the sample)")
    run.add_argument("--home", type=Path, default=None, help="output folder (default $INFLOW_HOME or .inflow/)")
    run.add_argument("--as-of", type=_date, default=None, help="as-of date (default: the config's, else today)")
    return parser


def _generate(args: argparse.Namespace) -> int:
    from seeds.generator import generate_company

    report = generate_company(
        out_dir=args.out, customers=args.customers, invoices=args.invoices, seed=args.seed,
        defect_rate=args.defect_rate, as_of=args.as_of or dt.date.today(), progress=not args.quiet,
    )
    defects = sum(report.defects.values())
    print(f"inflow: wrote {len(report.rows_per_file)} exports ({sum(report.rows_per_file.values()):,} rows, "
          f"{report.invoices:,} invoices, {defects:,} injected defects) to {report.out_dir} in "
          f"{report.seconds:.1f}s; config: {report.config_path}")
    return 0


class MainJobRun(NamedTuple):
    result: dg.ExecuteInProcessResult
    defs: dg.Definitions
    settings: Settings


def execute_main_job() -> MainJobRun:
    """Run the main job in this process on INFLOW_CONFIG and INFLOW_HOME, against the Dagster
    instance under INFLOW_HOME/dagster.

    ``inflow run`` and the benchmark both run through here, so the benchmark measures exactly
    what a headless run does (event log written to the instance included).
    """
    load_config(config_path_from_env())  # fail fast, before Dagster starts, on a bad config
    dagster_home = home_from_env() / "dagster"
    dagster_home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(dagster_home)

    import dagster as dg

    from orchestration.definitions import MAIN_JOB, build_definitions
    from orchestration.settings import Settings

    settings = Settings.from_env()
    defs = build_definitions(settings)
    with dg.DagsterInstance.get() as instance:
        result = defs.resolve_job_def(MAIN_JOB).execute_in_process(instance=instance, raise_on_error=False)
    return MainJobRun(result, defs, settings)


def _run(args: argparse.Namespace) -> int:
    if args.config:
        os.environ["INFLOW_CONFIG"] = str(args.config.resolve())
    if args.home:
        os.environ["INFLOW_HOME"] = str(args.home.resolve())
    if args.as_of:
        os.environ["INFLOW_AS_OF"] = args.as_of.isoformat()
    result, _, settings = execute_main_job()
    if result.success:
        print(f"inflow: run {result.run_id} succeeded; published {settings.serving_path}")
        return 0
    failed = [e for e in result.all_events if e.is_step_failure]
    print(f"inflow: run {result.run_id} FAILED; {settings.serving_path} left as last published", file=sys.stderr)
    for event in failed:
        error = event.step_failure_data.error
        print(f"  step {event.step_key}: {error.message.strip() if error else 'failed'}", file=sys.stderr)
    for check in result.get_asset_check_evaluations():
        if not check.passed:
            print(f"  check {check.asset_key.to_user_string()}:{check.check_name} ({check.severity.value}): "
                  f"{check.description or 'failed'}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _generate(args) if args.command == "generate" else _run(args)
    except ConfigError as exc:
        print(f"inflow: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
