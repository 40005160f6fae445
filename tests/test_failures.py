"""One message per failure: the innermost cause from Dagster's wrapped errors and dagster-dbt's
paragraph, and, for errors of the machine (disk full, read-only, permission), what to do."""

from __future__ import annotations

import errno
import sqlite3

import dagster as dg
import duckdb

from orchestration.failures import describe_step_error, environment_message


def _step_errors(*ops: dg.OpDefinition) -> dict[str, object]:
    @dg.job
    def job() -> None:
        for op in ops:
            op()

    result = job.execute_in_process(raise_on_error=False)
    return {e.step_key: e.step_failure_data.error for e in result.all_events if e.is_step_failure}


@dg.op
def disk_full() -> None:
    try:
        raise OSError(errno.ENOSPC, "No space left on device", "/home/x/warehouse.duckdb.wal")
    except OSError as exc:
        raise RuntimeError("could not land the batch") from exc


@dg.op
def rejected() -> None:
    raise dg.Failure(description="1 batch(es) of erp__invoices rejected:\n- inv.csv: batch_empty: no rows")


@dg.op
def bug() -> None:
    raise KeyError("a plain bug")


def test_the_innermost_cause_is_named_with_what_to_do() -> None:
    errors = _step_errors(disk_full, rejected, bug)
    full = describe_step_error(errors["disk_full"])
    assert full.startswith("OSError: [Errno 28] No space left on device: '/home/x/warehouse.duckdb.wal' -> ")
    assert "free space" in full and "Error occurred while executing" not in full
    assert describe_step_error(errors["rejected"]) == (
        "1 batch(es) of erp__invoices rejected:\n- inv.csv: batch_empty: no rows"
    )
    assert describe_step_error(errors["bug"]) == "KeyError: 'a plain bug'", "no advice for a bug"


class _Info:
    """The shape of Dagster's serialized error, for dagster-dbt's message."""

    def __init__(self, message: str, cls_name: str, cause: _Info | None = None) -> None:
        self.message, self.cls_name, self.cause, self.context = message, cls_name, cause, None


def test_dbt_failure_reads_as_dbts_first_error_and_its_log() -> None:
    dbt = _Info(
        "dagster_dbt.errors.DagsterDbtCliRuntimeError: The dbt CLI process with command\n\n`dbt build`\n\n"
        "failed with exit code `2`. Check the stdout in the Dagster compute logs for the full information about "
        "the error, or view the dbt debug log: /h/dbt/r1/dbt.log.\n\nErrors parsed from dbt logs:\n\n"
        "Runtime Error in model fct_ar_invoices (models/marts/ar/fct_ar_invoices.sql)\n"
        '  IO Error: Could not write file "/h/warehouse.duckdb.wal": No space left on device\n\n'
        "Database Error in model dim_customers (models/marts/ar/dim_customers.sql)\n  IO Error: again",
        "DagsterDbtCliRuntimeError",
    )
    wrapper = _Info('DagsterExecutionStepExecutionError: Error occurred while executing op "dbt_models":', "X", dbt)
    text = describe_step_error(wrapper)
    assert text.startswith(
        "Runtime Error in model fct_ar_invoices (models/marts/ar/fct_ar_invoices.sql): IO Error: Could not write "
        'file "/h/warehouse.duckdb.wal": No space left on device (and 1 more dbt error(s)); dbt\'s log: '
        "/h/dbt/r1/dbt.log -> the disk holding INFLOW_HOME is full"
    )
    assert "\n" not in text


def test_dbt_failure_reads_without_dbts_colour_codes() -> None:
    dbt = _Info(
        "DagsterDbtCliRuntimeError: failed.\n\nErrors parsed from dbt logs:\n\n"
        "62 of 326 FAIL 1 unique_invoices_document_id .... [\x1b[31mFAIL 1\x1b[0m in 0.03s]",
        "DagsterDbtCliRuntimeError",
    )
    assert describe_step_error(dbt) == "62 of 326 FAIL 1 unique_invoices_document_id .... [FAIL 1 in 0.03s]"


def test_a_failed_dbt_test_reads_as_one_error_in_words() -> None:
    """dbt lists a failed test as its progress line, then in its summary as "Failure in test" and
    a "Got N results" paragraph: one failure, said once, with its count."""
    dbt = _Info(
        "DagsterDbtCliRuntimeError: failed.\n\nErrors parsed from dbt logs:\n\n"
        "187 of 327 FAIL 4 assert_open_ar_ties_to_erp_within_tolerance .... [\x1b[31mFAIL 4\x1b[0m in 0.17s]\n\n"
        "\x1b[31mFailure in test assert_open_ar_ties_to_erp_within_tolerance (tests/a.sql)\x1b[0m\n\n"
        "  Got 4 results, configured to fail if != 0\n",
        "DagsterDbtCliRuntimeError",
    )
    assert describe_step_error(dbt) == (
        "Failure in test assert_open_ar_ties_to_erp_within_tolerance (tests/a.sql): "
        "Got 4 results, configured to fail if != 0"
    )


def test_errors_of_the_machine_become_one_line_and_others_do_not() -> None:
    def chained(inner: BaseException) -> BaseException:
        try:
            try:
                raise inner
            except BaseException as exc:
                raise RuntimeError("while writing the instance") from exc
        except RuntimeError as outer:
            return outer

    read_only = environment_message(chained(OSError(errno.EROFS, "Read-only file system", "/mnt/home/dagster")))
    assert read_only.startswith("[Errno 30] Read-only file system: '/mnt/home/dagster' -> ")
    assert "writable" in read_only and "\n" not in read_only
    sqlite_full = environment_message(chained(sqlite3.OperationalError("database or disk is full")))
    assert sqlite_full.startswith("database or disk is full -> the disk holding INFLOW_HOME is full")
    duck = environment_message(duckdb.IOException('IO Error: Could not write "/h/w.wal": No space left on device'))
    assert duck and "No space left on device" in duck
    denied = environment_message(PermissionError(errno.EACCES, "Permission denied", "/h/run.lock"))
    assert "/h/run.lock" in denied and "owner" in denied
    assert environment_message(chained(ValueError("bad value"))) is None
    assert environment_message(FileNotFoundError(errno.ENOENT, "No such file", "/x")) is None
