"""What a run's dbt tells a person: progress at an interval, one line per warning or failure, a
closing count; dbt's whole console text in a file without colour codes, none of it on stdout."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from dagster_dbt.core.dbt_cli_invocation import DbtCliInvocation

from orchestration.defs.transform.dbt_console import CONSOLE_LOG, DbtProgress, quiet_events
from orchestration.run_report import DBT_CHATTER, once_each

RED, YELLOW, RESET = "\x1b[31m", "\x1b[33m", "\x1b[0m"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Lines(logging.Handler):
    """A logger's records as ``LEVEL message``."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname} {record.getMessage()}")


def _logger(name: str) -> tuple[logging.Logger, list[str]]:
    logger, lines = logging.getLogger(f"test.dbt_console.{name}"), Lines()
    logger.handlers[:] = [lines]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, lines.lines


def _event(name: str, level: str = "info", msg: str = "", **data: Any) -> dict[str, Any]:
    return {"info": {"name": name, "level": level, "msg": msg}, "data": data}


def _node(index: int, name: str = "LogModelResult", level: str = "info") -> dict[str, Any]:
    return _event(name, level, f"{index} of 4 OK node_{index}", index=index, total=4)


FAILURE = [
    _event("RunResultFailure", "error", f"{RED}Failure in test unique_invoice_id (models/x.yml){RESET}"),
    _event("RunResultError", "error", "  Got 2 results, configured to fail if != 0"),
]
WARNING = [
    _event("RunResultWarning", "warn", f"{YELLOW}Warning in test relationships_x (models/x.yml){RESET}"),
    _event("RunResultWarningMessage", "warn", "Got 4 results, configured to warn if != 0"),
]


def test_progress_at_the_interval_then_each_warning_and_failure_in_a_line_and_a_count() -> None:
    clock, (log, lines) = Clock(), _logger("progress")
    progress = DbtProgress(log, every=10.0, clock=clock)
    progress.see(_event("LogStartLine", msg="1 of 4 START sql table model x", index=1, total=4))
    progress.see(_node(1))
    assert lines == [], "no line before the interval"
    clock.now = 110.0
    progress.see(_node(2, "LogTestResult", "error"))
    progress.see(_node(3, "LogTestResult", "warn"))
    progress.see(_node(4, "SkippingDetails"))
    for event in [*FAILURE, *WARNING]:
        progress.see(event)
    progress.see(_event("MainEncounteredError", "error", "Encountered an error:\n  Database Error\n  disk full"))
    clock.now = 112.5
    progress.finish()
    assert lines == [
        "INFO dbt: 2 of 4 nodes done, 1 failed",
        "ERROR dbt: Failure in test unique_invoice_id (models/x.yml): Got 2 results, configured to fail if != 0",
        "WARNING dbt: Warning in test relationships_x (models/x.yml): Got 4 results, configured to warn if != 0",
        "ERROR dbt: Encountered an error: Database Error: disk full",
        "INFO dbt: 4 of 4 nodes done in 12.5s: 1 warned, 1 failed, 1 skipped",
    ]


@dataclass
class FakeEvent:
    raw_event: dict[str, Any]

    def to_default_asset_events(self, **kwargs: Any) -> Iterator[str]:
        if self.raw_event["data"].get("index"):
            yield f"{self.raw_event['info']['name']} {self.raw_event['data']['index']}"


@dataclass
class FakeInvocation:
    """dagster-dbt's invocation as quiet_events uses it: it prints every event to sys.stdout, in
    colour, as it yields it, and raises at the end when dbt failed."""

    target_path: Path
    events: list[dict[str, Any]]
    fails: bool = False
    manifest: dict = field(default_factory=dict)
    dagster_dbt_translator: None = None
    project: None = None

    def stream_raw_events(self) -> Iterator[FakeEvent]:
        for raw in self.events:
            sys.stdout.write(raw["info"]["msg"] + "\n")
            yield FakeEvent(raw)
        if self.fails:
            raise RuntimeError("dbt failed")


def test_quiet_events_keep_dbts_text_in_a_file_and_off_stdout(tmp_path: Path, capsys) -> None:
    log, lines = _logger("quiet")
    target = tmp_path / "dbt" / "run-1"
    coloured = _event("LogModelResult", msg=f"1 of 1 OK created model x [{RED}OK{RESET} in 0.1s]", index=1, total=1)
    events = quiet_events(FakeInvocation(target, [coloured, *WARNING]), SimpleNamespace(log=log))
    assert events == ["LogModelResult 1"]
    assert capsys.readouterr().out == ""
    text = (target / CONSOLE_LOG).read_text()
    assert "1 of 1 OK created model x [OK in 0.1s]" in text and "Warning in test relationships_x" in text
    assert "\x1b" not in text
    assert lines[0] == f"INFO dbt: building; its whole output goes to {target / CONSOLE_LOG}"
    assert lines[-1].startswith("INFO dbt: 1 of 1 nodes done in ")
    assert lines[-1].endswith("s: 0 warned, 0 failed, 0 skipped")
    assert sum("Warning in test relationships_x" in line for line in lines) == 1


def test_a_failing_dbt_is_named_and_counted_before_the_step_fails(tmp_path: Path, capsys) -> None:
    log, lines = _logger("failing")
    invocation = FakeInvocation(tmp_path, [_node(1, "LogTestResult", "error"), *FAILURE], fails=True)
    with pytest.raises(RuntimeError, match="dbt failed"):
        quiet_events(invocation, SimpleNamespace(log=log))
    assert capsys.readouterr().out == ""
    assert "ERROR dbt: Failure in test unique_invoice_id (models/x.yml): Got 2 results" in "\n".join(lines)
    assert lines[-1].endswith("0 warned, 1 failed, 0 skipped")
    print("after dbt")
    assert capsys.readouterr().out == "after dbt\n", "stdout is given back"


def test_what_quiet_events_uses_of_dagster_dbt_is_still_there() -> None:
    """An upgrade that renamed these would break the dbt step: fail here instead."""
    used = {"stream_raw_events", "manifest", "dagster_dbt_translator", "target_path", "project"}
    assert used <= set(dir(DbtCliInvocation)) | set(DbtCliInvocation.__dataclass_fields__)


@pytest.mark.parametrize(
    ("message", "chatter"),
    [
        ("A dbt subsetted execution is not being performed. Using the default dbt selection arguments", True),
        (
            "Copying `/p/target/partial_parse.msgpack` to `/h/dbt/r/partial_parse.msgpack` to take advantage of "
            "partial parsing.",
            True,
        ),
        ("Running dbt command: `/venv/bin/python -m orchestration.defs.transform.dbt_guard build --vars {}`.", True),
        ("Finished dbt command: `/venv/bin/python -m orchestration.defs.transform.dbt_guard build`.", True),
        ("dbt: 120 of 326 nodes done, 0 failed", False),
        ("Copying the publication", False),
    ],
)
def test_dagster_dbts_own_lines_are_told_apart(message: str, chatter: bool) -> None:
    assert bool(DBT_CHATTER.match(message)) == chatter


def test_a_skipped_step_names_each_step_it_waited_for_once() -> None:
    noisy = (
        "Dependencies for step serving__published were not executed: "
        "['cash_forecast', 'cash_forecast', 'dbt_models', 'dbt_models', 'dbt_models', 'ml__risk_model']."
    )
    assert once_each(noisy) == (
        "Dependencies for step serving__published were not executed: ['cash_forecast', 'dbt_models', 'ml__risk_model']."
    )
    assert once_each("no list here: ['a', 'a']") == "no list here: ['a', 'a']", "only the skipped-step note"
