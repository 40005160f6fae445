"""Source paths stay inside the configuration's folder and the declared roots."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
import yaml

from expectations.contracts import ENTITIES
from orchestration.config import ConfigError, load_config
from orchestration.defs.ingestion.landing import land_table
from orchestration.defs.ingestion.readers import BatchRejected
from orchestration.onboard.check import check_config
from orchestration.warehouse import prepare_landing

HEADER = "DocNo,CustNo,DocType,DocDate,Curr,Amount"
ROWS = "1,10,invoice,2026-01-05,USD,1.00\n"


def _config(folder: Path, path: str, **top: object) -> Path:
    table = {
        "entity": "invoices",
        "format": "csv",
        "path": path,
        "columns": {"document_id": "DocNo", "customer_id": "CustNo", "document_type": "DocType",
                    "document_date": "DocDate", "currency": "Curr", "amount": "Amount"},
    }  # fmt: skip
    erp = {"system": "erp", "role": "system_of_record", "transport": "file", "owner": "ar@t.example"}
    cfg = {"company": "T", "reporting_currency": "USD", **top, "sources": {"erp": {**erp, "tables": {"inv": table}}}}
    target = folder / "inflow.yml"
    target.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return target


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """A configuration folder and, beside it, a folder outside it holding an export."""
    config_dir, outside = tmp_path / "company", tmp_path / "elsewhere"
    config_dir.mkdir()
    outside.mkdir()
    (outside / "inv.csv").write_text(HEADER + "\n" + ROWS)
    (config_dir / "inv_ok.csv").write_text(HEADER + "\n" + ROWS)
    return config_dir, outside


@pytest.mark.parametrize("path", ["../elsewhere/inv.csv", "../../../../../../etc/passwd", "{outside}/inv.csv",
                                  "sub/../../elsewhere/*.csv"])  # fmt: skip
def test_paths_leaving_the_folder_are_refused_at_load(layout: tuple[Path, Path], path: str) -> None:
    config_dir, outside = layout
    with pytest.raises(ConfigError, match=r"sources\.erp\.tables\.inv\.path: .* is outside the configuration's folder"):
        load_config(_config(config_dir, path.format(outside=outside)))


def test_declared_roots_and_allow_anywhere_let_a_path_through(layout: tuple[Path, Path]) -> None:
    config_dir, outside = layout
    assert load_config(_config(config_dir, f"{outside}/inv.csv", paths={"roots": [str(outside)]}))
    assert load_config(_config(config_dir, "../elsewhere/inv.csv", paths={"roots": ["../elsewhere"]}))
    assert load_config(_config(config_dir, "/etc/passwd", paths={"allow_anywhere": True}))
    assert load_config(_config(config_dir, "inv_*.csv"))  # inside: no setting needed


def _land(config_path: Path) -> list:
    config = load_config(config_path)
    con = duckdb.connect()
    prepare_landing(con, {e: config.tables_of(e) for e in ENTITIES})
    return land_table(con, config, "erp", "inv", dt.date(2026, 6, 30))


def test_a_link_inside_the_folder_to_a_file_outside_is_not_read(layout: tuple[Path, Path]) -> None:
    config_dir, outside = layout
    (config_dir / "inv_link.csv").symlink_to(outside / "inv.csv")
    path = _config(config_dir, "inv_*.csv")  # as written, the glob stays inside
    with pytest.raises(BatchRejected, match="inv_link.csv \\(a link to .*elsewhere/inv.csv\\) is outside") as caught:
        _land(path)
    assert caught.value.rule == "path_outside_roots"
    problems = [text for stops, text in check_config(path) if stops]
    assert len(problems) == 1 and "path_outside_roots" in problems[0], problems
    # A link to a folder outside, named in the path, is judged by where it leads.
    (config_dir / "drops").symlink_to(outside)
    with pytest.raises(ConfigError, match="drops/inv.csv is outside"):
        load_config(_config(config_dir, "drops/inv.csv"))
    # Declared, the same link lands.
    (records,) = [_land(_config(config_dir, "inv_link.csv", paths={"roots": [str(outside)]}))]
    assert [r.status for r in records] == ["loaded"]


def test_a_sqlite_source_outside_the_folder_is_refused(layout: tuple[Path, Path]) -> None:
    config_dir, outside = layout
    raw = yaml.safe_load(_config(config_dir, "inv_ok.csv").read_text())
    raw["sources"]["wf"] = {
        "system": "workflow", "role": "workflow", "transport": "database", "owner": "c@t.example",
        "url": f"sqlite:///{outside}/wf.sqlite",
        "tables": {"promises": {"entity": "promises", "format": "query", "query": "select 1", "columns": {
            "promise_id": "a", "customer_id": "b", "promised_date": "c", "promised_amount": "d", "created_at": "e"}}},
    }  # fmt: skip
    (config_dir / "inflow.yml").write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=r"sources\.wf\.url: .*wf.sqlite is outside"):
        load_config(config_dir / "inflow.yml")
