"""The Dagster side: the outbox asset in the refresh, the separate send job, the serving copy."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import duckdb

from orchestration.defs.writeback.assets import OUTBOX_ASSET_KEY, SEND_JOB, build_writeback_definitions, outbox_deps
from orchestration.defs.writeback.outbox import OutboxStore
from orchestration.defs.writeback.settings import WritebackConfig
from orchestration.resources import WarehouseResource

AS_OF = dt.date(2026, 11, 27)


def _warehouse(path: Path) -> None:
    con = duckdb.connect(str(path))
    for schema in ("marts", "intermediate", "staging", "ml", "raw"):
        con.execute(f"create schema {schema}")
    con.execute(
        "create table marts.fct_ar_invoices as select * from (values "
        "('INV-1', 'C1', 'EUR', date '2026-11-27'), ('INV-2', 'C2', 'USD', date '2026-11-27')) "
        "t(invoice_id, customer_id, currency, as_of_date)"
    )
    con.execute(
        "create table marts.dim_customers as select * from (values ('C1', 'EUR'), ('C2', 'USD')) "
        "t(customer_id, currency)"
    )
    con.execute("""create table intermediate.int_promise_outcomes as select * from (values
        ('P1', 'C1', 'INV-1', date '2026-11-20', date '2026-11-30', date '2026-12-03',
         500.00::decimal(18,2), 0.00::decimal(18,2), 'open', 'pending')) t(promise_id, customer_id, document_id,
         created_date, promised_date, evaluation_date, promised_amount, paid_toward_promise, source_status, outcome)""")
    con.execute("""create table staging.stg_landing__disputes as select * from (values
        ('D1', 'INV-2', timestamp '2026-11-10 10:00', 12.00::decimal(18,2), 'pricing', null::timestamp, null))
        t(dispute_id, document_id, opened_at, amount, reason, resolved_at, resolution)""")
    con.execute("""create table staging.stg_landing__activities as select * from (values
        ('A1', 'C1', 'INV-1', date '2026-11-26', 'note', 'Jane will pay Friday', 'Ann'))
        t(activity_id, customer_id, document_id, activity_date, kind, text, author)""")
    con.execute(
        "create table ml.invoice_risk_scores as select * from (values "
        "('INV-1', date '2026-11-27', 'high'), ('INV-2', date '2026-11-27', 'low')) "
        "t(invoice_id, as_of_date, band)"
    )
    con.close()


def _defs(tmp_path: Path, config: WritebackConfig) -> dg.Definitions:
    defs = build_writeback_definitions(config, tmp_path / "home", deps=[])
    return dg.Definitions.merge(
        defs, dg.Definitions(resources={"warehouse": WarehouseResource(path=str(tmp_path / "warehouse.duckdb"))})
    )


def _config(observed: str | None = None) -> WritebackConfig:
    return WritebackConfig.model_validate(
        {
            "targets": {
                "erp_files": {
                    "type": "file",
                    "format": "generic_csv",
                    "directory": "drop",
                    "owner": "ar@x.example",
                    "kinds": ["promise", "dispute_flag", "note", "risk_band"],
                }
            },
            "approval": {"risk_band": "auto"},
            "observed_relation": observed,
        }
    )


def _materialize(defs: dg.Definitions) -> dg.MaterializeResult:
    result = dg.materialize([defs.resolve_assets_def(OUTBOX_ASSET_KEY)])  # resources bound by the definitions
    assert result.success
    (event,) = result.get_asset_materialization_events()
    return event.materialization.metadata


def test_refresh_fills_the_outbox_once_and_copies_it_to_the_warehouse(tmp_path):
    _warehouse(tmp_path / "warehouse.duckdb")
    defs = _defs(tmp_path, _config())
    first = _materialize(defs)
    assert (first["added"].value, first["as_of_date"].text, first["status_approved"].value) == (5, "2026-11-27", 5)
    assert "ml.customer_risk_scores" in first["relations_missing"].text
    second = _materialize(defs)
    assert (second["added"].value, second["unchanged"].value, second["rows"].value) == (0, 5, 5)
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    rows = con.execute(
        "select field, entity_key, value, status from writeback.erp_outbox order by field, entity_key"
    ).fetchall()
    assert rows == [
        ("invoice.dispute_flag", "INV-2", "true", "approved"),
        ("invoice.risk_band", "INV-1", "high", "approved"),
        ("invoice.risk_band", "INV-2", "low", "approved"),
        ("note.text", "A1", "[masked]", "approved"),
        ("promise.promise", "P1", "2026-11-30", "approved"),
    ]
    assert con.execute("select count(*) from writeback.erp_outbox_exceptions").fetchone()[0] == 0
    con.close()


def test_send_job_delivers_and_the_next_refresh_confirms_what_the_erp_shows(tmp_path):
    _warehouse(tmp_path / "warehouse.duckdb")
    defs = _defs(tmp_path, _config(observed="raw.erp_writeback_state"))
    _materialize(defs)
    assert defs.resolve_job_def(SEND_JOB).execute_in_process().success
    with OutboxStore.at_home(tmp_path / "home") as store:
        assert [r.status for r in store.rows()] == ["sent"] * 5
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute(
        "create table raw.erp_writeback_state as select * from (values "
        "('INV-1', 'invoice.risk_band', 'high'), ('INV-2', 'invoice.risk_band', 'medium')) "
        "t(entity_key, field, value)"
    )
    con.close()
    metadata = _materialize(defs)
    assert metadata["confirmed"].value == 1 and metadata["status_confirmed"].value == 1


def test_a_failing_send_fails_the_job_not_the_refresh(tmp_path, monkeypatch):
    _warehouse(tmp_path / "warehouse.duckdb")
    config = WritebackConfig.model_validate(
        {
            "targets": {
                "erp_api": {
                    "type": "rest",
                    "url": "http://127.0.0.1:1/down",
                    "owner": "a",
                    "kinds": ["risk_band"],
                    "retry": {"max_retries": 0},
                }
            },
            "approval": {"risk_band": "auto"},
        }
    )
    defs = _defs(tmp_path, config)
    _materialize(defs)
    result = defs.resolve_job_def(SEND_JOB).execute_in_process(raise_on_error=False)
    assert not result.success
    assert "stay queued" in str(result.failure_data_for_node("send_outbox").error.message)
    assert _materialize(defs)["status_approved"].value == 2, "the refresh still runs, nothing lost"


def test_the_send_job_is_never_part_of_an_all_assets_refresh(tmp_path):
    defs = _defs(tmp_path, _config())
    refresh = dg.define_asset_job("refresh", selection=dg.AssetSelection.all())
    merged = dg.Definitions.merge(defs, dg.Definitions(jobs=[refresh]))
    nodes = {node.name for node in merged.resolve_job_def("refresh").graph.node_defs}
    assert nodes == {"writeback__erp_outbox"}
    assert {n.name for n in merged.resolve_job_def(SEND_JOB).graph.node_defs} == {"send_outbox"}
    schedule = merged.resolve_schedule_def("inflow_outbox_send_every_15_minutes")
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED


def test_an_empty_fact_table_gives_no_as_of_date_and_nothing_is_enqueued(tmp_path):
    _warehouse(tmp_path / "warehouse.duckdb")
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute("delete from marts.fct_ar_invoices")
    con.close()
    metadata = _materialize(_defs(tmp_path, _config()))
    assert "added" not in metadata and metadata["rows"].value == 0


def test_outbox_deps_are_the_defined_relations_it_reads():
    defined = [
        dg.AssetKey(["intermediate", "int_promise_outcomes"]),
        dg.AssetKey(["marts", "fct_ar_invoices"]),
        dg.AssetKey(["marts", "ar_kpis_monthly"]),
        dg.AssetKey(["staging", "stg_landing__disputes"]),
    ]
    assert outbox_deps(defined) == [
        dg.AssetKey(["intermediate", "int_promise_outcomes"]),
        dg.AssetKey(["marts", "fct_ar_invoices"]),
        dg.AssetKey(["staging", "stg_landing__disputes"]),
    ]
