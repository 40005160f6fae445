"""``docs/configuration.md``: the configuration reference, generated from the pydantic schema.

Every key of ``inflow.yml`` with its type, default, description and an example, section by
section, walked from :class:`orchestration.config.InflowConfig`. ``python -m
orchestration.onboard.reference`` rewrites the file; ``tests/test_onboarding.py`` fails when the
committed file differs, so the reference cannot drift from the code.
"""

from __future__ import annotations

import enum
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from orchestration.config import REPO_ROOT, InflowConfig
from orchestration.onboard.presets import PRESETS

REFERENCE = REPO_ROOT / "docs" / "configuration.md"

#: Examples for keys whose default says nothing (required keys, empty maps, nulls).
EXAMPLES: dict[str, str] = {
    "InflowConfig.company": "Acme Ltd",
    "InflowConfig.reporting_currency": "USD",
    "InflowConfig.as_of_date": "2026-06-30",
    "InflowConfig.sources": "erp: {...}",
    "SourceConfig.system": "erp",
    "SourceConfig.role": "system_of_record",
    "SourceConfig.transport": "file",
    "SourceConfig.owner": "ar-ops@acme.example",
    "SourceConfig.url": "sqlite:///workflow/workflow.sqlite",
    "SourceConfig.tables": "invoices: {...}",
    "TableConfig.entity": "invoices",
    "TableConfig.format": "csv",
    "TableConfig.path": "erp/invoices/invoices_*.csv",
    "TableConfig.query": "select * from ar_open_items",
    "TableConfig.watermark": "{column: activity_date, full_every_days: 7}",
    "WatermarkConfig.column": "activity_date",
    "TableConfig.columns": "document_id: DocNo",
    "TableConfig.load": "delta",
    "TableConfig.max_quarantine_share": "0.2",
    "TableConfig.max_quarantine_share_per_load": "0.25",
    "TableConfig.rows": "{present: [SettledDate]}",
    "TableConfig.derive": "{paid_date: SettledDate}",
    "ColumnSpec.column": "DocType",
    "ColumnSpec.occurrence": "2",
    "ColumnSpec.position": "3",
    "ColumnSpec.value": "USD",
    "ColumnSpec.map": "{RV: invoice, DG: credit_memo, DR: debit_memo}",
    "ColumnSpec.prefix": "PAID-",
    "ColumnSpec.number_text": "true",
    "ColumnSpec.formats": "['%Y%m%d']",
    "ReaderOptions.ignore_columns": "[Text]",
    "ReaderOptions.sheet": "Accounts",
    "RowFilter.present": "[Clearing date]",
    "RowFilter.not_negative": "[Amount]",
    "DeriveConfig.paid_date": "{column: SettledDate, formats: ['%m/%d/%Y']}",
    "DeriveConfig.paid_amount": "PaidAmount",
    "ForecastSettings.scenarios": "{late: {delay: 14}}",
    "CollectionsConfig.stages": "[{name: reminder, days_past_due: 5}, {name: final_demand, days_past_due: 60, "
    "activity_keywords: [final demand]}]",
}


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin is typing.Literal:
        return " \\| ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args)
    if origin in (list, tuple):
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is dict:
        return f"map of {_type_name(args[0])} to {_type_name(args[1])}"
    if annotation is type(None):
        return "null"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return " \\| ".join(repr(m.value) for m in annotation)
    return getattr(annotation, "__name__", str(annotation))


def _models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models(arg)]


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if value is PydanticUndefined:
        return "required"
    if isinstance(value, BaseModel):
        return "(section defaults)"
    if isinstance(value, tuple):
        value = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
    return f"`{value!r}`" if value not in (None, {}, [], "") else f"`{value!r}`" if value == "" else "none"


def _example(model: type[BaseModel], name: str, field: Any) -> str:
    key = f"{model.__name__}.{name}"
    if key in EXAMPLES:
        return f"`{EXAMPLES[key]}`"
    value = None if field.is_required() else field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel) or value in (None, {}, [], ()):
        return "see below" if _models(field.annotation) else ""
    if isinstance(value, tuple):
        value = list(value)
    return f"`{value}`"


def _section(model: type[BaseModel], seen: set[str]) -> list[str]:
    if model.__name__ in seen:
        return []
    seen.add(model.__name__)
    doc = " ".join((model.__doc__ or "").split())
    lines = [
        f"## {model.__name__}",
        "",
        doc,
        "",
        "| key | type | default | example | meaning |",
        "|---|---|---|---|---|",
    ]
    nested: list[type[BaseModel]] = []
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        meaning = " ".join((field.description or "").split()).replace("|", "\\|")
        cells = [f"`{name}`", _type_name(field.annotation), _default(field), _example(model, name, field), meaning]
        lines.append("| " + " | ".join(cells) + " |")
        nested += _models(field.annotation)
    lines.append("")
    for sub in nested:
        lines += _section(sub, seen)
    return lines


def render_reference() -> str:
    lines = [
        "# Configuration reference (`inflow.yml`)",
        "",
        "Generated from the pydantic schema (`orchestration/config.py`) by "
        "`python -m orchestration.onboard.reference`; do not edit. `tests/test_onboarding.py` fails when it "
        "differs from the schema. A plain string in `columns:` is shorthand for `{column: <string>}`. Relative "
        "paths are relative to the folder of `inflow.yml`.",
        "",
        "Start from `inflow init FILE... --out DIR [--preset NAME] [--currency CODE]`, validate with "
        "`inflow check --config DIR/inflow.yml`. Presets: " + ", ".join(f"`{p}`" for p in PRESETS) + ".",
        "",
    ]
    lines += _section(InflowConfig, set())
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    REFERENCE.parent.mkdir(parents=True, exist_ok=True)
    REFERENCE.write_text(render_reference(), encoding="utf-8")
    print(f"wrote {REFERENCE.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()

__all__ = ["REFERENCE", "render_reference", "Path"]
