"""Files the ERP imports: one file per batch, named by batch id, written atomically.

Three layouts (DECISIONS W5):

- ``generic_csv``: every column of a change, comma-separated, header row, RFC 4180 quoting.
- ``netsuite_csv``: a CSV import of a custom record ("Inflow Change") whose *External ID* is the
  idempotency key, so the "Add or Update" import of a file seen twice updates, never duplicates;
  dates as NetSuite's default ``M/D/YYYY``.
- ``sap_flat``: semicolon-separated records for an ABAP upload (``CL_RSDA_CSV_CONVERTER`` reads
  this: ``;`` separator, ``"`` quote): ``H`` header (batch, target, date, time, count), one ``D``
  record per change, ``T`` trailer with the record count so the importer can tell a complete
  file. Dates ``YYYYMMDD`` (SAP DATS), amounts with ``.`` and no grouping, line breaks inside a
  text replaced by a space (an upload reads line by line). Semicolons rather than fixed width,
  because fixed width would cut notes and disputes' texts.

Every text cell is neutralised against spreadsheet formula injection by Inflow's one rule
(:mod:`orchestration.spreadsheet_safety`): a cell starting with ``= + - @``, tab or carriage
return gets a leading apostrophe, unless it is a plain number such as ``-12.50``. People open
these files in Excel before the ERP imports them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
from collections.abc import Callable
from pathlib import Path

from orchestration.defs.writeback.changes import flat_view
from orchestration.defs.writeback.emitters.base import Recorder
from orchestration.defs.writeback.outbox import Batch, OutboxRow, OutboxStore
from orchestration.defs.writeback.settings import FileTarget
from orchestration.spreadsheet_safety import safe_row

_LINE_BREAKS = re.compile(r"[\r\n]+")
_EXTENSION = {"generic_csv": "csv", "netsuite_csv": "csv", "sap_flat": "txt"}

GENERIC_HEADER = (
    "idempotency_key",
    "batch_id",
    "sequence",
    "kind",
    "entity_type",
    "entity_key",
    "field",
    "value",
    "value_json",
    "previous_key",
    "as_of_date",
    "created_at",
)
NETSUITE_HEADER = (
    "External ID",
    "Name",
    "Record Type",
    "Record",
    "Field",
    "Value",
    "Date",
    "Amount",
    "Currency",
    "Memo",
    "Kind",
    "Batch",
    "Supersedes",
)


def _flat(row: OutboxRow) -> dict[str, object]:
    return flat_view(row.field, row.value_object)


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _date(value: object, fmt: str) -> str:
    if not value:
        return ""
    day = dt.date.fromisoformat(str(value)[:10])
    return f"{day.month}/{day.day}/{day.year}" if fmt == "netsuite" else day.strftime("%Y%m%d")


def generic_records(batch: Batch) -> list[list[object]]:
    records: list[list[object]] = [list(GENERIC_HEADER)]
    for row in batch.rows:
        records.append(
            [
                row.idempotency_key,
                batch.batch_id,
                row.seq,
                row.kind,
                row.entity_type,
                row.entity_key,
                row.field,
                _text(_flat(row)["value"]),
                row.value,
                row.previous_key or "",
                row.as_of_date,
                row.created_at,
            ]
        )
    return records


def netsuite_records(batch: Batch) -> list[list[object]]:
    records: list[list[object]] = [list(NETSUITE_HEADER)]
    for row in batch.rows:
        flat = _flat(row)
        records.append(
            [
                row.idempotency_key,
                f"{row.kind} {row.entity_key}"[:300],
                row.entity_type,
                row.entity_key,
                row.field,
                _text(flat["value"]),
                _date(flat["date"], "netsuite"),
                _text(flat["amount"]),
                _text(flat["currency"]),
                _text(flat["memo"]),
                row.kind,
                batch.batch_id,
                row.previous_key or "",
            ]
        )
    return records


def _one_line(text: str) -> str:
    """Line breaks inside a cell become one space: ABAP uploads read a file line by line."""
    return _LINE_BREAKS.sub(" ", text)


def sap_records(batch: Batch, now: dt.datetime) -> list[list[object]]:
    stamp = now.astimezone(dt.UTC)
    records: list[list[object]] = [
        ["H", batch.batch_id, batch.target, stamp.strftime("%Y%m%d"), stamp.strftime("%H%M%S"), len(batch.rows)]
    ]
    for row in batch.rows:
        flat = _flat(row)
        records.append(
            [
                "D",
                row.idempotency_key,
                row.kind,
                row.entity_type,
                _one_line(row.entity_key),
                row.field,
                _one_line(_text(flat["value"])),
                _date(flat["date"], "sap"),
                _text(flat["amount"]),
                _text(flat["currency"]),
                _one_line(_text(flat["memo"])),
            ]
        )
    records.append(["T", len(batch.rows)])
    return records


def render(batch: Batch, fmt: str, now: dt.datetime) -> bytes:
    """The file's bytes (UTF-8, CRLF line ends as RFC 4180 and Windows importers expect)."""
    records = {"generic_csv": generic_records, "netsuite_csv": netsuite_records}.get(fmt)
    rows = records(batch) if records else sap_records(batch, now)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";" if fmt == "sap_flat" else ",", lineterminator="\r\n")
    for record in rows:
        writer.writerow(safe_row(record))
    return buffer.getvalue().encode("utf-8")


def write_atomically(path: Path, data: bytes) -> None:
    """Write a file so that a reader sees either nothing or all of it: a hidden temporary file
    in the same folder, flushed to disk, then renamed over the final name in one step."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def batch_file_name(target: str, batch_id: str, fmt: str) -> str:
    return f"inflow_{target}_{batch_id}.{_EXTENSION[fmt]}"


class FileEmitter:
    """Writes each batch as one file; the file written is the delivery (``sent``)."""

    def __init__(self, name: str, target: FileTarget, home: Path, now: Callable[[], dt.datetime]) -> None:
        self.name = name
        self.target = target
        self.directory = _under_home(target.directory, home)
        self.results = _under_home(target.results_directory, home) if target.results_directory else None
        self._now = now

    def deliver(self, batch: Batch, recorder: Recorder) -> bool:
        keys = [row.idempotency_key for row in batch.rows]
        recorder.attempt(keys)
        path = self.directory / batch_file_name(self.name, batch.batch_id, self.target.format)
        try:
            write_atomically(path, render(batch, self.target.format, self._now()))
        except OSError as exc:
            recorder.retry(keys, f"writing {path}: {exc.strerror or exc}")
            return False
        recorder.delivered(keys, acknowledged=False, detail=f"written to {path}")
        return True

    def poll_acknowledgements(self, store: OutboxStore) -> int:
        """Read ``<batch file name>.result.csv`` files the ERP's importer leaves in
        ``results_directory``: columns ``idempotency_key,result,message`` with result ``ok`` or
        ``error``. ``ok`` acknowledges a sent change; ``error`` fails it with the message."""
        if self.results is None:
            return 0
        settled = 0
        for batch_id in store.batches_with(self.name, "sent"):
            result_file = self.results / (batch_file_name(self.name, batch_id, self.target.format) + ".result.csv")
            if not result_file.is_file():
                continue
            sent = {row.idempotency_key for row in store.rows(statuses=("sent",), batch_id=batch_id)}
            ok, errors = read_import_results(result_file)
            settled += store.mark_acknowledged([k for k in ok if k in sent], actor=f"import:{self.name}")
            for key, message in errors.items():
                if key in sent:
                    store.mark_failed([key], f"import error: {message}", actor=f"import:{self.name}")
                    settled += 1
        return settled


def read_import_results(path: Path) -> tuple[list[str], dict[str, str]]:
    """(keys imported, {key: message} of keys the import refused) from an import result file."""
    ok: list[str] = []
    errors: dict[str, str] = {}
    with open(path, newline="", encoding="utf-8-sig") as handle:
        for record in csv.DictReader(handle):
            key, result = (record.get("idempotency_key") or "").strip(), (record.get("result") or "").strip().lower()
            if result == "ok":
                ok.append(key)
            elif result == "error":
                errors[key] = (record.get("message") or "no message").strip()
    return ok, errors


def _under_home(folder: str, home: Path) -> Path:
    path = Path(os.path.expandvars(folder)).expanduser()
    return path if path.is_absolute() else home / path
