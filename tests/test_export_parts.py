"""A table of ``EXPORT_PARTS`` is exported as one Parquet and one CSV file per month of its date
column (decision P2): every row lands in exactly one month's files, a month whose rows did not
change is hard-linked from the current publication, and one that changed (even with the same row
count) or appeared is written; a month that lost all its rows has no file."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import duckdb
import yaml

from orchestration.defs.publish import publication as pub
from orchestration.defs.publish.serving import EXPORT_PARTS, UNDATED, MonthlyParts, Reusable
from orchestration.settings import HomeLayout
from orchestration.warehouse import content_fingerprint, part_fingerprints

AS_OF = dt.date(2026, 12, 1)
AGING = "marts.fct_ar_aging_daily"
ROWS = [
    ("2026-10-31", "C1", 5.00),
    ("2026-11-01", "C1", 10.00),
    ("2026-11-30", "C2", 20.00),
    ("2026-12-01", "C1", 30.00),
    (None, "C3", 40.00),
]


def _warehouse(path: Path, rows: list[tuple]) -> Path:
    con = duckdb.connect(str(path))
    con.execute("create schema if not exists marts")
    con.execute(f"create or replace table {AGING} (snapshot_date date, customer_id varchar, open_amount decimal(18,2))")
    con.executemany(f"insert into {AGING} values (?, ?, ?)", rows)
    con.execute("create or replace table marts.fct_ar_invoices as select '1' as invoice_id")
    con.close()
    return path


def _publish(layout: HomeLayout, warehouse: Path, run_id: str) -> tuple[pub.Publication, list[str]]:
    lines: list[str] = []
    publication = pub.publish_unit(layout, warehouse, AS_OF, run_id, None, 3, progress=lines.append)
    return publication, lines


def _parts_folder(publication: pub.Publication) -> Path:
    return publication.folder / "exports" / "marts" / "fct_ar_aging_daily"


def _rows_of(files: Path, reader: str) -> list[tuple]:
    con = duckdb.connect()
    try:
        found = con.execute(f"select * from {reader}('{files}') order by all").fetchall()  # noqa: S608
    finally:
        con.close()
    return found


def test_every_row_is_in_its_months_files_and_only_there(tmp_path: Path) -> None:
    first, _ = _publish(HomeLayout(tmp_path / "home"), _warehouse(tmp_path / "wh.duckdb", ROWS), "run-aaaaaaaa")
    folder = _parts_folder(first)
    stems = {"fct_ar_aging_daily_2026-10", "fct_ar_aging_daily_2026-11", "fct_ar_aging_daily_2026-12"}
    stems.add(f"fct_ar_aging_daily_{UNDATED}")
    assert {p.name for p in folder.iterdir()} == {f"{s}.{x}" for s in stems for x in ("parquet", "csv")}
    assert not (folder.parent / "fct_ar_aging_daily.parquet").exists(), "the folder replaces the single file"
    # the last day of a month and the first of the next are in different files
    november = _rows_of(folder / "fct_ar_aging_daily_2026-11.parquet", "read_parquet")
    assert [r[0] for r in november] == [dt.date(2026, 11, 1), dt.date(2026, 11, 30)]
    december = _rows_of(folder / "fct_ar_aging_daily_2026-12.csv", "read_csv")
    assert [r[0] for r in december] == [dt.date(2026, 12, 1)]
    assert _rows_of(folder / f"fct_ar_aging_daily_{UNDATED}.parquet", "read_parquet") == [(None, "C3", 40)]
    expected = sorted(ROWS, key=lambda r: (r[0] is None, r[0] or ""))
    together = _rows_of(folder / "*.parquet", "read_parquet")
    assert [(r[0].isoformat() if r[0] else None, r[1], float(r[2])) for r in together] == expected
    assert len(_rows_of(folder / "*.csv", "read_csv")) == len(ROWS)
    manifest = pub.read_manifest(first.folder)
    assert set(manifest["tables"][AGING]["parts"]) == {"2026-10", "2026-11", "2026-12", UNDATED}
    assert "parts" not in manifest["tables"]["marts.fct_ar_invoices"]


def test_only_the_months_that_changed_are_written_again(tmp_path: Path) -> None:
    layout = HomeLayout(tmp_path / "home")
    first, _ = _publish(layout, _warehouse(tmp_path / "wh.duckdb", ROWS), "run-aaaaaaaa")
    # December: same row count, another amount; a new January row; October's row is gone
    changed = [r for r in ROWS if r[0] not in ("2026-12-01", "2026-10-31")]
    changed += [("2026-12-01", "C1", 31.00), ("2027-01-02", "C4", 1.00)]
    second, lines = _publish(layout, _warehouse(tmp_path / "wh.duckdb", changed), "run-bbbbbbbb")
    old, new = _parts_folder(first), _parts_folder(second)
    for stem in ("fct_ar_aging_daily_2026-11", f"fct_ar_aging_daily_{UNDATED}"):
        for suffix in ("parquet", "csv"):
            name = f"{stem}.{suffix}"
            assert os.path.samefile(old / name, new / name), f"{name} is linked"
    for suffix in ("parquet", "csv"):
        december = f"fct_ar_aging_daily_2026-12.{suffix}"
        assert not os.path.samefile(old / december, new / december), f"{december} is written again"
        assert (new / f"fct_ar_aging_daily_2027-01.{suffix}").exists()
        assert not (new / f"fct_ar_aging_daily_2026-10.{suffix}").exists(), "a month without rows has no file"
    assert "31.00" in (new / "fct_ar_aging_daily_2026-12.csv").read_text()
    assert "30.00" in (old / "fct_ar_aging_daily_2026-12.csv").read_text(), "the current publication is untouched"
    # November and the undated rows, two files each, and the unchanged invoice table's two
    assert any("6 files of unchanged rows linked" in line for line in lines), lines
    manifest = pub.read_manifest(second.folder)
    for entry in manifest["files"]:
        assert entry["sha256"], entry["path"]
    assert manifest["tables"][AGING]["reused"] is False

    third, _ = _publish(layout, _warehouse(tmp_path / "wh.duckdb", changed), "run-cccccccc")
    for name in os.listdir(new):
        assert os.path.samefile(new / name, _parts_folder(third) / name), "an unchanged table links every part"


def test_a_publication_without_parts_is_no_source_of_parts(tmp_path: Path) -> None:
    """The current publication predates parts (its manifest has none): every month is written."""
    layout = HomeLayout(tmp_path / "home")
    warehouse = _warehouse(tmp_path / "wh.duckdb", ROWS)
    first, _ = _publish(layout, warehouse, "run-aaaaaaaa")
    manifest_path = first.folder / pub.MANIFEST
    manifest = json.loads(manifest_path.read_text())
    del manifest["tables"][AGING]["parts"]
    manifest_path.write_text(json.dumps(manifest))
    second, _ = _publish(layout, warehouse, "run-bbbbbbbb")
    for name in os.listdir(_parts_folder(second)):
        assert not os.path.samefile(_parts_folder(first) / name, _parts_folder(second) / name), name


def test_parts_are_reused_only_in_the_same_format_and_duckdb_version() -> None:
    parts = {"2026-11": "2:5:x", "2026-12": "1:7:x"}
    same = Reusable(Path("s"), Path("e"), "v1.5.0", duckdb.__version__, {}, {AGING: dict(parts)})
    assert same.unchanged_parts(AGING, parts, "v1.5.0") == {"2026-11", "2026-12"}
    assert same.unchanged_parts(AGING, {**parts, "2026-12": "1:8:x"}, "v1.5.0") == {"2026-11"}
    assert same.unchanged_parts("marts.other", parts, "v1.5.0") == frozenset()
    assert same.unchanged_parts(AGING, parts, "v2.0.0") == frozenset()
    other_engine = Reusable(Path("s"), Path("e"), "v1.5.0", "0.0.1", {}, {AGING: dict(parts)})
    assert other_engine.unchanged_parts(AGING, parts, "v1.5.0") == frozenset()


def test_a_parts_fingerprint_is_the_fingerprint_of_its_rows() -> None:
    con = duckdb.connect()
    con.execute("create table t (d date, n integer)")
    con.executemany("insert into t values (?, ?)", [("2026-11-30", 1), ("2026-12-01", 2), (None, 3)])
    spec = MonthlyParts("d")
    whole, parts = part_fingerprints(con, "t", spec.key_sql)
    assert whole == content_fingerprint(con, "t"), "the whole is the sum of its parts"
    assert set(parts) == {"2026-11", "2026-12", UNDATED}
    for part, fingerprint in parts.items():
        assert fingerprint == content_fingerprint(con, f"(select * from t where {spec.where(part)})"), part
    assert part_fingerprints(con, "(select * from t where false)", spec.key_sql) == (
        content_fingerprint(con, "(select * from t where false)"),
        {},
    ), "an empty relation has no part and the empty fingerprint"


def test_every_partitioned_table_has_its_date_column_in_the_dbt_project() -> None:
    """A renamed column would fail every publish: the model's docs must still declare it."""
    columns: dict[str, set[str]] = {}
    for path in (Path(__file__).resolve().parents[1] / "dbt_project" / "models").rglob("*.yml"):
        for model in (yaml.safe_load(path.read_text()) or {}).get("models", []):
            columns[model["name"]] = {column["name"] for column in model.get("columns", [])}
    for (_, name), spec in EXPORT_PARTS.items():
        assert spec.column in columns.get(name, set()), (name, spec.column)
