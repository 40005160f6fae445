"""The review pack as files: one self-contained HTML page and one workbook with the same sections.

The page carries its plots as data URIs and its styles inline, so it opens from a mail
attachment or a shared drive with no server and no network. Jinja escapes every value for HTML,
and text cells go through the spreadsheet safety rule first, because people copy tables from a
page into a spreadsheet. The workbook has one formatted sheet per table of the page, plus a
summary sheet with the headline numbers; charts are native Excel charts over the sheets' cells.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
from dataclasses import dataclass
from pathlib import Path

import jinja2

from orchestration.defs.reporting.sections import PAGE_ROWS, ReviewPack, Table
from orchestration.spreadsheet_safety import neutralise
from orchestration.workbooks import Column, Kind, Sheet, write_workbook

_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


@dataclass(frozen=True)
class Cell:
    text: str
    css: str


def format_cell(value: object, column: Column) -> Cell:
    """A value as the page shows it: numbers right-aligned with their unit's precision."""
    if value is None:
        return Cell("–", "num" if column.kind not in ("text", "date", "timestamp") else "")
    kind = column.kind
    if kind in ("money", "integer", "one_decimal", "percent", "rate", "number") and isinstance(
        value, int | float | decimal.Decimal
    ):
        number = float(value)
        text = {
            "money": f"{number:,.2f}",
            "integer": f"{number:,.0f}",
            "one_decimal": f"{number:,.1f}",
            "percent": f"{number * 100:,.1f}%",
            "rate": f"{number:.6f}",
            "number": f"{number:,.3f}",
        }[kind]
        return Cell(text, "num neg" if number < 0 else "num")
    if isinstance(value, dt.datetime):
        return Cell(value.strftime("%Y-%m-%d %H:%M"), "")
    if isinstance(value, dt.date):
        return Cell(value.isoformat(), "")
    if isinstance(value, bool):
        return Cell("yes" if value else "no", "")
    return Cell(str(neutralise(str(value))), "text")


def _page_rows(table: Table) -> list[list[Cell]]:
    return [[format_cell(v, c) for v, c in zip(row, table.columns, strict=True)] for row in table.rows[:PAGE_ROWS]]


def render_html(pack: ReviewPack, serving_name: str, workbook_name: str, built_at: dt.datetime) -> str:
    """The page (see the module docstring)."""
    rows = {f"{s.key}/{p.sheet}": _page_rows(p.table) for s in pack.sections for p in s.parts}
    images = {key: base64.b64encode(png).decode() for key, png in pack.images().items()}
    return _TEMPLATES.get_template("review_pack.html.j2").render(
        pack=pack,
        rows=rows,
        images=images,
        page_rows=PAGE_ROWS,
        serving_name=serving_name,
        workbook_name=workbook_name,
        built_at=built_at.strftime("%Y-%m-%d %H:%M"),
    )


def pack_sheets(pack: ReviewPack) -> list[Sheet]:
    """The workbook's sheets: the summary, then one per table of each section, in page order."""
    summary_rows: list[tuple[object, ...]] = [(h.label, h.value, h.unit) for h in pack.headline]
    row_kinds: list[Kind | None] = [h.kind for h in pack.headline]
    about: list[tuple[str, object, Kind]] = [
        ("As of", pack.as_of, "date"),
        ("Publication as of", pack.publication.as_of, "date"),
        ("Published at", pack.publication.published_at, "timestamp"),
        ("Run", pack.publication.run_id, "text"),
    ]
    about += [(f"{s.title}: not shown", s.missing, "text") for s in pack.sections if s.missing and not s.parts]
    summary_rows += [(label, value, "") for label, value, _ in about]
    row_kinds += [kind for *_, kind in about]  # the value column's kind is money: these rows say theirs
    title = f"{pack.company}: accounts receivable review as of {pack.as_of}"
    sheets = [
        Sheet(
            "Summary",
            [
                Column("measure", "text", label="Measure"),
                Column("value", "money", label="Value"),
                Column("unit", "text", label="Unit"),
            ],
            summary_rows,
            title=(title, f"Amounts in {pack.currency}"),
            row_kinds=row_kinds,
        )
    ]
    for section in pack.sections:
        for part in section.parts:
            sheets.append(
                Sheet(
                    part.sheet,
                    part.table.columns,
                    part.table.rows,
                    title=(f"{part.title} — {title}", section.scope),
                    chart=part.chart,
                )
            )
    return sheets


def write_pack_files(pack: ReviewPack, folder: Path, serving_name: str, built_at: dt.datetime) -> dict[str, Path]:
    """Write the page, the workbook and each plot as PNG into ``folder``; returns them by role."""
    folder.mkdir(parents=True, exist_ok=True)
    workbook = folder / f"ar_review_{pack.as_of.isoformat()}.xlsx"
    page = folder / f"ar_review_{pack.as_of.isoformat()}.html"
    write_workbook(_pending(workbook), pack_sheets(pack)).replace(workbook)
    _pending(page).write_text(render_html(pack, serving_name, workbook.name, built_at), encoding="utf-8")
    _pending(page).replace(page)
    files = {"html": page, "xlsx": workbook}
    for key, png in pack.images().items():
        target = folder / f"{key}.png"
        _pending(target).write_bytes(png)
        _pending(target).replace(target)
        files[f"{key}_png"] = target
    return files


def _pending(path: Path) -> Path:
    """A file is written beside its final name and renamed over it, so a reader never sees half of it."""
    return path.with_name(f".{path.name}.pending")
