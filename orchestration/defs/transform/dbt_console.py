"""What a run's dbt tells the person running it: a few lines, while its whole output goes to a file.

dagster-dbt writes every line dbt prints to ``sys.stdout``: about 700 for the sample company, a
START and a result line per node, coloured with ANSI codes even into a file. :func:`quiet_events`
sends them to ``console.log`` in the run's dbt folder (``INFLOW_HOME/dbt/<run id>/``, beside
``dbt.log`` and ``run_results.json``) without the codes, and reads dbt's structured events to tell
the step's log (the terminal, and the event log in the Dagster UI) what a person needs: where that
file is, how far the build got (at most every :data:`~orchestration.progress.PROGRESS_SECONDS`),
each warning and failure in one line with dbt's message, and a closing count. A failing model or
test is named on the terminal that way before the step fails.

The per-node lines are no longer in the Dagster UI's compute logs either: ``inflow run`` mirrors
its compute logs to the terminal, so they cannot hold what the terminal should not show. The file
holds them, and the step's first line names it.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TextIO

from orchestration.progress import PROGRESS_SECONDS

if TYPE_CHECKING:  # types only: the run summary reads dbt's text through this module without Dagster
    import dagster as dg
    from dagster_dbt.core.dbt_cli_invocation import DbtCliInvocation

#: dbt's console text, in the run's dbt folder.
CONSOLE_LOG = "console.log"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
#: dbt events of a node that finished: built, passed, warned, failed, or skipped (the last two).
NODE_RESULTS = frozenset(
    {
        "LogModelResult",
        "LogTestResult",
        "LogSeedResult",
        "LogSnapshotResult",
        "LogNodeNoOpResult",
        "SkippingDetails",
        "LogSkipBecauseError",
    }
)
SKIPS = frozenset({"SkippingDetails", "LogSkipBecauseError"})
#: At the end of a build dbt names each node that warned or failed ("Warning in test x (path)"),
#: then gives its message in the next event; other warnings and errors dbt reports stand alone.
HEADINGS = frozenset({"RunResultWarning", "RunResultFailure"})
MESSAGES = frozenset({"RunResultWarningMessage", "RunResultError", "RunResultErrorNoMessage"})


def uncoloured(text: str) -> str:
    """dbt's text without its ANSI colour codes (dbt colours them even into a file or a pipe)."""
    return ANSI.sub("", text)


def one_line(text: str) -> str:
    """dbt's text without colour codes, its lines joined by ': '."""
    return ": ".join(line.strip().rstrip(":") for line in uncoloured(text).splitlines() if line.strip())


class DbtProgress:
    """dbt's structured events, told to ``log`` as progress, warnings, failures and a closing count."""

    def __init__(
        self, log: logging.Logger, every: float = PROGRESS_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.log, self.every, self.clock = log, every, clock
        self.done = self.total = self.warned = self.failed = self.skipped = 0
        self.heading: str | None = None
        self.started = self.last = clock()

    def see(self, event: Mapping[str, Any]) -> None:
        """One event of dbt's JSON log (``{"info": {"name", "level", "msg"}, "data": {...}}``)."""
        info, data = event["info"], event.get("data", {})
        name, level = info["name"], info["level"]
        if name in NODE_RESULTS:
            self._finished(name, level, data)
        elif name in HEADINGS:
            self.heading = one_line(info["msg"])
        elif name in MESSAGES or level in ("warn", "error"):
            self._tell(level, ": ".join(filter(None, [self.heading, one_line(info["msg"])])))
            self.heading = None

    def _finished(self, name: str, level: str, data: Mapping[str, Any]) -> None:
        self.done += 1
        self.total = data.get("total") or data.get("num_models") or self.total
        if name in SKIPS:
            self.skipped += 1
        elif level == "error":
            self.failed += 1
        elif level == "warn":
            self.warned += 1
        now = self.clock()
        if now - self.last >= self.every:
            self.last = now
            self.log.info(f"dbt: {self.done} of {self.total} nodes done, {self.failed} failed")

    def _tell(self, level: str, text: str) -> None:
        (self.log.warning if level == "warn" else self.log.error)(f"dbt: {text}")

    def finish(self) -> None:
        """The closing line: nodes done and how many warned, failed or were skipped."""
        self.log.info(
            f"dbt: {self.done} of {self.total} nodes done in {self.clock() - self.started:.1f}s: "
            f"{self.warned} warned, {self.failed} failed, {self.skipped} skipped"
        )


class _Uncoloured(io.TextIOBase):
    """A text file that drops ANSI colour codes from what is written to it."""

    def __init__(self, handle: TextIO) -> None:
        self.handle = handle

    def write(self, text: str) -> int:
        self.handle.write(uncoloured(text))
        return len(text)

    def flush(self) -> None:
        self.handle.flush()


def quiet_events(invocation: DbtCliInvocation, context: dg.AssetExecutionContext) -> list[Any]:
    """The Dagster events of a running dbt command, as ``invocation.stream()`` makes them, once it
    has finished; what dagster-dbt prints meanwhile goes to ``console.log`` in the command's target
    folder, and a few lines to the step's log (see the module docstring). Raises what ``stream()``
    raises when dbt fails, after the lines naming what failed."""
    console = invocation.target_path / CONSOLE_LOG
    console.parent.mkdir(parents=True, exist_ok=True)
    context.log.info(f"dbt: building; its whole output goes to {console}")
    progress = DbtProgress(context.log)
    events: list[Any] = []
    with console.open("w", encoding="utf-8") as handle, contextlib.redirect_stdout(_Uncoloured(handle)):
        try:
            for event in invocation.stream_raw_events():
                progress.see(event.raw_event)
                events.extend(
                    event.to_default_asset_events(
                        manifest=invocation.manifest,
                        dagster_dbt_translator=invocation.dagster_dbt_translator,
                        context=context,
                        target_path=invocation.target_path,
                        project=invocation.project,
                    )
                )
        finally:
            progress.finish()
    return events


def quiet_wait(invocation: DbtCliInvocation) -> None:
    """Wait for a dbt command whose events no asset reports (the views a Spark build creates on
    DuckDB afterwards), its output to ``console.log`` in its own target folder. Raises what
    ``wait()`` raises when dbt fails."""
    console = invocation.target_path / CONSOLE_LOG
    console.parent.mkdir(parents=True, exist_ok=True)
    with console.open("w", encoding="utf-8") as handle, contextlib.redirect_stdout(_Uncoloured(handle)):
        invocation.wait()
