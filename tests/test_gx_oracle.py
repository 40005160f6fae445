"""Great Expectations as the oracle of the compiled row rules: same batches, same verdicts.

Landing runs the source contracts as SQL compiled from :mod:`expectations.suites`. Here the same
checks, turned into a GX ``ExpectationSuite``, are validated by GX's own pandas engine through its
public API (``ValidationDefinition.run``) on the same batches, and every (row, rule, column) GX
reports must be exactly what the SQL reports. The batches are each entity's clean rows perturbed at
random (nulls, signs, magnitudes, dates, codes), so every check sees rows on both sides of its
bounds and nulls in every column it reads.
"""

from __future__ import annotations

from decimal import Decimal

import duckdb
import numpy as np
import pandas as pd
import pytest

from expectations.contracts import ENTITIES, Entity
from expectations.runner import BatchContext, validate_batch
from expectations.suites import entity_suite, scoped_columns
from tests.test_expectations import AS_OF, CLEAN, batch

gx = pytest.importorskip("great_expectations")

ROWS = 400
#: Rules GX has no expectation for: they look beyond the row (expectations.sql, relations).
RELATIONAL = {"unknown_customer", "parent_account_unknown", "parent_account_cycle"}


def perturbed(ent: Entity, seed: int) -> pd.DataFrame:
    """``ROWS`` rows drawn from the clean ones, each value perturbed with some probability."""
    rng = np.random.default_rng(seed)
    base = batch(ent.name)
    frame = base.iloc[rng.integers(0, len(base), ROWS)].reset_index(drop=True)
    for col in ent.columns:
        values = frame[col.name].astype(object).to_numpy(copy=True)
        hit = rng.random(ROWS)
        for i in range(ROWS):
            if hit[i] < 0.08:
                values[i] = None
            elif hit[i] < 0.2:
                values[i] = _perturb(col.type, col.name, values[i], rng)
        frame[col.name] = pd.Series(values, dtype=object)
    frame["_row_number"] = np.arange(1, ROWS + 1)
    return frame


def _perturb(logical: str, name: str, value: object, rng: np.random.Generator) -> object:
    if logical in ("money", "rate"):
        choices = [-1.0, 0.0, 0.004, -0.004, 1.0, 1.00000001, 5e10, -5e10, 123.45, -123.45]
        return float(rng.choice(choices)) if value is None else float(value) * float(rng.choice([-1, 0, 2, 1.5]))
    if logical in ("date", "timestamp"):
        days = int(rng.choice([-40000, -400, -1, 0, 1, 89, 91, 400, 1900]))
        return pd.Timestamp(AS_OF) + pd.Timedelta(days=days) + pd.Timedelta(hours=int(rng.integers(0, 24)))
    if name == "currency":
        return str(rng.choice(["USD", "EUR", "usd", "XXX", "EURO", "JPY"]))
    if name in ("document_type", "kind", "status"):
        return str(
            rng.choice(
                [
                    "invoice",
                    "credit_memo",
                    "debit_memo",
                    "proforma",
                    "paid",
                    "open",
                    "closed",
                    "note",
                    "call",
                    "fax",
                    "usage",
                    "quarterly",
                    "overdue",
                ]
            )
        )
    if name == "email":
        return str(rng.choice(["a@b.co", "no-at-sign", "x@y", "first last@x.com", "ok.name@host.org"]))
    return str(rng.choice(["C1", "C2", "X9", "A1", "A2"]))


def gx_frame(ent: Entity, frame: pd.DataFrame, reporting_currency: str) -> pd.DataFrame:
    """The frame typed as the contract types it, with the scoped columns (the same SQL landing
    uses), as GX's pandas engine compares it: dates datetime64[ns], numbers float64, indexed by
    row number."""
    con = duckdb.connect()
    try:
        con.register("f", frame)
        casts = ", ".join(f"cast({c.name} as {c.duckdb_type}) as {c.name}" for c in ent.columns)
        scoped = "".join(f", {sql} as {name}" for name, sql in scoped_columns(ent.name, reporting_currency).items())
        typed = con.execute(f"select *{scoped} from (select {casts}, _row_number from f)").df()
    finally:
        con.close()
    for name in typed.columns:
        values = typed[name]
        if pd.api.types.is_datetime64_any_dtype(values):
            typed[name] = values.astype("datetime64[ns]")
        elif values.dtype == object and values.map(lambda v: isinstance(v, Decimal)).any():
            typed[name] = values.astype("float64")
    typed.index = pd.Index(typed.pop("_row_number").to_numpy())
    return typed


@pytest.fixture(scope="module")
def gx_batch_definition():
    context = gx.get_context(mode="ephemeral")
    asset = context.data_sources.add_pandas("oracle").add_dataframe_asset("batch")
    return context, asset.add_batch_definition_whole_dataframe("whole")


def gx_failures(setup, ent: Entity, frame: pd.DataFrame, context: BatchContext) -> set[tuple[int, str, str]]:
    gx_context, batch_definition = setup
    declared = entity_suite(ent.name, context.bounds)
    suite = gx_context.suites.add(
        gx.ExpectationSuite(name=f"{declared.name}.{id(frame)}", expectations=declared.expectations)
    )
    definition = gx_context.validation_definitions.add(
        gx.ValidationDefinition(name=f"oracle.{ent.name}.{id(frame)}", data=batch_definition, suite=suite)
    )
    result = definition.run(
        batch_parameters={"dataframe": gx_frame(ent, frame, "USD")}, result_format={"result_format": "COMPLETE"}
    )
    found = set()
    for r in result.results:
        assert not r.exception_info.get("raised_exception"), r.exception_info
        meta = r.expectation_config.meta
        found |= {(int(row), meta["rule"], meta["column"]) for row in r.result.get("unexpected_index_list") or []}
    return found


@pytest.mark.parametrize("entity", sorted(ENTITIES))
@pytest.mark.parametrize("seed", [1, 2])
def test_compiled_rules_give_gx_verdicts(gx_batch_definition, entity: str, seed: int) -> None:
    ent = ENTITIES[entity]
    frame = perturbed(ent, seed)
    context = BatchContext(as_of=AS_OF)
    ours = validate_batch(entity, frame, reporting_currency="USD", context=context)
    assert not ours.rejected
    compiled = {(f.row_number, f.rule, f.column) for f in ours.failures if f.rule not in RELATIONAL}
    oracle = gx_failures(gx_batch_definition, ent, frame, context)
    assert compiled == oracle
    assert oracle, "a perturbed batch breaks some rule; an empty verdict would prove nothing"


def test_oracle_catches_a_miscompiled_bound(gx_batch_definition, monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparison can fail: a strict bound compiled as non-strict is caught."""
    from expectations import sql

    real = sql.unexpected
    monkeypatch.setattr(sql, "unexpected", lambda check: real(check).replace(" > 0", " >= 0"))
    frame = batch("payments", 1, amount=0.0)
    ours = validate_batch("payments", frame, reporting_currency="USD", context=BatchContext(as_of=AS_OF))
    oracle = gx_failures(gx_batch_definition, ENTITIES["payments"], frame, BatchContext(as_of=AS_OF))
    assert {(f.row_number, f.rule, f.column) for f in ours.failures} != oracle


def test_perturbed_batches_cover_every_column() -> None:
    for name in CLEAN:
        frame = perturbed(ENTITIES[name], 1)
        for col in ENTITIES[name].columns:
            assert frame[col.name].isna().any(), (name, col.name)
