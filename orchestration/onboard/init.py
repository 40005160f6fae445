"""``inflow init``: profile export files and write a first ``inflow.yml`` for them.

Each file is sniffed with DuckDB (delimiter, quote, header), every column's values are read as
text, date formats are detected from all values (with the day/month order decided from values
whose day exceeds 12, or flagged when nothing tells), and headers are matched to the canonical
``invoices`` contract — through a preset's documented header names when one is given. The file
written says, in comments, what was guessed and what a person must confirm; the same is printed.
With a preset, the result runs without edits.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import yaml

from expectations.contracts import entity
from orchestration.config import load_config
from orchestration.defs.ingestion.date_order import swapped
from orchestration.onboard.presets import CURRENCY, Preset, preset

#: Formats tried on every column that looks like dates; '%Y%m%d' is tried only on 8-digit values.
DATE_CANDIDATES = ("%Y-%m-%d", "%m/%d/%Y", "%d/%m/%Y", "%d.%m.%Y", "%Y%m%d", "%Y/%m/%d", "%d-%m-%Y", "%m-%d-%Y")
#: A format fits a column when it reads this share of its non-empty values.
FIT_SHARE = 0.99
#: Rows profiled per file.
PROFILE_ROWS = 200_000
FLOAT_TEXT = re.compile(r"^[-+]?[0-9]+\.0+$")


@dataclass
class FileProfile:
    """What init learned about one file."""

    path: Path
    delimiter: str
    header: list[str]
    rows: int
    values: dict[str, list[str]]
    date_formats: dict[str, tuple[str, ...]] = field(default_factory=dict)
    float_text: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)


def _sniff(con: duckdb.DuckDBPyConnection, path: Path) -> tuple[str, str]:
    delimiter, quote = con.execute("select Delimiter, Quote from sniff_csv(?)", [str(path)]).fetchone()
    # The sniffer reports '(empty)' for a file without quoted fields.
    return delimiter or ",", quote if quote and len(quote) == 1 else '"'


def profile_file(path: Path) -> FileProfile:
    """Sniff a delimited file and read its columns as text."""
    con = duckdb.connect()
    try:
        delimiter, quote = _sniff(con, path)
        rel = con.execute(
            "select * from read_csv(?, delim = ?, quote = ?, header = true, all_varchar = true) limit ?",
            [str(path), delimiter, quote, PROFILE_ROWS],
        )
        raw_header = [d[0] for d in rel.description]
        rows = rel.fetchall()
    finally:
        con.close()
    # DuckDB names a repeated header Text_1; values are looked up by the first occurrence's name.
    values = {
        raw: [r[i].strip() for r in rows if r[i] is not None and r[i].strip()] for i, raw in enumerate(raw_header)
    }
    prof = FileProfile(path, delimiter, _first_line(path, delimiter), len(rows), values)
    for name, vals in values.items():
        if vals and all(FLOAT_TEXT.match(v) for v in vals[:1000]):
            prof.float_text.add(name)
        formats = detect_date_formats(vals, name in prof.float_text)
        if formats:
            prof.date_formats[name] = formats[0]
            if formats[1]:
                prof.notes.append(f"{name}: {formats[1]}")
    return prof


def _first_line(path: Path, delimiter: str) -> list[str]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return [h.strip() for h in next(csv.reader(handle, delimiter=delimiter))]


def _parses(value: str, fmt: str) -> bool:
    try:
        dt.datetime.strptime(value, fmt)
    except ValueError:
        return False
    return True


def detect_date_formats(values: Sequence[str], float_text: bool = False) -> tuple[tuple[str, ...], str] | None:
    """(formats, note) for a column of dates, or None when it is not one.

    Day/month order is decided from values whose first or second part exceeds 12; when none does,
    the note says the order is a guess a person must confirm.
    """
    sample = [v[: v.index(".")] if float_text and "." in v else v for v in values[:5000]]
    if not sample or not any(ch.isdigit() for ch in sample[0]):
        return None
    fits = [f for f in DATE_CANDIDATES if sum(_parses(v, f) for v in sample) >= FIT_SHARE * len(sample)]
    if "%Y%m%d" in fits and not all(len(v) == 8 for v in sample):
        fits.remove("%Y%m%d")
    if not fits:
        return None
    ordered = [f for f in fits if swapped(f)]
    if len(ordered) >= 2:
        first = ordered[0]
        other = swapped(first)
        first_only = sum(_parses(v, first) and not _parses(v, other or "") for v in sample)
        other_only = sum(_parses(v, other or "") and not _parses(v, first) for v in sample)
        if first_only == other_only == 0:
            return (first,), f"day/month order cannot be told (no day above 12): guessed {first!r}, CONFIRM"
        return ((first,) if first_only > other_only else (other or first,)), ""
    note = ""
    if ordered and not any(_parses(v, ordered[0]) and not _parses(v, swapped(ordered[0]) or "") for v in sample):
        note = f"day/month order cannot be told (no day above 12): guessed {ordered[0]!r}, CONFIRM"
    return (fits[0],), note


def _normalized(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _find(header: list[str], candidates: Sequence[str]) -> str | None:
    """The first candidate header present in the file (exact, then ignoring case and punctuation)."""
    for c in candidates:
        if c in header:
            return c
    wanted = {_normalized(c): c for c in candidates}
    for h in header:
        if _normalized(h) in wanted:
            return h
    return None


#: Canonical invoice columns and the header names init recognises without a preset.
GENERIC_HEADERS: dict[str, tuple[str, ...]] = {
    "document_id": ("document_id", "invoice_id", "invoice_number", "invoice no", "doc no", "document number"),
    "customer_id": ("customer_id", "customer", "customer number", "account", "cust no"),
    "document_type": ("document_type", "doc type", "type"),
    "document_date": ("document_date", "invoice_date", "date", "doc date"),
    "due_date": ("due_date", "due"),
    "currency": ("currency", "curr"),
    "amount": ("amount", "invoice_amount", "total"),
    "tax_amount": ("tax_amount", "tax"),
    "status": ("status",),
    "external_open_amount": ("open_amount", "amount_due", "balance"),
}


@dataclass
class InitResult:
    config: dict[str, Any]
    notes: list[str]
    confirm: list[str]


def build_config(paths: list[Path], preset_name: str | None, currency: str | None, company: str) -> InitResult:
    """The configuration for one or more files of one shape (an invoice list), with notes."""
    profiles = [profile_file(p) for p in paths]
    first = profiles[0]
    notes, confirm = [], []
    for prof in profiles[1:]:
        if prof.header != first.header:
            raise ValueError(f"{prof.path}: header differs from {first.path}; run init once per export shape")
    chosen: Preset | None = preset(preset_name) if preset_name else None
    header = first.header
    columns: dict[str, Any] = {}
    header_map = chosen.headers if chosen else GENERIC_HEADERS
    for canonical, names in header_map.items():
        found = _find(header, names)
        if found:
            columns[canonical] = {"column": found}
    if chosen:
        for canonical, value in chosen.constants.items():
            if canonical in columns:
                continue
            if value == CURRENCY:
                if not currency:
                    raise ValueError(f"preset {chosen.name} has no currency column: give --currency CODE")
                value = currency
            columns[canonical] = {"value": value}
        for canonical, extra in chosen.specs.items():
            if canonical in columns:
                columns[canonical].update(extra)
    elif "currency" not in columns and currency:
        columns["currency"] = {"value": currency}
        notes.append(f"currency: constant {currency} (from --currency)")
    options: dict[str, Any] = dict(chosen.options) if chosen else {}
    if first.delimiter != ",":
        options["delimiter"] = first.delimiter
    if chosen and chosen.ignore_columns:
        options["ignore_columns"] = [c for c in chosen.ignore_columns if c in header]
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated and not chosen:
        options["ignore_columns"] = repeated
        notes.append(f"header repeats {repeated}: ignored (map one with occurrence: 2 if it is needed)")
    ent = entity("invoices")
    for canonical, spec in columns.items():
        src = spec.get("column")
        if src is None:
            continue
        if src in first.float_text and ent.column(canonical).type in ("id", "date"):
            spec.setdefault("number_text", True)
        if ent.column(canonical).type == "date" and "formats" not in spec:
            if src in first.date_formats:
                spec["formats"] = list(first.date_formats[src])
            else:
                confirm.append(f"{canonical} ({src}): no date format fits its values; declare formats")
    for note in first.notes:
        (confirm if "CONFIRM" in note else notes).append(note)
    table: dict[str, Any] = {"entity": "invoices", "format": "csv", "path": _path_of(paths)}
    if options:
        table["options"] = options
    if chosen and chosen.credit_memo_sign != "negative":
        table["credit_memo_sign"] = chosen.credit_memo_sign
    table["columns"] = {k: _compact(v) for k, v in columns.items()}
    if chosen and chosen.paid_date:
        paid = _find(header, chosen.paid_date)
        if paid:
            derive: dict[str, Any] = {"paid_date": {"column": paid, **chosen.paid_date_spec}}
            if "formats" not in chosen.paid_date_spec and paid in first.date_formats:
                derive["paid_date"]["formats"] = list(first.date_formats[paid])
            paid_amount = _find(header, chosen.paid_amount) if chosen.paid_amount else None
            if paid_amount:
                derive["paid_amount"] = {"column": paid_amount}
            table["derive"] = derive
            notes.append(f"payments derived from {paid!r}: one per paid document, on its paid date")
        else:
            confirm.append(f"no paid/clearing date column ({', '.join(chosen.paid_date)}): no payments derived")
    missing = [c for c in ent.required if c not in columns]
    for c in missing:
        confirm.append(f"required column {c} not found in the header {header}: map it")
    mapped = {v.get("column") for v in columns.values()} | {
        spec.get("column") for spec in table.get("derive", {}).values() if isinstance(spec, dict)
    }
    unmapped = [h for h in header if h not in mapped and h not in table.get("options", {}).get("ignore_columns", [])]
    if unmapped:
        notes.append(f"unmapped columns kept in _extra: {unmapped}")
    notes.append("no customer master: customers are derived from the documents' customer ids")
    if chosen:
        notes.extend(chosen.notes)
    cfg = {
        "company": company,
        "reporting_currency": currency or "USD",
        "sources": {
            "erp": {
                "system": "erp",
                "role": "system_of_record",
                "transport": "file",
                "owner": "ar-ops@example.com",
                "tables": {"invoices": table},
            }
        },
    }
    if not currency:
        confirm.append("reporting_currency: USD assumed; give --currency CODE")
    confirm.append("owner: ar-ops@example.com is a placeholder for who fixes this export's exceptions")
    return InitResult(cfg, notes, confirm)


def _compact(spec: dict[str, Any]) -> Any:
    """A plain header name where nothing else is said (the shorthand of ``columns:``)."""
    return spec["column"] if set(spec) == {"column"} else spec


def _path_of(paths: list[Path]) -> str:
    """One file as it is; several as a glob of their common folder and name prefix."""
    resolved = [p.resolve() for p in paths]
    if len(resolved) == 1:
        return str(resolved[0])
    folder = Path(os.path.commonpath([str(p.parent) for p in resolved]))
    prefix = os.path.commonprefix([p.name for p in resolved])
    return str(folder / f"{prefix}*{resolved[0].suffix}")


def _folders_outside(paths: list[Path], out: Path) -> list[str]:
    """The folders of ``paths`` that are not inside ``out`` (where inflow.yml is written)."""
    home = out.resolve()
    folders = {p.resolve().parent for p in paths}
    return sorted(str(f) for f in folders if f != home and home not in f.parents)


def render(result: InitResult, command: str) -> str:
    """The inflow.yml text: comments with what was guessed and what to confirm, then the YAML."""
    lines = [f"# Written by `{command}`.", "# Guessed:"]
    lines += [f"#   - {n}" for n in result.notes] or ["#   (nothing)"]
    lines.append("# A person must confirm:")
    lines += [f"#   - {c}" for c in result.confirm] or ["#   (nothing)"]
    return "\n".join(lines) + "\n" + yaml.safe_dump(result.config, sort_keys=False, allow_unicode=True)


def run_init(paths: list[Path], out: Path, preset_name: str | None, currency: str | None, command: str) -> int:
    """Write ``out/inflow.yml`` and print what was guessed; 0 when it validates."""
    missing = [p for p in paths if not p.is_file()]
    if missing:
        print(f"inflow init: no such file: {', '.join(map(str, missing))}")
        return 2
    result = build_config(paths, preset_name, currency, company=out.resolve().name)
    outside = _folders_outside(paths, out)
    if outside:  # sources are read only inside the configuration's folder or paths.roots
        result.config["paths"] = {"roots": outside}
        result.notes.append(f"the exports' folder is declared in paths.roots: {', '.join(outside)}")
    out.mkdir(parents=True, exist_ok=True)
    target = out / "inflow.yml"
    target.write_text(render(result, command), encoding="utf-8")
    load_config(target)  # what init writes must validate
    print(f"inflow init: wrote {target}")
    for n in result.notes:
        print(f"  guessed: {n}")
    for c in result.confirm:
        print(f"  confirm: {c}")
    print(f"next: inflow check --config {target}   then: inflow run --config {target} --home DIR")
    return 0
