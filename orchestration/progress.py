"""Progress of long work (landing, publishing) as lines a person can follow: rows and rows/s.

A 10M-row landing or publish runs for minutes; a line per file or per table would flood the
log, silence would look like a hang. :class:`Progress` counts rows as they are done and reports
at most every ``every`` seconds, plus one closing line with the total and the overall rate.
"""

from __future__ import annotations

import time
from collections.abc import Callable

#: Seconds between progress lines (a closing line is always written).
PROGRESS_SECONDS = 10.0


def rate_text(rows: int, seconds: float) -> str:
    """``1,234,567 rows in 12.3s (100,371 rows/s)``."""
    per_second = f"{rows / seconds:,.0f} rows/s" if seconds > 0 else "- rows/s"
    return f"{rows:,} rows in {seconds:.1f}s ({per_second})"


class Progress:
    """Rows done so far by one piece of work, reported through ``report`` (a logger's info)."""

    def __init__(
        self,
        what: str,
        report: Callable[[str], None],
        every: float = PROGRESS_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what, self.report, self.every, self.clock = what, report, every, clock
        self.rows = 0
        self.started = self.last = clock()

    def add(self, rows: int, detail: str = "") -> None:
        """Count ``rows`` more; write a line if the last one is ``every`` seconds old."""
        self.rows += rows
        now = self.clock()
        if now - self.last >= self.every:
            self.last = now
            self.report(f"{self.what}: {rate_text(self.rows, now - self.started)}" + (f", {detail}" if detail else ""))

    def finish(self, detail: str = "") -> None:
        """The closing line: every row counted and the overall rate."""
        seconds = self.clock() - self.started
        self.report(f"{self.what}: done, {rate_text(self.rows, seconds)}" + (f", {detail}" if detail else ""))
