"""The number macros of ``dbt_project/macros/types.sql`` give the same, intended values on DuckDB and
on Spark (DECISIONS.md S3): quotients and means as DOUBLE, and ``round_double`` rounding half away
from zero of the decimal a double stands for, where the engines' own ``round()`` disagree with each
other and with that rule (DuckDB's gives 31.1 for 623 / 20; Spark's 31.2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration.config import REPO_ROOT, SAMPLE_CONFIG
from orchestration.settings import DBT_TARGETS, Settings

DBT = Path(sys.executable).with_name("dbt")

#: (expression for a DOUBLE, places, the rounded value): ties of the decimal the double stands for
#: on both sides of zero, values just off a tie, zero, whole places and a null.
ROUNDING = [
    ("623.0 / 20", 1, 31.2),  # 31.15: the double is 31.1499999...; DuckDB's round() gave 31.1
    ("-3.0 / 40", 2, -0.08),  # -0.075: away from zero, not towards it
    ("(1 + 0.4585) / 2.0", 4, 0.7293),  # 0.72925 (a promise share DuckDB published as 0.7292)
    ("0.285", 2, 0.29),
    ("1.005", 2, 1.01),
    ("0.72924999", 4, 0.7292),  # just below a tie: down
    ("0.72925001", 4, 0.7293),  # just above: up
    ("2.5", 0, 3.0),
    ("-2.5", 0, -3.0),
    ("1234.5678", 2, 1234.57),
    ("0.0", 2, 0.0),
    ("cast(null as double)", 2, None),
]


def _show(engine: str, home: Path, sql: str) -> list[dict]:
    """The rows of one inline query through ``dbt show`` on an engine, with this home's profile."""
    settings = Settings.load(SAMPLE_CONFIG, home)
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "INFLOW_LAKE_PATH": str(home / "lake")}
    proc = subprocess.run(
        [
            *(str(DBT), "show", "--inline", sql, "--output", "json", "--quiet", "--limit", "100"),
            *("--project-dir", str(REPO_ROOT / "dbt_project"), "--profiles-dir", str(settings.write_dbt_profile())),
            *("--target", DBT_TARGETS[engine], "--target-path", str(home / "target"), "--log-path", str(home)),
        ],
        env=env,
        cwd=settings.write_dbt_profile(),  # the profile names the warehouse relative to its folder
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(proc.stdout[proc.stdout.index("{") :])["show"]


def _rounding_sql() -> str:
    rows = " union all ".join(
        f"select {i} as case_number, {{{{ round_double('{expr}', {places}) }}}} as rounded"
        for i, (expr, places, _) in enumerate(ROUNDING)
    )
    quotients = (
        "select 100 as case_number, {{ divide('7', '2') }} as rounded union all "
        "select 101, {{ divide('cast(1 as decimal(18,2))', 'cast(3 as decimal(18,2))') }} union all "
        "select 102, {{ divide('1', 'nullif(0, 0)') }} union all "
        "select 103, {{ mean('amount') }} from (select cast(0.10 as decimal(18,2)) as amount union all "
        "select cast(0.25 as decimal(18,2)) union all select cast(null as decimal(18,2)))"
    )
    return f"{rows} union all {quotients}"


#: divide() and mean() (cases 100-103): a DOUBLE quotient from exact operands; a null divisor is null;
#: a mean skips nulls (0.35 / 2).
QUOTIENTS = {100: 3.5, 101: 1 / 3, 102: None, 103: 0.175}


def _check(rows: list[dict]) -> None:
    got = {row["case_number"]: row["rounded"] for row in rows}
    expected = {i: value for i, (_, _, value) in enumerate(ROUNDING)} | QUOTIENTS
    assert sorted(got) == sorted(expected)
    for case, value in expected.items():
        assert got[case] == value, f"case {case}: {got[case]!r} != {value!r}"


def test_number_macros_on_duckdb(tmp_path: Path) -> None:
    _check(_show("duckdb", tmp_path, _rounding_sql()))


@pytest.mark.slow
@pytest.mark.pipeline
def test_number_macros_on_spark(tmp_path: Path) -> None:
    _check(_show("spark", tmp_path, _rounding_sql()))
