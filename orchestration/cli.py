"""The ``inflow`` command line: generate a synthetic company, run the pipeline headless.

``inflow run`` executes the main job in this process against the Dagster instance under
``INFLOW_HOME/dagster``, so its runs appear in ``make ui``. Exit status: 0 when every step
succeeded (and so the serving file was published); 1 when a step or blocking check failed; 2 for
an invalid configuration or a home this release cannot use; 3 when the machine is at fault (disk
full, read-only file system, permission); 4 when another run holds the home.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, NoReturn

from orchestration.audit import KINDS as AUDIT_KINDS
from orchestration.config import ConfigError, future_as_of
from orchestration.defs.writeback.commands import add_outbox_parser, positive_count, run_outbox_command
from orchestration.failures import environment_message
from orchestration.home import lock
from orchestration.home.migrations import HomeTooNew
from orchestration.home.recovery import WarehouseInUse
from orchestration.settings import DEFAULT_HOME, Settings

if TYPE_CHECKING:  # Dagster takes seconds to import; `inflow generate` does not need it
    import dagster as dg


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date like 2026-11-27") from None


def _version() -> str:
    """The installed distribution's version (pyproject.toml), else the source tree's."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("inflow")
    except PackageNotFoundError:
        return "unknown (not installed: pip install -e .)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="inflow", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--version", action="version", version=f"inflow {_version()}", help="print the version and exit"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write a synthetic company's source exports and its inflow.yml")
    gen.add_argument("--out", type=Path, required=True, help="directory to write into")
    gen.add_argument("--customers", type=int, default=250, help="number of customers (default 250)")
    gen.add_argument("--invoices", type=int, default=5000, help="number of invoices over the history (default 5000)")
    gen.add_argument("--seed", type=int, default=42, help="random seed: the same seed writes the same company")
    gen.add_argument("--defect-rate", type=float, default=0.0, help="share of rows carrying export defects")
    gen.add_argument("--as-of", type=_date, default=None, help="last day of the history (default today)")
    gen.add_argument(
        "--horizon",
        type=_date,
        default=None,
        help="draw the company to this later day (at most 28 days on) and cut it at --as-of: with the same "
        "seed, --as-of D --horizon E, then --as-of E into the same folder, is the drop of the days after D",
    )
    gen.add_argument("--quiet", action="store_true", help="no progress bar")

    run = sub.add_parser("run", help="land, build, test and publish every asset")
    _location_options(run)
    run.add_argument("--as-of", type=_date, default=None, help="as-of date (default: the config's, else today)")
    run.add_argument(
        "--full-refresh", action="store_true", help="rebuild incremental tables (daily aging) from scratch"
    )
    run.add_argument(
        "--wait",
        type=float,
        nargs="?",
        const=-1,
        default=0,
        metavar="SECONDS",
        help="when another run holds the home, wait for it (at most SECONDS; without a number, as long as it "
        "takes) instead of refusing",
    )
    run.add_argument(
        "--allow-shrink",
        action="store_true",
        help="publish even if the fact layer is empty or lost many open invoices (publish.max_open_invoice_drop)",
    )

    report = sub.add_parser(
        "report", help="build the review pack (HTML page and workbook) from the publication, into reports/<as_of>/"
    )
    _location_options(report)
    report.add_argument(
        "--as-of",
        type=_date,
        default=None,
        help="the pack's date (default: the publication's); an earlier date is rebuilt where published history "
        "allows and says which sections show the publication instead",
    )
    run.add_argument(
        "--promote",
        action="store_true",
        help="make a rebuild of a day earlier than the current publication the current one "
        "(otherwise it is published beside it, under INFLOW_HOME/dated/<as_of>)",
    )
    run.add_argument("--verbose", action="store_true", help="show Dagster's DEBUG events and full stack traces")
    run.add_argument(
        "--engine",
        choices=("duckdb", "spark"),
        default=None,
        help="engine of the dbt build (default: the config's warehouse.engine, else duckdb)",
    )

    init = sub.add_parser("init", help="profile export files and write a first inflow.yml for them")
    init.add_argument("files", nargs="+", type=Path, help="export files of one shape (CSV)")
    init.add_argument("--out", type=Path, required=True, help="directory to write inflow.yml into")
    init.add_argument("--preset", default=None, help="a documented export shape (see the README)")
    init.add_argument("--currency", default=None, help="ISO currency of the documents and the reporting currency")

    check = sub.add_parser(
        "check",
        help="validate inflow.yml and read the first rows of every source",
        description="Validate inflow.yml and read the first rows of every source, as `inflow run` would.",
        epilog="exit status: 0 a run would start; 1 a source would stop it; 2 `inflow run` would refuse "
        "the configuration before starting (invalid, missing, or a source naming an unset variable)",
    )
    check.add_argument("--config", type=Path, required=True, help="inflow.yml to check")

    _location_options(add_outbox_parser(sub))

    forecast = sub.add_parser("forecast", help="print the published 13-week cash forecast")
    _location_options(forecast)
    forecast.add_argument("--as-of", type=_date, default=None, help="the forecast published for this as-of date")
    forecast.add_argument("--currency", default=None, help="one currency, in that currency (default: the total)")

    evaluate = sub.add_parser("evaluate", help="chronological evaluation of the risk model at a split date")
    _location_options(evaluate)
    evaluate.add_argument(
        "--split-date",
        type=_date,
        required=True,
        help="train on what was settled before it, test the invoices issued on or after it",
    )
    evaluate.add_argument("--out", type=Path, default=None, help="folder for predictions.csv and metrics.csv")

    audit = sub.add_parser(
        "audit", help="the audit trail: runs, loads, gate decisions, publications, erasures and write-back sends"
    )
    _location_options(audit)
    audit.add_argument(
        "--published-on",
        type=_date,
        default=None,
        help="the input files (with checksums) of each publication as of DATE",
    )
    audit.add_argument("--kind", choices=AUDIT_KINDS, default=None, help="only events of this kind")
    audit.add_argument("--last", type=positive_count, default=50, help="show the last N events (1 or more, default 50)")
    audit.add_argument(
        "--verify", action="store_true", help="check the hash chain; exit 1 when an event was edited or removed"
    )

    erase = sub.add_parser(
        "erase", help="pseudonymise one person's personal data in every store under the home (never financial rows)"
    )
    _location_options(erase)
    who = erase.add_mutually_exclusive_group(required=True)
    who.add_argument("--customer", default=None, help="the ERP customer id whose contacts and notes are erased")
    who.add_argument("--contact", default=None, help="the contact's e-mail address")

    ui = sub.add_parser("ui", help="the Dagster UI on this home (http://127.0.0.1:3000 by default)")
    _location_options(ui)
    ui.add_argument("--port", type=int, default=3000, help="loopback port to serve on")
    return parser


def _location_options(parser: argparse.ArgumentParser) -> None:
    """--config and --home, whose defaults are the documented INFLOW_CONFIG / INFLOW_HOME."""
    parser.add_argument(
        "--config",
        type=Path,
        default=_env_path("INFLOW_CONFIG"),
        help="inflow.yml (default $INFLOW_CONFIG, else the embedded sample company)",
    )
    parser.add_argument(
        "--home",
        type=Path,
        default=_env_path("INFLOW_HOME"),
        help="folder for the warehouse, serving file, exports, outbox and run history "
        "(default $INFLOW_HOME, else .inflow/)",
    )


def _env_path(name: str) -> Path | None:
    """A path option's default from the environment (the documented INFLOW_CONFIG / INFLOW_HOME)."""
    value = os.environ.get(name)
    return Path(value) if value else None


def _generate(args: argparse.Namespace) -> int:
    from seeds.generator import ArgumentRefused, FolderRefused, generate_company

    try:
        report = generate_company(
            out_dir=args.out,
            customers=args.customers,
            invoices=args.invoices,
            seed=args.seed,
            defect_rate=args.defect_rate,
            as_of=args.as_of or dt.date.today(),
            progress=not args.quiet,
            horizon=args.horizon,
        )
    except (ArgumentRefused, FolderRefused) as exc:
        print(f"inflow generate: {exc}", file=sys.stderr)
        return 2
    defects = sum(report.defects.values())
    print(
        f"inflow: wrote {len(report.rows_per_file)} exports ({sum(report.rows_per_file.values()):,} rows, "
        f"{report.invoices:,} invoices, {defects:,} injected defects) to {report.out_dir} in "
        f"{report.seconds:.1f}s; config: {report.config_path}"
    )
    return 0


class MainJobRun(NamedTuple):
    result: dg.ExecuteInProcessResult
    defs: dg.Definitions
    settings: Settings


def run_config(
    as_of: dt.date | None, full_refresh: bool = False, allow_shrink: bool = False, promote: bool = False
) -> dict:
    """The run configuration a launch gives the main job (what the UI launchpad shows)."""
    options: dict[str, object] = {"full_refresh": full_refresh, "allow_shrink": allow_shrink, "promote": promote}
    if as_of:
        options["as_of_date"] = as_of.isoformat()
    return {"resources": {"run": {"config": options}}}


def execute_main_job(
    settings: Settings,
    as_of: dt.date | None = None,
    full_refresh: bool = False,
    allow_shrink: bool = False,
    verbose: bool = True,
    promote: bool = False,
    job_name: str | None = None,
) -> MainJobRun:
    """Run the main job (or ``job_name``, e.g. the daily refresh) in this process against the
    Dagster instance under the home, so its runs appear in ``make ui``.

    The run claims the home first (:func:`orchestration.home.upkeep.claim_home`): the run lock
    (refused at once when another process holds it; re-entered when this one does, as ``inflow
    run`` does to wait for it), then the start-of-run upkeep, whose notes are printed to stderr
    before anything else happens.

    ``inflow run`` and the benchmark both run through here, so the benchmark measures exactly
    what a headless run does (event log written to the instance included).
    """
    import dagster as dg

    from orchestration.definitions import build_definitions
    from orchestration.defs.automation import MAIN_JOB
    from orchestration.home.runs import process_tag
    from orchestration.home.upkeep import claim_home
    from orchestration.run_report import inflow_console, logger_run_config

    run_id = str(uuid.uuid4())
    with lock.acquire(settings.layout.lock, run_id):
        instance_dir = settings.write_dagster_instance()  # a storage setting that cannot work fails here, at once
        defs = build_definitions(settings)
        job = defs.resolve_job_def(job_name or MAIN_JOB).with_logger_defs({"console": inflow_console})
        with dg.DagsterInstance.from_config(str(instance_dir)) as instance:
            claim, notes = claim_home(
                settings.layout,
                instance,
                run_id,
                settings.config.retention.runs_kept,
                settings.config.engine.memory_limit,
            )
            with claim:
                for note in notes:
                    print(f"inflow: {note}", file=sys.stderr)
                result = job.execute_in_process(
                    run_config=run_config(as_of, full_refresh, allow_shrink, promote) | logger_run_config(verbose),
                    instance=instance,
                    raise_on_error=False,
                    run_id=run_id,
                    tags=process_tag(claim.holder),
                )
    return MainJobRun(result, defs, settings)


def _tell_waiting(holder: lock.Holder | None) -> None:
    who = holder.describe() if holder else "another run"
    print(f"inflow: waiting for {who} to finish with this home", file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    settings = Settings.load(args.config, args.home).with_engine(args.engine)  # a bad config fails here
    unset = _unset_source_variables(settings)
    if unset:
        print("inflow: " + "; ".join(unset), file=sys.stderr)
        return 2
    future = future_as_of(settings.config.effective_as_of(args.as_of), dt.date.today())
    if future:
        print(f"inflow: {future}", file=sys.stderr)
        return 2
    wait = None if args.wait < 0 else args.wait
    with lock.acquire(settings.layout.lock, wait=wait, on_wait=_tell_waiting):  # held until the reports are out
        return _run_and_report(settings, args)


def _run_and_report(settings: Settings, args: argparse.Namespace) -> int:
    from orchestration.audit import AuditTrail
    from orchestration.defs.publish.publication import serving_for
    from orchestration.run_report import failing_rows, failure_lines, summary

    for missing in settings.config.missing_entities():
        print(f"inflow: warning: no table lands {missing}; they are derived from the documents", file=sys.stderr)
    started = dt.datetime.now().replace(microsecond=0)
    result, _, settings = execute_main_job(
        settings, args.as_of, args.full_refresh, args.allow_shrink, verbose=args.verbose, promote=args.promote
    )
    as_of = settings.config.effective_as_of(args.as_of)
    trail = AuditTrail(settings.home)
    if result.success:
        trail.record("run", "succeeded", run_id=result.run_id, as_of=as_of, subject="inflow run")
        print(summary(settings, as_of, started, [], published=True))
        print(f"inflow: run {result.run_id} succeeded; published {serving_for(settings.layout, as_of)}")
        return 0
    _write_owner_reports(settings)
    failures = failure_lines(result, settings.home)
    trail.record("run", "failed", run_id=result.run_id, as_of=as_of, subject="inflow run", detail="\n".join(failures))
    print(summary(settings, as_of, started, failures, published=False), file=sys.stderr)
    for line in failing_rows(settings, result.run_id, failures):
        print(line, file=sys.stderr)
    print(failed_line(result.run_id, settings.serving_path), file=sys.stderr)
    return 1


def failed_line(run_id: str, serving: Path) -> str:
    """The last line of a failed run: what BI readers see now (a home that never published has
    nothing to leave as it was)."""
    kept = f"{serving} left as last published" if serving.exists() else "nothing published: this home has none yet"
    return f"inflow: run {run_id} FAILED; {kept}"


def _unset_source_variables(settings: Settings) -> list[str]:
    """Environment variables the sources' URLs name that are not set (a run would fail landing)."""
    from orchestration.secret_refs import missing_variables

    return list(missing_variables(settings.config.secret_references("sources")))


def _ui(settings: Settings, port: int) -> NoReturn:
    """Serve the Dagster UI (with its daemon: schedules and sensors) on loopback, over this home's
    instance and the workspace file's code location ``inflow``. The UI has no login of its own:
    put an authenticating proxy in front of it before serving it beyond this machine.

    SIGINT and SIGTERM are reset to their defaults before the exec: a shell starts a background
    job with SIGINT ignored, the ignore survives the exec, and ``dagster dev`` hands SIGTERM the
    SIGINT disposition, so a UI launched with ``&``, ``nohup`` or from a script would otherwise
    ignore both and keep its webserver, daemon and code server up until SIGKILL."""
    import signal

    from orchestration.config import REPO_ROOT

    env = {
        **os.environ,
        "DAGSTER_HOME": str(settings.write_dagster_instance()),
        "INFLOW_CONFIG": str(settings.config_path),
        "INFLOW_HOME": str(settings.home),
    }
    command = [
        str(Path(sys.executable).parent / "dagster"),
        "dev",
        "-w",
        str(REPO_ROOT / "workspace.yaml"),
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, signal.SIG_DFL)
    os.execvpe(command[0], command, env)  # noqa: S606 (dagster from this venv, arguments built here)


def _read_only_command(args: argparse.Namespace) -> int:
    from orchestration.commands import CommandError, evaluate, forecast_table, metrics_table

    settings = Settings.load(args.config, args.home)
    try:
        if args.command == "forecast":
            print(forecast_table(settings, args.as_of, args.currency), end="")
        else:
            print(metrics_table(evaluate(settings, args.split_date, args.out)), end="")
    except CommandError as exc:
        print(f"inflow: {exc}", file=sys.stderr)
        return 1
    return 0


def _write_owner_reports(settings: Settings) -> None:
    """After a failed run, the owners' exception files hold everything the run recorded (a landing
    step that failed wrote them before the steps that ran after it)."""
    from orchestration.defs.quality.store import write_owner_reports
    from orchestration.warehouse import connect

    if settings.warehouse_path.exists():
        con = connect(settings.warehouse_path, read_only=True)
        try:
            write_owner_reports(con, settings.exports_dir / "exceptions")
        finally:
            con.close()


def _audit(args: argparse.Namespace) -> int:
    """``inflow audit``: list, verify or query the trail of a home a run has written one in. A home
    without one is refused (status 2) before the trail is opened, as the outbox commands refuse
    one without an outbox: opening creates the store, so a mistyped --home would get an empty trail
    reported as "0 events, chain intact"."""
    from orchestration.audit import AuditTrail, describe, publications_on

    settings = Settings.load(args.config, args.home)
    if missing := settings.layout.not_written(AuditTrail.path_at_home(settings.home)):
        print(f"inflow audit: {missing}", file=sys.stderr)
        return 2
    trail = AuditTrail(settings.home)
    if args.verify:
        problems = trail.verify()
        for problem in problems:
            print(f"inflow audit: {problem}", file=sys.stderr)
        print(f"inflow audit: {len(trail.frame())} events, " + ("chain broken" if problems else "chain intact"))
        return 1 if problems else 0
    if args.published_on:
        publications = publications_on(trail, args.published_on)
        if not publications:
            print(f"inflow audit: nothing was published as of {args.published_on}", file=sys.stderr)
            return 1
        for run_id, at, inputs in publications:
            print(f"publication as of {args.published_on} at {at} (run {run_id}) was made from {len(inputs)} file(s):")
            for item in inputs:
                print(f"  {item.checksum}  {item.file}")
        return 0
    events = trail.frame()
    if args.kind:
        events = events[events["kind"] == args.kind]
    for line in describe(events.tail(args.last).to_dict("records")):
        print(line)
    return 0


def _erase(args: argparse.Namespace) -> int:
    from orchestration.erase import ErasureError, erase

    settings = Settings.load(args.config, args.home)
    try:
        report = erase(settings, customer=args.customer, contact=args.contact, progress=print)
    except ErasureError as exc:
        print(f"inflow erase: {exc}", file=sys.stderr)
        return 1
    for line in report.lines():
        print(line)
    return 0


def _report(args: argparse.Namespace) -> int:
    from orchestration.defs.reporting.pack import build_review_pack
    from orchestration.defs.reporting.sections import ReportError

    settings = Settings.load(args.config, args.home)
    try:
        result = build_review_pack(settings, args.as_of)
    except ReportError as exc:
        print(f"inflow: {exc}", file=sys.stderr)
        return 2
    pack = result.pack
    print(f"inflow: review pack as of {pack.as_of} in {result.folder} ({result.seconds:.1f}s)")
    print(f"  page:     {result.files['html']}")
    print(f"  workbook: {result.files['xlsx']}")
    if not pack.is_publication_date:
        print(f"  note: built from the publication as of {pack.publication.as_of}; sections without published history")
        print("        show the publication's state (each says so)")
    for section in pack.sections:
        if section.missing:
            print(f"  {section.title}: {section.missing}")
    return 0


def main(argv: list[str] | None = None) -> int:
    from orchestration.permissions import owner_only

    owner_only()  # everything Inflow writes is its owner's only (orchestration/permissions.py)
    args = _parser().parse_args(argv)
    try:
        if args.command == "generate":
            return _generate(args)
        if args.command == "report":
            return _report(args)
        if args.command == "outbox":
            return run_outbox_command(args, Settings.load(args.config, args.home))
        if args.command == "init":
            from orchestration.onboard.init import run_init

            return run_init(
                args.files, args.out, args.preset, args.currency, "inflow " + " ".join(argv or sys.argv[1:])
            )
        if args.command == "check":
            from orchestration.onboard.check import run_check

            return run_check(args.config)
        if args.command in ("forecast", "evaluate"):
            return _read_only_command(args)
        if args.command == "audit":
            return _audit(args)
        if args.command == "erase":
            return _erase(args)
        if args.command == "ui":
            return _ui(Settings.load(args.config, args.home), args.port)
        return _run(args)
    except (ConfigError, HomeTooNew) as exc:
        print(f"inflow: {exc}", file=sys.stderr)
        return 2
    except (lock.HomeBusy, WarehouseInUse) as exc:
        print(f"inflow: {exc}", file=sys.stderr)
        return 4
    except Exception as exc:
        message = environment_message(exc, getattr(args, "home", None) or DEFAULT_HOME)
        if message is None:
            raise  # a bug: keep its traceback
        print(f"\ninflow: {message}", file=sys.stderr)  # on a line of its own, whatever was half-written
        return 3


if __name__ == "__main__":
    raise SystemExit(main())
