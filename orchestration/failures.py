"""One message per failure: the innermost cause, and what to do about it.

Dagster wraps what a step raised ("Error occurred while executing op ..."), and dagster-dbt wraps
what dbt said in a paragraph about compute logs. What a person needs is the innermost cause — the
text of the exception at the bottom of the chain, or the first error dbt reported — and, for the
errors that come from the machine rather than the data (a full disk, a read-only file system, a
missing permission), what to do. :func:`describe_step_error` turns a step's error into that one
message; :func:`environment_message` does the same for an exception that reaches the top of
``inflow`` (it returns None for anything else, which is a bug and keeps its traceback).

A full disk does not always say so: SQLite (Dagster's event log) reports "disk I/O error" when a
write fails for lack of space. An I/O error is therefore judged together with the free space
left on the home's file system (:func:`disk_is_full`).
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from orchestration.defs.transform.dbt_console import uncoloured

if TYPE_CHECKING:  # the type of a step's error in Dagster's events
    from dagster_shared.error import SerializableErrorInfo

_DBT_ERRORS = "Errors parsed from dbt logs:"
_DBT_LOG = re.compile(r"view the dbt debug log: (\S+?)\.?(?:\s|$)")
#: dbt's progress line of a failed node ("187 of 327 FAIL 4 some_test ... [FAIL 4 in 0.17s]"):
#: dbt reports the same failure again, in words, in its summary.
_DBT_PROGRESS = re.compile(r"^\d+ of \d+ (FAIL|ERROR) ")


@dataclass(frozen=True)
class _Environment:
    """A kind of error that comes from the machine, and what to do about it."""

    pattern: re.Pattern[str]
    errnos: frozenset[int]
    advice: str


DISK_FULL = _Environment(
    re.compile(r"no space left on device|database or disk is full|disk quota exceeded|not enough space", re.I),
    frozenset({errno.ENOSPC, errno.EDQUOT}),
    "the disk holding INFLOW_HOME is full: free space on it (retention: in inflow.yml keeps fewer runs, "
    "backups and publications) or move the home, then run again; the last publication is untouched",
)
#: An I/O error: a failing device, or a full disk where the writer does not say so (SQLite).
IO_ERROR = _Environment(
    re.compile(r"disk i/o error|input/output error", re.I),
    frozenset({errno.EIO}),
    "the disk holding INFLOW_HOME reported an I/O error: check the device (dmesg) and its free space (df)",
)
ENVIRONMENT = (
    DISK_FULL,
    _Environment(
        re.compile(r"read-only file system|readonly database", re.I),
        frozenset({errno.EROFS}),
        "INFLOW_HOME is on a read-only file system: remount it writable or point --home at a writable folder",
    ),
    _Environment(
        re.compile(r"permission denied|operation not permitted", re.I),
        frozenset({errno.EACCES, errno.EPERM}),
        "this user may not write there: fix the owner or mode of the path named (or run as its owner)",
    ),
    IO_ERROR,
)


def disk_is_full(path: Path | None) -> bool:
    """Whether the file system holding ``path`` (or its nearest existing parent) is all but full:
    less than 1 MiB or 2 % of it left for this user."""
    while path is not None and not path.exists() and path != path.parent:
        path = path.parent
    if path is None:
        return False
    stats = os.statvfs(path)
    free, total = stats.f_bavail * stats.f_frsize, stats.f_blocks * stats.f_frsize
    return free < max(1 << 20, total // 50)


def advice_for(text: str, code: int | None = None, home: Path | None = None) -> str | None:
    """What to do about an error from the machine, by its errno or its text; None for other errors.
    An I/O error on a home whose disk is full is a full disk."""
    for kind in ENVIRONMENT:
        if (code is not None and code in kind.errnos) or kind.pattern.search(text):
            return DISK_FULL.advice if kind is IO_ERROR and disk_is_full(home) else kind.advice
    return None


def _chain(error: SerializableErrorInfo) -> Iterator[SerializableErrorInfo]:
    while error is not None:
        yield error
        error = error.cause or error.context


def _text(error: SerializableErrorInfo) -> str:
    """An error's class and message, without Dagster's module path; a ``dg.Failure`` (a message
    Inflow wrote for people) without its class name either."""
    head, _, rest = error.message.strip().partition(": ")
    if not rest or " " in head:
        return error.message.strip()
    name = head.rsplit(".", 1)[-1]
    return rest if name == "Failure" else f"{name}: {rest}"


def _dbt_errors(parsed: str) -> list[str]:
    """dbt's errors, one per failure: its summary's "Failure in test X" with the "Got N results"
    paragraph that follows it joined to it, and progress lines left out when the summary names
    the failures in words (they are the same failures: counted twice, one failed test read as
    three errors)."""
    errors: list[str] = []
    for block in (b.strip() for b in parsed.split("\n\n")):
        if not block:
            continue
        if block.startswith("Got ") and errors:
            errors[-1] += "\n" + block
        else:
            errors.append(block)
    worded = [e for e in errors if not _DBT_PROGRESS.match(e)]
    return worded or errors


def _dbt_cause(message: str) -> str:
    """The first error dbt reported (its first lines, joined, without colour codes), how many more,
    and dbt's log."""
    message = uncoloured(message)
    errors = _dbt_errors(message.split(_DBT_ERRORS, 1)[1]) if _DBT_ERRORS in message else []
    first = [line.strip() for line in errors[0].splitlines() if line.strip()] if errors else []
    first = [line for line in first if not line.startswith("compiled code at")]
    text = ": ".join(first) or "dbt failed without reporting an error"
    if len(errors) > 1:
        text += f" (and {len(errors) - 1} more dbt error(s))"
    log = _DBT_LOG.search(message)
    return text + (f"; dbt's log: {log.group(1)}" if log else "")


def describe_step_error(error: SerializableErrorInfo | None, home: Path | None = None) -> str:
    """One message for a failed step: the innermost cause, plus what to do when the machine is at fault."""
    if error is None:
        return "failed"
    chain = list(_chain(error))
    dbt = next((e for e in chain if e.cls_name == "DagsterDbtCliRuntimeError"), None)
    cause = _dbt_cause(dbt.message) if dbt else _text(chain[-1])
    advice = advice_for(cause, home=home)
    return f"{cause} -> {advice}" if advice else cause


def _exceptions(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def environment_message(exc: BaseException, home: Path | None = None) -> str | None:
    """One line for an exception caused by the machine (disk full, read-only, permission, I/O
    error), naming the innermost cause and what to do; None for any other exception."""
    for inner in reversed(list(_exceptions(exc))):  # the innermost first
        advice = advice_for(str(inner), inner.errno if isinstance(inner, OSError) else None, home)
        if advice:
            text = str(inner).strip().splitlines()[0] if str(inner).strip() else type(inner).__name__
            return f"{text} -> {advice}"
    return None
