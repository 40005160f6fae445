"""The dbt project follows the canonical contract: a column added to an entity in
``expectations/contracts.py`` must reach the landing source, its staging model and their docs,
or this fails naming what is missing. Reads the YAML and SQL only (no dbt run)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from expectations.contracts import ENTITIES, LINEAGE_COLUMNS
from orchestration.config import REPO_ROOT

STAGING = REPO_ROOT / "dbt_project" / "models" / "staging" / "landing"
STAGING_LINEAGE = ["_source", "_file", "_row_number", "_loaded_at"]


def _load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _landing_tables() -> dict[str, dict[str, Any]]:
    (source,) = [s for s in _load(STAGING / "_landing__sources.yml")["sources"] if s["name"] == "landing"]
    assert source["schema"] == "raw"
    return {table["name"]: table for table in source["tables"]}


def _staging_models() -> dict[str, dict[str, Any]]:
    return {model["name"]: model for model in _load(STAGING / "_landing__models.yml")["models"]}


def _selected_columns(sql: str) -> list[str]:
    """Output columns of a staging model's final CTE (one column or alias per line)."""
    final = sql[sql.index("final as ("):]
    select_list = final[final.index("select") + len("select"):final.index("from source")]
    return [re.split(r"\s+as\s+", line.strip().rstrip(","))[-1] for line in select_list.splitlines() if line.strip()]


def test_every_entity_is_a_landing_source_and_nothing_else() -> None:
    assert set(_landing_tables()) == set(ENTITIES)


@pytest.mark.parametrize("entity", sorted(ENTITIES))
def test_landing_source_documents_every_landed_column_in_order(entity: str) -> None:
    table = _landing_tables()[entity]
    documented = [column["name"] for column in table["columns"]]
    assert documented == ENTITIES[entity].column_names + list(LINEAGE_COLUMNS)
    assert all(column.get("description") for column in table["columns"])
    assert table["config"]["meta"]["dagster"]["asset_key"] == ["raw", entity]


@pytest.mark.parametrize("entity", sorted(ENTITIES))
def test_staging_model_selects_and_documents_the_contract(entity: str) -> None:
    name = f"stg_landing__{entity}"
    expected = ENTITIES[entity].column_names + STAGING_LINEAGE
    sql = (STAGING / f"{name}.sql").read_text(encoding="utf-8")
    assert f"source('landing', '{entity}')" in sql
    assert "_status = 'accepted'" in sql
    assert _selected_columns(sql) == expected
    assert [column["name"] for column in _staging_models()[name]["columns"]] == expected


def test_every_entity_key_is_tested_unique_in_staging() -> None:
    """A key that is not unique would double money downstream: each staging model tests it."""
    models = _staging_models()
    for entity, ent in ENTITIES.items():
        model = models[f"stg_landing__{entity}"]
        if len(ent.key) == 1:
            (key_column,) = [c for c in model["columns"] if c["name"] == ent.key[0]]
            assert "unique" in key_column.get("data_tests", []), entity
        else:
            combos = [t["unique_combination_of_columns"]["arguments"]["combination_of_columns"]
                      for t in model.get("data_tests", []) if isinstance(t, dict) and "unique_combination_of_columns" in t]
            assert list(ent.key) in combos, entity
