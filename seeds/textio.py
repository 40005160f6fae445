"""Text rendering and streaming writers for the source exports.

Every export column is rendered to an Arrow string array first, so each file's exact text (date
format, decimal separator, stray whitespace a defect put there) is decided in one place and the
bytes are written with vectorised Arrow kernels: millions of rows per second, no per-row Python.
Amounts are integer cents until they are rendered, so no float ever touches money.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from seeds.calendar import SECONDS_PER_DAY

Columns = dict[str, pa.Array]


def _decimal(scaled: np.ndarray, scale: int) -> pa.Array:
    """Scaled integers as an exact DECIMAL(18, scale) Arrow array.

    Each value becomes the 128-bit two's-complement integer Arrow stores for a decimal (the value
    in the low word, its sign extension in the high word): exact and vectorised.
    """
    scaled = np.ascontiguousarray(scaled, dtype=np.int64)
    words = np.empty(2 * len(scaled), dtype=np.int64)
    words[0::2] = scaled
    words[1::2] = scaled >> 63
    return pa.Array.from_buffers(pa.decimal128(18, scale), len(scaled), [None, pa.py_buffer(words)])


def decimal_cents(cents: np.ndarray) -> pa.Array:
    """Integer cents as DECIMAL(18,2)."""
    return _decimal(cents, 2)


def money_text(cents: np.ndarray) -> pa.Array:
    """Integer cents as '-1234.56' (US decimal point, no thousands separator)."""
    return decimal_cents(cents).cast(pa.string())


def money_text_eu(cents: np.ndarray) -> pa.Array:
    """Integer cents as '-1.234,56' (European: ',' decimal, '.' thousands)."""
    cents = np.asarray(cents, dtype=np.int64)
    whole = np.abs(cents) // 100
    groups = [pc.utf8_lpad(_int_text((whole // 1000**k) % 1000), 3, "0") for k in range(5, -1, -1)]
    grouped = pc.utf8_ltrim(pc.binary_join_element_wise(*groups, "."), characters="0.")
    grouped = pc.if_else(pc.equal(grouped, ""), "0", grouped)
    fraction = pc.utf8_lpad(_int_text(np.abs(cents) % 100), 2, "0")
    sign = pc.if_else(pa.array(cents < 0), "-", "")
    return pc.binary_join_element_wise(sign, grouped, ",", fraction, "")


def rate_text(rates: np.ndarray, decimals: int = 6) -> pa.Array:
    """Exchange rates with a fixed number of decimals (rendered from scaled integers)."""
    return _decimal(np.rint(np.asarray(rates) * 10**decimals).astype(np.int64), decimals).cast(pa.string())


def _int_text(values: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(values, dtype=np.int64)).cast(pa.string())


def id_text(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Document-style ids: prefix + zero-padded number, e.g. ``INV-0000123``."""
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(_int_text(numbers), width, "0"), "")


def plain_id_text(numbers: np.ndarray) -> pa.Array:
    """All-digit ids (ERP customer numbers) without padding."""
    return _int_text(numbers)


#: Day numbers the text lookup tables cover (1970-01-01 .. 2199-12-31).
_TABLE_DAYS = 84_006


_DATE_PARTS = {"%Y": (0, 4), "%m": (5, 7), "%d": (8, 10)}


@lru_cache(maxsize=16)
def _day_table(fmt: str) -> pa.Array:
    """Every covered day rendered with ``fmt`` (built from ISO text: %Y, %m, %d and literals)."""
    iso = pa.array(np.arange(_TABLE_DAYS, dtype=np.int32), pa.date32()).cast(pa.string())
    pieces: list[pa.Array | str] = []
    for token in re.split(r"(%.)", fmt):
        if token in _DATE_PARTS:
            start, stop = _DATE_PARTS[token]
            pieces.append(pc.utf8_slice_codeunits(iso, start, stop))
        elif token.startswith("%"):
            raise ValueError(f"date format directive {token!r} is not supported (use %Y, %m, %d)")
        elif token:
            pieces.append(token)
    return pc.binary_join_element_wise(*pieces, "")


@lru_cache(maxsize=1)
def _clock_table() -> pa.Array:
    return pa.array(
        [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(SECONDS_PER_DAY)],
        pa.string(),
    )


def date_text(days: np.ndarray, fmt: str = "%Y-%m-%d") -> pa.Array:
    """Day numbers rendered with ``fmt``; negative day numbers (missing dates) render as ''.

    Each distinct day is formatted once per format and then looked up.
    """
    days = np.asarray(days, dtype=np.int64)
    present = days >= 0
    if (days >= _TABLE_DAYS).any():
        raise ValueError("dates after 2199-12-31 are not supported")
    text = _day_table(fmt).take(pa.array(np.where(present, days, 0)))
    return text if present.all() else pc.if_else(pa.array(present), text, "")


def timestamp_text(seconds: np.ndarray) -> pa.Array:
    """Epoch seconds as 'YYYY-MM-DD HH:MM:SS'."""
    seconds = np.asarray(seconds, dtype=np.int64)
    day = date_text(seconds // SECONDS_PER_DAY)
    clock = _clock_table().take(pa.array(seconds % SECONDS_PER_DAY))
    return pc.binary_join_element_wise(day, clock, " ")


def constant_text(value: str, n: int) -> pa.Array:
    return pa.array(np.full(n, value, dtype=object), pa.string())


def choice_text(labels: tuple[str, ...], codes: np.ndarray) -> pa.Array:
    """Small integer codes rendered as their label."""
    return pa.array(list(labels), pa.string()).take(pa.array(np.asarray(codes, dtype=np.int64)))


def take_rows(table: Columns, indices: np.ndarray) -> Columns:
    idx = pa.array(np.asarray(indices, dtype=np.int64))
    return {n: col.take(idx) for n, col in table.items()}


class CsvSink:
    """A CSV file written in chunks: header once, then each chunk's rows, RFC 4180 quoting.

    A field is quoted only when it contains the delimiter, a quote or a line break, like the
    exports of most ERPs; stray spaces stay unquoted and visible.
    """

    def __init__(self, path: Path, header: list[str], delimiter: str = ","):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.header = header
        self.delimiter = delimiter
        self.rows = 0
        self._needs_quote = f'[{"".join(_regex_escape(c) for c in delimiter)}"\r\n]'
        self._file = path.open("wb")
        self._file.write((delimiter.join(self._quote_py(h) for h in header) + "\n").encode())

    def _quote_py(self, value: str) -> str:
        if any(ch in value for ch in (self.delimiter, '"', "\r", "\n")):
            return '"' + value.replace('"', '""') + '"'
        return value

    def _quote(self, col: pa.Array) -> pa.Array:
        if not self._may_hold_special_bytes(col):
            return col
        needs = pc.match_substring_regex(col, self._needs_quote)
        if not pc.any(needs).as_py():
            return col
        quote, empty = pa.scalar('"', col.type), pa.scalar("", col.type)
        quoted = pc.binary_join_element_wise(quote, pc.replace_substring(col, '"', '""'), quote, empty)
        return pc.if_else(needs, quoted, col)

    def _may_hold_special_bytes(self, col: pa.Array) -> bool:
        """Cheap scan of the column's character buffer before the per-row regex."""
        data = col.buffers()[2]
        if data is None:
            return False
        raw = np.frombuffer(data, dtype=np.uint8)
        return any((raw == ord(ch)).any() for ch in {*self.delimiter, '"', "\r", "\n"})

    def write(self, table: Columns) -> None:
        if list(table) != self.header:
            raise ValueError(f"{self.path}: columns {list(table)} do not match header {self.header}")
        n = len(next(iter(table.values())))
        if n == 0:
            return
        fields = [self._quote(col.cast(pa.large_string())) for col in table.values()]
        text = pa.large_string()
        lines = pc.binary_join_element_wise(*fields, pa.scalar(self.delimiter, text))
        lines = pc.binary_join_element_wise(lines, pa.scalar("\n", text), pa.scalar("", text))
        if isinstance(lines, pa.ChunkedArray):
            lines = lines.combine_chunks()
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset : lines.offset + n + 1]
        data = lines.buffers()[2]
        self._file.write(memoryview(data)[offsets[0] : offsets[-1]])
        self.rows += n

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> CsvSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _regex_escape(ch: str) -> str:
    return "\\" + ch if ch in r"\^]-[" else ch


def write_csv(path: Path, table: Columns, delimiter: str = ",") -> int:
    """Write a whole table to one CSV file; returns the number of data rows."""
    with CsvSink(path, list(table), delimiter) as sink:
        sink.write(table)
        return sink.rows


_XLSX_STATIC = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/styles.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        "</Types>"
    ),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
        'Target="xl/workbook.xml"/></Relationships>'
    ),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
        'Target="worksheets/sheet1.xml"/>'
        '<Relationship Id="rId2" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" '
        'Target="styles.xml"/></Relationships>'
    ),
    "xl/styles.xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        "</styleSheet>"
    ),
}


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def write_xlsx(path: Path, sheet: str, rows: list[list[str | None]], when: dt.datetime) -> None:
    """A one-sheet workbook of text cells (None leaves a cell empty).

    Written directly as SpreadsheetML rather than through openpyxl, which needs ~1 ms per row
    without lxml and stamps the wall-clock time into the file; every zip entry here carries
    ``when``, so a seed always produces the same bytes. Cells are inline strings: ids keep their
    exact digits.
    """
    if len(rows) and max(len(r) for r in rows) > 26:
        raise ValueError("write_xlsx supports up to 26 columns")
    body = []
    for r, row in enumerate(rows, start=1):
        cells = "".join(
            f'<c r="{chr(65 + c)}{r}" t="inlineStr"><is><t>{_xml_escape(v)}</t></is></c>'
            for c, v in enumerate(row)
            if v is not None
        )
        body.append(f'<row r="{r}">{cells}</row>')
    parts = dict(_XLSX_STATIC)
    parts["xl/workbook.xml"] = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        f'<sheets><sheet name="{_xml_escape(sheet)}" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )
    parts["xl/worksheets/sheet1.xml"] = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"<sheetData>{''.join(body)}</sheetData></worksheet>"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = when.timetuple()[:6]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, text in parts.items():
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, text.encode("utf-8"))
