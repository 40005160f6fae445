"""Files generated from the contract and the rule catalogue, so they cannot drift from them.

- ``dbt_project/models/staging/landing/_landing__sources.yml``: one dbt source table per entity
  (the ``raw.<entity>`` union views), every column documented from the contract;
- ``stg_landing__<entity>.sql``: the staging model of each entity (accepted rows, canonical columns
  and the lineage staging keeps), in the two-CTE form;
- ``_landing__models.yml``: their docs and tests, derived from column meaning (keys, required
  columns, references, closed value lists, uniqueness) and the entity invariants;
- the rule table of ``expectations/README.md``.

``python -m expectations.codegen`` rewrites them; ``tests/test_codegen.py`` fails when a committed
file differs from what the contract generates.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from expectations.contracts import ENTITIES, LINEAGE, STAGING_LINEAGE, Column, Entity
from expectations.rules import RULES

ROOT = Path(__file__).resolve().parent.parent
STAGING = ROOT / "dbt_project" / "models" / "staging" / "landing"
README = ROOT / "expectations" / "README.md"
GENERATED = "# Generated from expectations/contracts.py by `python -m expectations.codegen`; do not edit.\n"
RULES_START, RULES_END = "<!-- rules:start -->", "<!-- rules:end -->"


def _q(text: str) -> str:
    """A double-quoted YAML scalar."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def staging_model(entity_name: str) -> str:
    return f"stg_landing__{entity_name}"


def sources_yml() -> str:
    lines = [
        GENERATED,
        "# The landing layer: one typed view per canonical entity in schema raw (raw.<entity> = union all",
        "# of the raw.<source>__<table> tables that land it). Canonical columns are typed with the",
        "# source's declared formats; staging keeps only rows landing accepted. Each view is linked to",
        "# its Dagster landing asset raw/<entity>.",
        "",
        "sources:",
        "  - name: landing",
        '    description: "Typed landing views over every configured source table, one per canonical entity."',
        "    schema: raw",
        "    tables:",
    ]
    for ent in ENTITIES.values():
        lines += [
            f"      - name: {ent.name}",
            f"        description: {_q(ent.description)}",
            f'        config: {{meta: {{dagster: {{asset_key: ["raw", "{ent.name}"]}}}}}}',
            "        columns:",
        ]
        lines += [f"          - {{name: {c.name}, description: {_q(c.description)}}}" for c in ent.columns]
        lines += [f"          - {{name: {name}, description: {_q(text)}}}" for name, (_, text) in LINEAGE.items()]
    return "\n".join(lines) + "\n"


def staging_sql(ent: Entity) -> str:
    columns = ",\n".join(f"        {name}" for name in [*ent.column_names, *STAGING_LINEAGE])
    return (
        f"{{#- Generated from expectations/contracts.py by `python -m expectations.codegen`; do not edit. -#}}\n"  # noqa: S608 (dbt model text generated from the contract, not a query)
        f"with\n\nsource as (\n\n    select * from {{{{ source('landing', '{ent.name}') }}}}\n"
        f"    where _status = 'accepted'\n\n),\n\nfinal as (\n\n    select\n{columns}\n    from source\n\n)\n\n"
        f"select * from final\n"
    )


def _column_tests(ent: Entity, col: Column) -> list[str]:
    """YAML lines of one column's data tests (indented under the column)."""
    tests: list[str] = []
    if ent.key == (col.name,):
        tests.append("unique")
    elif col.unique:
        tests.append(f"unique: {{config: {{severity: {col.unique}}}}}")
    if col.required:
        tests.append("not_null")
    if col.values:
        severity = "" if col.required else ", config: {severity: warn}"
        tests.append(f"accepted_values: {{arguments: {{values: [{', '.join(col.values)}]}}{severity}}}")
    if col.references:
        target, field = col.references.split(".")
        tests.append(
            f"relationships: {{arguments: {{to: ref('{staging_model(target)}'), field: {field}}}, "
            f"config: {{severity: warn{_only_when_landed(target)}}}}}"
        )
    return tests


def _only_when_landed(entity: str) -> str:
    """The lookup of a reference to the customer master runs only when a table lands customers
    (dbt var ``customers_landed``): without a master every customer is derived from the documents
    (``int_customers``), and each document would warn that the master lacks its customer."""
    return ", where: \"{{ 1 if var('customers_landed') else 0 }} = 1\"" if entity == "customers" else ""


def models_yml() -> str:
    lines = [
        GENERATED,
        "# Staging: one model per landing entity, accepted rows only, columns as landed (landing already",
        "# normalized them). Key and required-column tests are errors (a duplicated or missing key would",
        "# double or drop money downstream); references are warnings: real exports carry them (invoices",
        "# of customers the master does not have yet) and landing already records them for their owners.",
        "",
        "models:",
    ]
    for ent in ENTITIES.values():
        lines += [f"  - name: {staging_model(ent.name)}", f"    description: {_q(ent.description)}"]
        model_tests = []
        if len(ent.key) > 1:
            model_tests.append(
                f"      - unique_combination_of_columns:\n"
                f"          arguments: {{combination_of_columns: [{', '.join(ent.key)}]}}"
            )
        for inv in ent.invariants:
            severity = "" if inv.severity == "error" else f"\n          config: {{severity: {inv.severity}}}"
            model_tests.append(
                f"      - expression_is_true:\n          name: {staging_model(ent.name)}_{inv.name}\n"
                f"          arguments: {{expression: {_q(inv.expression)}}}{severity}"
            )
        if model_tests:
            lines += ["    data_tests:", *model_tests]
        lines.append("    columns:")
        for col in ent.columns:
            lines += [f"      - name: {col.name}", f"        description: {_q(col.description)}"]
            tests = _column_tests(ent, col)
            if tests:
                lines += ["        data_tests:", *(f"          - {t}" for t in tests)]
        lines += [f"      - {{name: {name}, description: {_q(LINEAGE[name][1])}}}" for name in STAGING_LINEAGE]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def rules_table() -> str:
    rows = ["| rule | stage | rejects | what it catches | what the owner does |", "| --- | --- | --- | --- | --- |"]
    rows += [
        f"| `{r.name}` | {r.stage} | {'the batch' if r.severity == 'batch' else 'the row'} | {r.catches} | {r.fix} |"
        for r in RULES.values()
    ]
    return "\n".join(rows)


def readme_with_rules(text: str) -> str:
    pattern = re.compile(re.escape(RULES_START) + ".*?" + re.escape(RULES_END), re.S)
    return pattern.sub(lambda _: f"{RULES_START}\n{rules_table()}\n{RULES_END}", text)


def generated_files() -> dict[Path, str]:
    """Every generated file with the text the contract gives it."""
    files = {STAGING / "_landing__sources.yml": sources_yml(), STAGING / "_landing__models.yml": models_yml()}
    files.update({STAGING / f"{staging_model(e.name)}.sql": staging_sql(e) for e in ENTITIES.values()})
    files[README] = readme_with_rules(README.read_text(encoding="utf-8"))
    return files


def main() -> int:
    for path, text in generated_files().items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
