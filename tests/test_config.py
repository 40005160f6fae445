"""Configuration: a valid file loads; every kind of mistake fails at start naming its key."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from orchestration.config import SAMPLE_CONFIG, ConfigError, load_config

BASE = {
    "company": "Test",
    "reporting_currency": "USD",
    "sources": {
        "erp": {
            "system": "erp",
            "role": "system_of_record",
            "transport": "file",
            "owner": "ar@test.example",
            "tables": {
                "invoices": {
                    "entity": "invoices",
                    "format": "csv",
                    "path": "inv.csv",
                    "columns": {
                        "document_id": "DocNo",
                        "customer_id": "CustNo",
                        "document_type": "DocType",
                        "document_date": "DocDate",
                        "currency": "Curr",
                        "amount": "Amount",
                    },
                }
            },
        }
    },
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
        (
            ["sources", "erp", "tables", "invoices", "columns", "amount"],
            None,
            "sources.erp.tables.invoices: columns must map the required column(s) ['amount']",
        ),
        (
            ["sources", "erp", "tables", "invoices", "columns", "amount_typo"],
            "X",
            "unknown canonical column(s) ['amount_typo']",
        ),
        (["sources", "erp", "tables", "invoices", "entity"], "invoice", "sources.erp.tables.invoices.entity"),
        (["sources", "erp", "tables", "invoices", "format"], "xls", "sources.erp.tables.invoices.format"),
        (
            ["sources", "erp", "tables", "invoices", "options"],
            {"delimter": ";"},
            "sources.erp.tables.invoices.options.delimter: Extra inputs are not permitted",
        ),
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


# --- the dbt vars: declared once in dbt_project.yml, set from inflow.yml ---------------------

#: dbt vars no configuration sets: limits of the project itself.
PROJECT_CONSTANTS = {"hierarchy_max_depth", "date_spine_max_days"}


def test_every_declared_dbt_var_is_set_by_a_run_or_is_a_project_constant() -> None:
    from orchestration.config import DBT_VARS

    run_vars = load_config(SAMPLE_CONFIG).dbt_vars(dt.date(2026, 6, 30))
    assert set(run_vars) | PROJECT_CONSTANTS == set(DBT_VARS)
    assert not set(run_vars) & PROJECT_CONSTANTS
    assert run_vars["as_of_date"] == "2026-06-30"


def test_defaults_are_the_declared_ones_and_sections_set_them(tmp_path: Path) -> None:
    from orchestration.config import DBT_VARS

    defaults = load_config(_write(tmp_path, BASE)).dbt_vars(dt.date(2026, 1, 1))
    assert {k: defaults[k] for k in DBT_VARS if k.startswith(("kpi_", "ecl_", "promise_"))} == {
        k: v for k, v in DBT_VARS.items() if k.startswith(("kpi_", "ecl_", "promise_"))
    }
    cfg = {
        **BASE,
        "kpis": {"dso_months": 6, "at_risk_days": 60},
        "ecl": {"lookback_months": 12},
        "promises": {"grace_days": 0},
        "collections": {"stages": [{"name": "reminder", "days_past_due": 5, "activity_keywords": ["dunning 1"]}]},
    }
    set_vars = load_config(_write(tmp_path, cfg)).dbt_vars(dt.date(2026, 1, 1))
    assert (
        set_vars["kpi_dso_months"],
        set_vars["kpi_at_risk_days"],
        set_vars["ecl_lookback_months"],
        set_vars["promise_grace_days"],
    ) == (6, 60, 12, 0)
    assert defaults["collection_stages"] == DBT_VARS["collection_stages"]
    assert set_vars["collection_stages"] == [
        {"name": "reminder", "days_past_due": 5, "activity_keywords": ["dunning 1"]}
    ]


@pytest.mark.parametrize(
    ("section", "value", "expected"),
    [
        ("kpis", {"dso_months": 0}, "kpis.dso_months"),
        ("kpis", {"dso_month": 3}, "kpis.dso_month"),
        ("ecl", {"loss_rate_floor": 0.5, "loss_rate_ceiling": 0.4}, "loss_rate_floor must not exceed"),
        ("ecl", {"loss_rate_floor": -0.1}, "ecl.loss_rate_floor"),
        ("promises", {"grace_days": -1}, "promises.grace_days"),
        (
            "collections",
            {"stages": [{"name": "call", "days_past_due": 21}, {"name": "reminder", "days_past_due": 21}]},
            "collections: days_past_due must be strictly ascending",
        ),
        ("collections", {"stages": [{"name": "current", "days_past_due": 3}]}, "not 'current' or 'closed'"),
        ("collections", {"stages": [{"name": "Reminder", "days_past_due": 3}]}, "collections.stages.0.name"),
        ("collections", {"stages": [{"name": "reminder", "days_past_due": 0}]}, "collections.stages.0.days_past_due"),
        (
            "collections",
            {"stages": [{"name": "reminder", "days_past_due": 3, "activity_keywords": ["it's late%"]}]},
            "collections.stages.0.activity_keywords",
        ),
        ("collections", {"stages": []}, "collections.stages"),
        ("serving", {"storage_version": "v9.9.9"}, "serving.storage_version: Invalid Input Error"),
        ("serving", {"storage_version": "v1.5.0' (x"}, "serving.storage_version: String should match pattern"),
    ],
)
def test_bad_kpi_ecl_promise_collections_and_serving_settings_name_the_key(
    tmp_path: Path, section: str, value: dict, expected: str
) -> None:
    with pytest.raises(ConfigError, match=expected.replace(".", r"\.")):
        load_config(_write(tmp_path, {**BASE, section: value}))


def test_no_dbt_model_keeps_a_default_of_its_own() -> None:
    """A default written inside a model would be a second declaration that drifts."""
    import re

    from orchestration.config import REPO_ROOT

    offenders = [
        str(p)
        for p in (REPO_ROOT / "dbt_project").rglob("*.sql")
        if "target" not in p.parts and re.search(r"var\('[a-z_]+'\s*,", p.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_no_dbt_model_sets_its_schema_file_by_file() -> None:
    """Folders are layers: the schema comes from dbt_project.yml, never from one file's config."""
    from orchestration.config import REPO_ROOT

    offenders = [
        str(p)
        for p in (REPO_ROOT / "dbt_project" / "models").rglob("*.sql")
        if "schema=" in p.read_text(encoding="utf-8").replace(" ", "")
    ]
    assert offenders == []


def test_serving_storage_version_defaults_to_a_format_duckdb_1x_reads(tmp_path: Path) -> None:
    assert load_config(_write(tmp_path, BASE)).serving.storage_version == "v1.5.0"
    cfg = {**BASE, "serving": {"storage_version": "latest"}}
    assert load_config(_write(tmp_path, cfg)).serving.storage_version == "latest"
