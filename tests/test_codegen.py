"""Files generated from the contract are committed exactly as the contract generates them: a
column added to an entity reaches the dbt landing source, its staging model, their docs and tests
(and a rule added to the catalogue reaches the rule table) only through the generator."""

from __future__ import annotations

import pytest

from expectations import codegen
from expectations.contracts import ENTITIES

GENERATED = codegen.generated_files()


@pytest.mark.parametrize("path", sorted(GENERATED), ids=lambda p: p.name)
def test_committed_file_is_what_the_contract_generates(path) -> None:
    assert path.read_text(encoding="utf-8") == GENERATED[path], (
        f"{path} differs from the contract: run `python -m expectations.codegen`"
    )


def test_every_entity_has_a_staging_model_and_nothing_else() -> None:
    models = {p.stem for p in codegen.STAGING.glob("stg_landing__*.sql")}
    assert models == {codegen.staging_model(name) for name in ENTITIES}


def test_generated_tests_follow_column_meaning() -> None:
    yml = codegen.models_yml()
    assert "relationships: {arguments: {to: ref('stg_landing__customers'), field: customer_id}" in yml
    assert "accepted_values: {arguments: {values: [invoice, credit_memo, debit_memo]}}" in yml
    assert "combination_of_columns: [payment_id, document_id, applied_date]" in yml
