"""A publication takes from the current one what did not change (decision P1): an unchanged table
is carried in a copy of the serving file when most rows are unchanged, its Parquet and CSV are
hard links, and the result equals a publication written afresh, comments and dropped tables
included; the publication it was taken from is not touched."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from orchestration.defs.publish import publication as pub
from orchestration.defs.publish.descriptions import TableDocs
from orchestration.defs.publish.serving import COPY_WHEN_UNCHANGED, Reusable, _start_from_copy, publish
from orchestration.settings import HomeLayout
from orchestration.warehouse import content_fingerprint

AS_OF = dt.date(2026, 11, 27)
BIG = "marts.fct_ar_aging_daily"


def _warehouse(path: Path, open_amount: str = "10.00", aging_rows: int = 2000, column: str = "open_amount") -> Path:
    """A warehouse whose aging table (``aging_rows`` rows) is most of the rows, and a one-row fact."""
    con = duckdb.connect(str(path))
    con.execute("create schema if not exists marts")
    con.execute(
        f"create or replace table marts.fct_ar_invoices as select '1' as invoice_id, "
        f"cast({open_amount} as decimal(18,2)) as {column}"
    )
    con.execute(
        f"create or replace table {BIG} as select date '2026-01-01' + (i % 300)::int as snapshot_date, "
        f"'INV-' || i as invoice_id, cast(i as decimal(18,2)) as open_amount from range({aging_rows}) t(i)"
    )
    con.close()
    return path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _contents(serving: Path) -> dict[str, list[tuple]]:
    """Every consumer table's rows (sorted), column names and comments: what a reader can see."""
    con = duckdb.connect(str(serving), read_only=True)
    try:
        tables = con.execute(
            "select schema_name, table_name, comment from duckdb_tables() where schema_name <> 'meta' order by 1, 2"
        ).fetchall()
        seen: dict[str, list[tuple]] = {}
        for schema, name, comment in tables:
            columns = con.execute(
                "select column_name, data_type, comment from duckdb_columns() "
                "where schema_name = ? and table_name = ? order by column_index",
                [schema, name],
            ).fetchall()
            rows = sorted(con.execute(f"select * from {schema}.{name}").fetchall(), key=repr)  # noqa: S608
            seen[f"{schema}.{name}"] = [("comment", comment), *columns, *rows]
        return seen
    finally:
        con.close()


def _fresh(tmp_path: Path, warehouse: Path, docs: dict | None = None) -> dict[str, list[tuple]]:
    """What a publication written without reuse holds."""
    target = tmp_path / f"fresh-{len(list(tmp_path.glob('fresh-*')))}.duckdb"
    publish(warehouse, target, AS_OF, "run-fresh", docs=docs)
    return _contents(target)


def _publish(layout: HomeLayout, warehouse: Path, run_id: str, docs: dict | None = None, keep: int = 3):
    lines: list[str] = []
    publication = pub.publish_unit(
        layout, warehouse, AS_OF, run_id, None, keep, pub.ServingFormat(docs=docs), progress=lines.append
    )
    return publication, lines


def _by_key(publication: pub.Publication) -> dict[str, bool]:
    return {t.key: t.reused for t in publication.tables}


def test_an_unchanged_table_is_carried_and_its_exports_linked(tmp_path: Path) -> None:
    layout = HomeLayout(tmp_path / "home")
    first, _ = _publish(layout, _warehouse(tmp_path / "wh.duckdb"), "run-aaaaaaaa")
    assert not any(_by_key(first).values()), "the first publication has nothing to take from"
    first_serving = _digest(first.folder / "serving.duckdb")

    warehouse = _warehouse(tmp_path / "wh.duckdb", open_amount="4.00")
    second, lines = _publish(layout, warehouse, "run-bbbbbbbb")
    assert _by_key(second) == {"marts.fct_ar_invoices": False, BIG: True}
    assert any("1 carried in a copy of its file" in line for line in lines), lines
    assert _contents(second.folder / "serving.duckdb") == _fresh(tmp_path, warehouse)
    assert _digest(first.folder / "serving.duckdb") == first_serving, "the current publication is never written"

    old, new = first.folder / "exports" / "marts", second.folder / "exports" / "marts"
    parts = sorted(p.name for p in (new / "fct_ar_aging_daily").iterdir())
    assert len(parts) == 2 * 10, "the aging's ten months, as Parquet and CSV"
    for name in parts:
        assert os.path.samefile(old / "fct_ar_aging_daily" / name, new / "fct_ar_aging_daily" / name), name
    for name in ("fct_ar_invoices.parquet", "fct_ar_invoices.csv"):
        assert not os.path.samefile(old / name, new / name), name
    assert "4.00" in (new / "fct_ar_invoices.csv").read_text()

    manifest = pub.read_manifest(second.folder)
    for entry in manifest["files"]:
        assert _digest(second.folder / entry["path"]) == entry["sha256"], entry["path"]
    assert manifest["tables"][BIG]["reused"] is True

    third, _ = _publish(layout, warehouse, "run-cccccccc", keep=1)
    assert all(_by_key(third).values()), "a second run over the same warehouse reuses every table"
    assert not first.folder.exists() and not second.folder.exists()
    assert _contents(third.folder / "serving.duckdb") == _fresh(tmp_path, warehouse)
    assert "4.00" in (third.folder / "exports" / "marts" / "fct_ar_invoices.csv").read_text(), "links outlive pruning"


def test_a_renamed_column_is_a_change(tmp_path: Path) -> None:
    layout = HomeLayout(tmp_path / "home")
    _publish(layout, _warehouse(tmp_path / "wh.duckdb"), "run-aaaaaaaa")
    warehouse = _warehouse(tmp_path / "wh.duckdb", column="open_amount_document")
    second, _ = _publish(layout, warehouse, "run-bbbbbbbb")
    assert _by_key(second) == {"marts.fct_ar_invoices": False, BIG: True}
    assert _contents(second.folder / "serving.duckdb") == _fresh(tmp_path, warehouse)
    assert "open_amount_document" in (second.folder / "exports" / "marts" / "fct_ar_invoices.csv").read_text()


def test_a_table_gone_from_the_warehouse_is_gone_from_the_copy(tmp_path: Path) -> None:
    layout = HomeLayout(tmp_path / "home")
    warehouse = _warehouse(tmp_path / "wh.duckdb")
    con = duckdb.connect(str(warehouse))
    con.execute("create table marts.dim_customers as select 'C1' as customer_id")
    con.close()
    _publish(layout, warehouse, "run-aaaaaaaa")
    con = duckdb.connect(str(warehouse))
    con.execute("drop table marts.dim_customers")
    con.close()
    second, lines = _publish(layout, warehouse, "run-bbbbbbbb")
    assert any("carried in a copy" in line for line in lines), "the file was copied, so the drop is the copy's"
    assert "marts.dim_customers" not in _contents(second.folder / "serving.duckdb")
    assert _contents(second.folder / "serving.duckdb") == _fresh(tmp_path, warehouse)


def test_a_carried_table_takes_this_runs_comments(tmp_path: Path) -> None:
    layout = HomeLayout(tmp_path / "home")
    warehouse = _warehouse(tmp_path / "wh.duckdb")
    before = {("marts", "fct_ar_aging_daily"): TableDocs("old words", {"open_amount": "old column words"})}
    _publish(layout, warehouse, "run-aaaaaaaa", docs=before)
    after = {("marts", "fct_ar_aging_daily"): TableDocs("new words", {"invoice_id": "the invoice"})}
    second, _ = _publish(layout, warehouse, "run-bbbbbbbb", docs=after)
    assert all(_by_key(second).values())
    seen = _contents(second.folder / "serving.duckdb")
    assert seen == _fresh(tmp_path, warehouse, docs=after)
    assert seen[BIG][0] == ("comment", "new words")
    assert ("open_amount", "DECIMAL(18,2)", None) in seen[BIG], "a comment the docs dropped is dropped"


@pytest.mark.parametrize(("kept", "expected"), [(49, False), (50, True), (100, True)])
def test_the_file_is_copied_only_when_at_least_half_its_rows_are_unchanged(kept: int, expected: bool) -> None:
    assert COPY_WHEN_UNCHANGED == 0.5
    fingerprints = {"marts.a": f"{kept}:1:x", "marts.b": f"{100 - kept}:2:y"}
    reuse = Reusable(Path("s"), Path("e"), "v1.5.0", duckdb.__version__, dict(fingerprints), {})
    assert _start_from_copy(reuse, {"marts.a"}, fingerprints) is expected
    assert _start_from_copy(None, {"marts.a"}, fingerprints) is False
    assert _start_from_copy(reuse, set(), fingerprints) is False


def test_nothing_is_reused_across_storage_formats_or_duckdb_versions() -> None:
    fingerprints = {"marts.a": "3:1:x"}
    same = Reusable(Path("s"), Path("e"), "v1.5.0", duckdb.__version__, dict(fingerprints), {})
    assert same.unchanged(fingerprints, "v1.5.0") == {"marts.a"}
    assert same.unchanged(fingerprints, "v2.0.0") == set()
    assert same.unchanged({"marts.a": "3:2:x"}, "v1.5.0") == set()
    other_engine = Reusable(Path("s"), Path("e"), "v1.5.0", "0.0.1", dict(fingerprints), {})
    assert other_engine.unchanged(fingerprints, "v1.5.0") == set()


def test_a_content_fingerprint_ignores_row_order_and_sees_every_change() -> None:
    con = duckdb.connect()
    con.execute("create table t as select * from (values (1, 'a'), (2, 'b')) v(n, s)")
    base = content_fingerprint(con, "t")
    assert content_fingerprint(con, "(select * from t order by n desc)") == base
    changes = {
        "a value": "(select n, case when n = 2 then 'c' else s end as s from t)",
        "a renamed column": "(select n as m, s from t)",
        "a column's type": "(select n::bigint as n, s from t)",
        "a duplicated row": "(select * from t union all select * from t where n = 1)",
        "a dropped row": "(select * from t where n = 1)",
        "no rows": "(select * from t where false)",
    }
    for what, relation in changes.items():
        assert content_fingerprint(con, relation) != base, what
    assert content_fingerprint(con, "(select * from t where false)").startswith("0:0:")


def test_a_serving_file_carried_in_a_copy_opens_in_the_duckdb_1x_cli(tmp_path: Path) -> None:
    """The copy keeps the storage format DuckDB 1.x tools read (the operating issue's requirement
    on the publication), with the new rows and this run's comments."""
    cli = Path(sys.executable).parent / "duckdb"
    assert cli.is_file(), "the duckdb-cli test dependency is not installed (pip install -r requirements.lock)"
    layout = HomeLayout(tmp_path / "home")
    docs = {("marts", "fct_ar_aging_daily"): TableDocs("aging words", {"open_amount": "column words"})}
    _publish(layout, _warehouse(tmp_path / "wh.duckdb"), "run-aaaaaaaa", docs=docs)
    second, lines = _publish(layout, _warehouse(tmp_path / "wh.duckdb", open_amount="4.00"), "run-bbbbbbbb", docs=docs)
    assert any("1 carried in a copy of its file" in line for line in lines), lines
    sql = (
        "select count(*) as n from marts.fct_ar_aging_daily; select open_amount from marts.fct_ar_invoices; "
        "select comment from duckdb_columns() where table_name = 'fct_ar_aging_daily' and column_name = 'open_amount'"
    )
    proc = subprocess.run(
        [str(cli), "-readonly", "-csv", str(second.folder / "serving.duckdb"), sql], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["n", "2000", "open_amount", "4.00", "comment", "column words"]
