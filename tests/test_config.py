"""Configuration: a valid file loads; every kind of mistake fails at start naming its key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from orchestration.config import SAMPLE_CONFIG, ConfigError, load_config

BASE = {
    "company": "Test", "reporting_currency": "USD",
    "sources": {"erp": {
        "system": "erp", "role": "system_of_record", "transport": "file", "owner": "ar@test.example",
        "tables": {"invoices": {
            "entity": "invoices", "format": "csv", "path": "inv.csv",
            "columns": {"document_id": "DocNo", "customer_id": "CustNo", "document_type": "DocType",
                        "document_date": "DocDate", "currency": "Curr", "amount": "Amount"},
        }},
    }},
}


def _write(tmp_path: Path, cfg: dict) -> Path:
    path = tmp_path / "inflow.yml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _mutate(path: list[str], value: object) -> dict:
    cfg = yaml.safe_load(yaml.safe_dump(BASE))
    node = cfg
    for key in path[:-1]:
        node = node[key]
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return cfg


def test_valid_config_loads_and_resolves_paths(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, BASE))
    assert config.tables_of("invoices") == ["erp__invoices"]
    assert config.resolve("inv.csv") == tmp_path / "inv.csv"


def test_sample_config_loads() -> None:
    assert load_config(SAMPLE_CONFIG).sources


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (["sources", "erp", "tables", "invoices", "columns", "amount"], None,
         "sources.erp.tables.invoices: Value error, columns must map the required column(s) ['amount']"),
        (["sources", "erp", "tables", "invoices", "columns", "amount_typo"], "X",
         "unknown canonical column(s) ['amount_typo']"),
        (["sources", "erp", "tables", "invoices", "entity"], "invoice", "sources.erp.tables.invoices.entity"),
        (["sources", "erp", "tables", "invoices", "format"], "xls", "sources.erp.tables.invoices.format"),
        (["sources", "erp", "tables", "invoices", "options"], {"delimter": ";"},
         "sources.erp.tables.invoices.options.delimter: Extra inputs are not permitted"),
        (["sources", "erp", "role"], "ledger", "sources.erp.role"),
        (["sources", "erp", "owner"], None, "sources.erp.owner: Field required"),
        (["sources", "erp", "transport"], "database", "transport 'database' needs format: query"),
        (["reporting_currency"], "usd", "reporting_currency"),
        (["aging"], {"buckets": [60, 30]}, "aging.buckets"),
        (["sources", "erp", "cadence"], {"expected_every": "daily"}, "sources.erp.cadence.expected_every"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, path: list[str], value: object, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(_write(tmp_path, _mutate(path, value)))
    assert str(tmp_path / "inflow.yml") in str(err.value)
    assert expected in str(err.value)


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config(tmp_path / "nope.yml")
    bad = tmp_path / "inflow.yml"
    bad.write_text("sources: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
