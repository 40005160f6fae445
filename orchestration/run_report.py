"""What ``inflow run`` tells its user: a quiet console log during the run, a summary at its end.

The console log shows INFO and above (``--verbose``: Dagster's DEBUG events and dagster-dbt's own
lines too), one line per message, an error as its first paragraph only: the summary prints each
failure once, in full sentences, instead of inside two stack traces. The summary says the as-of
date; per source table the files loaded, rejected and skipped and the rows landed / accepted /
quarantined and read from rejected files; the gates that failed and why; the published tables
with row counts; open AR by currency; where the exception files are. Other parts of Inflow add
lines through :data:`SUMMARY_SECTIONS`.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb

from orchestration.defs.ingestion.landing import batch_files
from orchestration.defs.publish.publication import serving_for
from orchestration.failures import describe_step_error
from orchestration.settings import Settings
from orchestration.warehouse import connect

#: Hook: functions adding lines to the end-of-run summary, given the settings and whether the run
#: published (e.g. the ML scores or the report pack saying what they wrote). Each returns lines.
SUMMARY_SECTIONS: list[Callable[[Settings, bool], list[str]]] = []


#: dagster-dbt's own lines around every dbt command: the selection it uses, the parse it copies, and
#: the whole command line (about 1,300 characters) before and after. The console shows them with
#: ``--verbose`` only (Dagster's event log keeps them); the dbt step says what a person needs
#: (:mod:`orchestration.defs.transform.dbt_console`).
DBT_CHATTER = re.compile(
    r"A dbt subsetted execution is |Copying `.*` to take advantage of partial parsing|(Running|Finished) dbt command: "
)


#: Dagster's note on a skipped step lists the step it waited for once per output it needed: the
#: dbt step 60 times over.
_NOT_EXECUTED = re.compile(r"(were not executed: )\[([^\]]*)\]")


def once_each(message: str) -> str:
    """A skipped step's note with each step it waited for named once, in first-named order."""

    def unique(match: re.Match[str]) -> str:
        names = [name.strip() for name in match.group(2).split(",") if name.strip()]
        return match.group(1) + "[" + ", ".join(dict.fromkeys(names)) + "]"

    return _NOT_EXECUTED.sub(unique, message)


def _message(record: logging.LogRecord) -> str:
    """The message as logged, without Dagster's prefix, cut at the first blank line (where Dagster
    appends the stack), each step a skipped step waited for named once."""
    meta = getattr(record, "dagster_meta", {}) or {}
    return once_each(str(meta.get("orig_message") or record.getMessage()).split("\n\n")[0].strip())


class _OneParagraph(logging.Formatter):
    """``HH:MM:SS step: message``, the message's first paragraph only."""

    def format(self, record: logging.LogRecord) -> str:
        step = (getattr(record, "dagster_meta", {}) or {}).get("step_key")
        stamp = dt.datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        return f"{stamp} {step + ': ' if step else ''}{_message(record)}"


def _not_dbt_chatter(record: logging.LogRecord) -> bool:
    """Whether the console shows a record: every warning and error, every line but dagster-dbt's own."""
    return record.levelno >= logging.WARNING or not DBT_CHATTER.match(_message(record))


@dg.logger(
    config_schema={"verbose": dg.Field(bool, default_value=False)},
    description="Inflow's console log: INFO and above, one paragraph per message (DEBUG with verbose).",
)
def inflow_console(init_context: dg.InitLoggerContext) -> logging.Logger:
    logger = logging.getLogger("inflow.run")
    logger.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneParagraph())
    verbose = init_context.logger_config["verbose"]
    if not verbose:
        handler.addFilter(_not_dbt_chatter)
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    return logger


def logger_run_config(verbose: bool) -> dict:
    return {"loggers": {"console": {"config": {"verbose": verbose}}}}


@dataclass(frozen=True)
class TableLine:
    raw_table: str
    files_loaded: int
    files_rejected: int
    files_skipped: int
    landed: int
    accepted: int
    quarantined: int
    rejected: int


def table_lines(settings: Settings, con: duckdb.DuckDBPyConnection, since: dt.datetime) -> list[TableLine]:
    """Per configured table, what this run (loads recorded since ``since``) did with its files. A
    rejected file counts apart from the loaded ones: one refused before a row was read (a malformed
    CSV) has no rows to show, and must not read as loaded."""
    out = []
    for source, table, _, tbl in settings.config.tables():
        raw = f"{source}__{table}"
        row = con.execute(
            """
            select count(*) filter (where status = 'loaded'),
                   count(*) filter (where status = 'rejected'),
                   coalesce(sum(rows_landed) filter (where status = 'loaded'), 0),
                   coalesce(sum(rows_accepted) filter (where status = 'loaded'), 0),
                   coalesce(sum(rows_quarantined) filter (where status = 'loaded'), 0),
                   coalesce(sum(rows_landed) filter (where status = 'rejected'), 0)
            from quality.source_loads where source_table = ? and loaded_at >= ?
            """,
            [raw, since],
        ).fetchone()
        loaded, rejected = row[0], row[1]
        seen = len(batch_files(settings.config, tbl)) if tbl.format != "query" else 1
        out.append(TableLine(raw, loaded, rejected, max(seen - loaded - rejected, 0), *row[2:]))
    return out


def _serving_lines(serving: Path) -> list[str]:
    con = connect(serving, read_only=True)
    try:
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() where schema_name <> 'meta' order by 1, 2"
        ).fetchall()
        lines = [f"published {len(tables)} tables to {serving}:"]
        for schema, name in tables:  # names from the catalogue of the file just published
            rows = con.execute(f'select count(*) from "{schema}"."{name}"').fetchone()[0]  # noqa: S608 (names from the catalog of the file just published, quoted)
            lines.append(f"  {schema}.{name}: {rows:,} rows")
        open_ar = con.execute(
            "select currency, count(*), sum(open_amount) from marts.fct_ar_invoices where open_amount <> 0 "
            "group by 1 order by 1"
        ).fetchall()
        lines.append("open AR by currency:" if open_ar else "open AR: none")
        lines += [f"  {cur}: {amount:,.2f} in {n:,} open invoice(s)" for cur, n, amount in open_ar]
        return lines
    finally:
        con.close()


def summary(settings: Settings, as_of: dt.date, since: dt.datetime, failures: list[str], published: bool) -> str:
    """The end-of-run summary (see the module docstring)."""
    lines = [f"as of {as_of}:"]
    if settings.warehouse_path.exists():
        con = connect(settings.warehouse_path, read_only=True)
        try:
            lines.append(
                "  table: files loaded / rejected / skipped; rows landed / accepted / quarantined; "
                "rows read from rejected files"
            )
            for t in table_lines(settings, con, since):
                lines.append(
                    f"  {t.raw_table}: {t.files_loaded} / {t.files_rejected} / {t.files_skipped}; {t.landed:,} / "
                    f"{t.accepted:,} / {t.quarantined:,}; {t.rejected:,}"
                )
        finally:
            con.close()
    if failures:
        lines.append("failed (serving left as last published):")
        lines += [f"  - {f}" for f in failures]
    serving = serving_for(settings.layout, as_of)
    if published and serving.exists():
        lines += _serving_lines(serving)
    lines.append(f"exceptions per owner: {settings.exports_dir / 'exceptions'}")
    for section in SUMMARY_SECTIONS:
        lines += section(settings, published)
    return "\n".join(lines)


#: A failed singular dbt test as dbt names it in a failure: its name and its file in the project.
_FAILED_SINGULAR_TEST = re.compile(r"Failure in test (\w+) \((tests/[\w/]+\.sql)\)")
#: Rows of a failed test shown in the summary.
FAILING_ROWS_SHOWN = 5


def failing_rows(settings: Settings, run_id: str, failures: list[str]) -> list[str]:
    """The first rows each failed singular dbt test returned, read again from the warehouse with the
    SQL dbt compiled for the run. dbt itself says only "Got 4 results"; a reconciliation test
    returns what did not reconcile (the currency, both amounts, the difference), which is what
    the reader needs to act on. Nothing is shown when the compiled SQL or the warehouse is not
    there (Spark) or the query fails: the summary still names the test."""
    lines: list[str] = []
    tests = sorted({m.groups() for text in failures for m in _FAILED_SINGULAR_TEST.finditer(text)})
    for name, path in tests:
        compiled = settings.dbt_runs_dir / run_id / "compiled" / "inflow" / path
        if not compiled.is_file() or not settings.warehouse_path.exists():
            continue
        con = connect(settings.warehouse_path, read_only=True)
        try:
            sql = compiled.read_text("utf-8")  # on lines of its own: a last line may be a comment
            rows = con.execute(f"select * from (\n{sql}\n) limit {FAILING_ROWS_SHOWN}")  # noqa: S608 (SQL dbt compiled from the project's own test)
            columns, values = [d[0] for d in rows.description], rows.fetchall()
        except duckdb.Error:
            continue
        finally:
            con.close()
        lines.append(f"rows {name} returned (at most {FAILING_ROWS_SHOWN}):")
        lines += [f"  {', '.join(f'{c}={v}' for c, v in zip(columns, row, strict=True))}" for row in values]
    return lines


def failure_lines(result: dg.ExecuteInProcessResult, home: Path | None = None) -> list[str]:
    """Each failed step and failed blocking check once, by its innermost cause (and what to do
    when the machine is at fault); a run that failed before any step says why. A check of
    severity WARN that did not pass is not a failure: listing it under "failed" would send the
    reader after a warning instead of the cause."""
    out = [
        f"step {event.step_key}: {describe_step_error(event.step_failure_data.error, home)}"
        for event in result.all_events
        if event.is_step_failure
    ]
    for check in result.get_asset_check_evaluations():
        if not check.passed and check.severity == dg.AssetCheckSeverity.ERROR:  # a warning did not fail it
            out.append(
                f"check {check.asset_key.to_user_string()}:{check.check_name} ({check.severity.value}): "
                f"{check.description or 'failed'}"
            )
    if not out and not result.success:
        out.append(_run_failure(result, home))
    return out


def _run_failure(result: dg.ExecuteInProcessResult, home: Path | None) -> str:
    """The cause of a run that failed outside any step (a resource that could not start)."""
    errors = [
        event.event_specific_data.error
        for event in result.all_events
        if getattr(event.event_specific_data, "error", None) is not None
    ]
    return describe_step_error(errors[-1], home) if errors else "the run failed before any step ran"
