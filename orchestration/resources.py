"""Resources: the working warehouse, and the choices a launch makes for one run."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from pydantic import Field, PrivateAttr

from orchestration.config import future_as_of
from orchestration.defs.keys import EXCEPTION_REPORT_KEY, SERVING_KEY
from orchestration.defs.publish.guard import changes_warehouse, record_build
from orchestration.home.lock import Lease
from orchestration.home.upkeep import claim_home
from orchestration.settings import HomeLayout
from orchestration.warehouse import connect, prepare_landing

#: Assets whose runs read the warehouse without changing it.
READ_ONLY_ASSETS = (SERVING_KEY, EXCEPTION_REPORT_KEY)


class WarehouseResource(dg.ConfigurableResource):
    """The working DuckDB warehouse. DuckDB takes one writer: open, use, close within a step.

    ``landing_tables`` (entity -> raw tables of the configuration) lets the resource lay out the
    warehouse once per run, when the run starts using it: schemas, quality tables, every raw table
    and every entity's union view (``prepare_landing``), instead of once per landing step.

    With ``home`` set (every run of the definitions), the run first claims that home: it takes the
    home's run lock for the whole run (a second run refuses, naming this one) and settles the
    home before writing (:func:`orchestration.home.upkeep.claim_home`); the notes of that upkeep
    are logged as warnings. The lock is released when the run ends.
    """

    path: str
    memory_limit: str | None = None
    landing_tables: dict[str, list[str]] = {}
    home: str | None = None
    runs_kept: int = 30
    _lease: Lease | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Claim the home (one writer), lay out the warehouse, and record a run that will change it
        as a build (publish verifies that the state it copies comes from a build that passed)."""
        if self.home:
            self._lease, notes = claim_home(
                HomeLayout(Path(self.home)), context.instance, context.run_id, self.runs_kept, self.memory_limit
            )
            for note in notes:
                context.log.warning(note)
        run = context.dagster_run
        try:
            with self.connection() as con:
                prepare_landing(con, self.landing_tables)
                if run is not None and changes_warehouse(run.asset_selection, READ_ONLY_ASSETS):
                    record_build(con, run.run_id, run.job_name)
        except BaseException:
            self.teardown_after_execution(context)
            raise

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._lease:
            self._lease.release()
            self._lease = None

    @contextmanager
    def connection(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        con = connect(self.path, read_only=read_only, memory_limit=self.memory_limit)
        try:
            yield con
        finally:
            con.close()


class RunOptions(dg.ConfigurableResource):
    """What a launch may choose for one run; set from ``inflow run`` options or in the Dagster UI
    launchpad (``resources: {run: {config: {as_of_date: "2026-06-30"}}}``)."""

    as_of_date: str | None = Field(
        default=None,
        description="Compute everything as of this ISO date (rebuild any past day); default: the "
        "configuration's as_of_date, else the day the run starts.",
    )
    full_refresh: bool = Field(
        default=False, description="Rebuild incremental tables (the daily aging history) from scratch."
    )
    allow_shrink: bool = Field(
        default=False,
        description="Publish even if the fact layer is empty or lost more open invoices than "
        "publish.max_open_invoice_drop allows against the current publication.",
    )
    promote: bool = Field(
        default=False,
        description="Make this run's publication the current one even when its as-of date is earlier "
        "than the current publication's (otherwise it is published beside it, under dated/<as_of>).",
    )
    _started_on: dt.date | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Fix "today" once, when the run starts, so every step of a run that crosses midnight
        computes as of the same day; a mistyped or future date fails here, before any step runs."""
        self._started_on = dt.date.today()
        launched = self.launch_date()
        problem = future_as_of(launched, self._started_on) if launched else None
        if problem:
            raise dg.Failure(problem, allow_retries=False)

    def launch_date(self) -> dt.date | None:
        """The as-of date the launch chose, if any."""
        if not self.as_of_date:
            return None
        try:
            return dt.date.fromisoformat(self.as_of_date)
        except ValueError:
            raise dg.Failure(f"as_of_date {self.as_of_date!r} is not an ISO date like 2026-06-30") from None

    def as_of(self, configured: dt.date | None) -> dt.date:
        """The run's as-of date: the launch's, else the configuration's, else the day the run
        started; a day after the one the run started on fails the step (:func:`future_as_of`)."""
        today = self._started_on or dt.date.today()
        as_of = self.launch_date() or configured or today
        problem = future_as_of(as_of, today)
        if problem:
            raise dg.Failure(problem, allow_retries=False)
        return as_of
