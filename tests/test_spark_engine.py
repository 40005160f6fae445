"""The Spark engine (``warehouse.engine: spark``): its settings, the lake written before a Spark
build, the copy of the built tables into the warehouse, and (slow) a generated company built on
Spark with every mart equal to the DuckDB build's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

from expectations.contracts import ENTITIES
from orchestration.config import SAMPLE_CONFIG, ConfigError, load_config
from orchestration.defs.transform.spark import (
    copy_models_to_warehouse,
    lake_dir,
    spark_table_dir,
    stored_models,
    write_lake,
)
from orchestration.settings import Settings
from orchestration.warehouse import connect, prepare_landing
from tests.published_home import PUBLISHED_AS_OF, PublishedHome


def _config_with(tmp_path: Path, warehouse: dict) -> Path:
    text = yaml.safe_load(SAMPLE_CONFIG.read_text(encoding="utf-8"))
    text["warehouse"] = warehouse
    path = SAMPLE_CONFIG.parent / f".test-{tmp_path.name}.yml"  # beside the sample, so its relative sources resolve
    path.write_text(yaml.safe_dump(text), encoding="utf-8")
    return path


@pytest.fixture
def spark_config(tmp_path: Path):
    path = _config_with(tmp_path, {"engine": "spark", "spark": {"master": "local[1]", "driver_memory": "2g"}})
    yield path
    path.unlink()


def test_engine_defaults_to_duckdb():
    assert load_config(SAMPLE_CONFIG).warehouse.engine == "duckdb"


@pytest.mark.parametrize(
    ("warehouse", "named"),
    [
        ({"engine": "postgres"}, "warehouse.engine"),
        ({"engine": "spark", "spark": {"master": "yarn"}}, "warehouse.spark.master"),
        ({"engine": "spark", "spark": {"driver_memory": "4 GB"}}, "warehouse.spark.driver_memory"),
        ({"engine": "spark", "spark": {"shuffle_partitions": 0}}, "warehouse.spark.shuffle_partitions"),
        ({"engine": "spark", "spark": {"executors": 4}}, "warehouse.spark.executors"),
    ],
)
def test_a_wrong_warehouse_setting_is_refused_by_name(tmp_path: Path, warehouse: dict, named: str):
    path = _config_with(tmp_path, warehouse)
    try:
        with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
            load_config(path)
    finally:
        path.unlink()


def _profile(settings: Settings) -> dict:
    return yaml.safe_load((settings.write_dbt_profile() / "profiles.yml").read_text(encoding="utf-8"))["inflow"]


def test_the_profile_targets_the_configured_engine_and_keeps_spark_under_the_home(tmp_path: Path, spark_config):
    duck = Settings.load(SAMPLE_CONFIG, tmp_path / "duck")
    assert _profile(duck)["target"] == "warehouse"
    folder = duck.write_dbt_profile()  # dbt runs there; the warehouse path is relative to it
    assert (folder / _profile(duck)["outputs"]["warehouse"]["path"]).resolve() == duck.warehouse_path

    spark = Settings.load(spark_config, tmp_path / "spark")
    profile = _profile(spark)
    assert profile["target"] == "spark"
    params = profile["outputs"]["spark"]["server_side_parameters"]
    assert params["spark.master"] == "local[1]"
    assert params["spark.driver.memory"] == "2g"
    home = str(spark.layout.spark)
    assert params["spark.sql.warehouse.dir"] == f"{home}/warehouse"
    assert f"databaseName={home}/metastore_db;" in params["spark.hadoop.javax.jdo.option.ConnectionURL"]
    assert params["spark.driver.extraJavaOptions"] == f"-Dderby.system.home={home}"


def test_the_engine_option_overrides_the_configuration(tmp_path: Path, spark_config):
    duck = Settings.load(SAMPLE_CONFIG, tmp_path)
    assert duck.with_engine(None) is duck
    assert duck.with_engine("spark").config.warehouse.engine == "spark"
    assert _profile(duck.with_engine("spark"))["target"] == "spark"
    spark = Settings.load(spark_config, tmp_path)
    back = spark.with_engine("duckdb")
    assert back.config.warehouse.engine == "duckdb"
    assert back.config.warehouse.spark.master == "local[1]"  # the rest of the section is kept


def test_stored_models_are_the_tables_and_incremental_models_only(tmp_path: Path):
    def node(kind: str, name: str, materialized: str | None = None) -> dict:
        return {"resource_type": kind, "schema": "marts", "alias": name, "config": {"materialized": materialized}}

    manifest = tmp_path / "manifest.json"
    nodes = [
        node("model", "fct_b", "table"),
        node("model", "fct_a", "incremental"),
        node("model", "stg_x", "view"),
        node("model", "eph", "ephemeral"),
        node("test", "not_null_x", "test"),
        node("seed", "seed_x", "seed"),
    ]
    manifest.write_text(json.dumps({"nodes": {f"n{i}": n for i, n in enumerate(nodes)}}), encoding="utf-8")
    assert stored_models(manifest) == [("marts", "fct_a"), ("marts", "fct_b")]


def _warehouse_with_landing(settings: Settings) -> None:
    con = connect(settings.warehouse_path)
    try:
        prepare_landing(con, {"invoices": ["erp__invoices"]})
        con.execute(
            "insert into raw.erp__invoices (document_id, customer_id, amount, document_date, _source_table, _status) "
            "values ('INV-1', 'C1', 12.34, date '2026-11-30', 'erp__invoices', 'accepted'), "
            "('INV-2', 'C2', -0.01, date '2026-12-01', 'erp__invoices', 'quarantined')"
        )
    finally:
        con.close()


def test_the_lake_holds_every_landing_view_typed_even_when_empty(tmp_path: Path):
    settings = Settings.load(SAMPLE_CONFIG, tmp_path)
    _warehouse_with_landing(settings)
    lake = write_lake(settings)
    assert sorted(p.name for p in (lake / "raw").iterdir()) == sorted(ENTITIES)
    con = duckdb.connect()
    invoices = con.execute(
        f"select document_id, amount, document_date, _status from read_parquet('{lake}/raw/invoices/*.parquet') "
        "order by document_id"
    ).fetchall()
    assert [(r[0], str(r[1]), str(r[2]), r[3]) for r in invoices] == [
        ("INV-1", "12.34", "2026-11-30", "accepted"),
        ("INV-2", "-0.01", "2026-12-01", "quarantined"),  # quarantined rows too: staging filters them, as on DuckDB
    ]
    described = con.execute(f"describe select * from read_parquet('{lake}/raw/invoices/*.parquet')").fetchall()
    types = {row[0]: row[1] for row in described}
    assert types["amount"] == "DECIMAL(18,2)"
    assert types["document_date"] == "DATE"
    empty = con.execute(f"select count(*) from read_parquet('{lake}/raw/write_offs/*.parquet')").fetchall()
    assert empty == [(0,)]


def test_a_second_lake_replaces_the_first_whole(tmp_path: Path):
    settings = Settings.load(SAMPLE_CONFIG, tmp_path)
    _warehouse_with_landing(settings)
    write_lake(settings)
    stray = lake_dir(settings) / "raw" / "invoices" / "part-from-an-old-run.parquet"
    stray.write_bytes(b"not parquet")
    con = connect(settings.warehouse_path)
    con.execute("delete from raw.erp__invoices where document_id = 'INV-2'")
    con.close()
    lake = write_lake(settings)
    assert not stray.exists()
    assert sorted(p.name for p in lake.parent.iterdir()) == ["lake"]  # no .partial or .old left beside it
    count = duckdb.connect().execute(f"select count(*) from read_parquet('{lake}/raw/invoices/*.parquet')").fetchall()
    assert count == [(1,)]


def _spark_output(settings: Settings, schema: str, table: str, sql: str) -> None:
    folder = spark_table_dir(settings, schema, table)
    folder.mkdir(parents=True)
    duckdb.connect().execute(f"copy ({sql}) to '{folder}/part-00000.parquet' (format parquet)")


def _manifest(tmp_path: Path, tables: list[tuple[str, str, str]]) -> Path:
    nodes = {
        f"model.inflow.{name}": {
            "resource_type": "model",
            "schema": schema,
            "alias": name,
            "config": {"materialized": kind},
        }
        for schema, name, kind in tables
    }
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"nodes": nodes}), encoding="utf-8")
    return path


def test_built_tables_are_copied_into_the_warehouse_under_their_names(tmp_path: Path):
    settings = Settings.load(SAMPLE_CONFIG, tmp_path)
    _spark_output(settings, "marts", "fct_x", "select 'A' as id, 1.25::decimal(18,2) as amount, date '2026-12-31' as d")
    _spark_output(settings, "intermediate", "int_y", "select 7::bigint as n")
    manifest = _manifest(
        tmp_path, [("marts", "fct_x", "table"), ("intermediate", "int_y", "incremental"), ("staging", "stg", "view")]
    )
    con = connect(settings.warehouse_path)
    con.execute("create schema marts; create table marts.fct_x as select 'old' as id")
    con.close()

    assert copy_models_to_warehouse(settings, manifest) == 2
    con = connect(settings.warehouse_path, read_only=True)
    assert con.execute("select id, amount::varchar, d::varchar from marts.fct_x").fetchall() == [
        ("A", "1.25", "2026-12-31")
    ]
    assert con.execute("select n from intermediate.int_y").fetchall() == [(7,)]
    con.close()


def test_a_table_spark_did_not_write_fails_the_copy_and_changes_nothing(tmp_path: Path):
    settings = Settings.load(SAMPLE_CONFIG, tmp_path)
    _spark_output(settings, "marts", "fct_x", "select 'new' as id")
    manifest = _manifest(tmp_path, [("marts", "fct_x", "table"), ("marts", "fct_missing", "table")])
    con = connect(settings.warehouse_path)
    con.execute("create schema marts; create table marts.fct_x as select 'old' as id")
    con.close()

    with pytest.raises(RuntimeError, match=r"marts\.fct_missing"):
        copy_models_to_warehouse(settings, manifest)
    con = connect(settings.warehouse_path, read_only=True)
    assert con.execute("select id from marts.fct_x").fetchall() == [("old",)]
    con.close()


#: Columns that say when a home's inputs landed, which differs between any two homes.
LANDING_TIME_COLUMNS = frozenset({"_inputs_loaded_through"})


def _tables(warehouse: Path) -> dict[str, list[str]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            "select table_schema || '.' || table_name, column_name from information_schema.columns "
            "where table_schema = 'marts' order by table_name, ordinal_position"
        ).fetchall()
    finally:
        con.close()
    tables: dict[str, list[str]] = {}
    for table, column in rows:
        tables.setdefault(table, [])
        if column not in LANDING_TIME_COLUMNS:
            tables[table].append(column)
    return tables


@pytest.mark.slow
@pytest.mark.pipeline
def test_a_spark_build_publishes_the_same_marts_as_duckdb(published_home: PublishedHome, tmp_path: Path):
    """The generated company of the session's publication, built again on Spark local from an empty
    home: every mart in serving.duckdb, row for row (money and dates exact), equal to DuckDB's."""
    home = tmp_path / "spark_home"
    proc = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "run", "--engine", "spark", "--config", str(published_home.config),
         "--home", str(home), "--as-of", PUBLISHED_AS_OF],
        capture_output=True, text=True, timeout=1500,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert (home / "spark" / "warehouse" / "marts.db" / "fct_ar_invoices").is_dir()  # built by Spark, not DuckDB
    assert not (Path("dbt_project") / "metastore_db").exists()

    # The warehouses, not the serving files: those pseudonymise personal columns with each home's own key.
    duck, spark = published_home.home / "warehouse.duckdb", home / "warehouse.duckdb"
    tables = _tables(duck)
    assert _tables(spark) == tables
    con = duckdb.connect()
    con.execute(f"attach '{duck}' as duck (read_only)")
    con.execute(f"attach '{spark}' as spark (read_only)")
    differing = {}
    for table, columns in tables.items():
        listed = ", ".join(f'"{c}"' for c in columns)
        one_way = f"select {listed} from duck.{table} except all select {listed} from spark.{table}"
        other_way = f"select {listed} from spark.{table} except all select {listed} from duck.{table}"
        counts = [con.execute(f"select count(*) from ({sql})").fetchall()[0][0] for sql in (one_way, other_way)]
        if counts != [0, 0]:
            differing[table] = counts
    assert differing == {}, f"marts differing between DuckDB and Spark (rows only in each): {differing}"
