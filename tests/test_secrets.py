"""Secrets in inflow.yml: ``${NAME}`` references only, resolved where used, never shown."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import yaml

from orchestration.config import ConfigError, load_config
from orchestration.defs.ingestion.readers import BatchRejected, read_query
from orchestration.onboard.check import check_config, run_check
from orchestration.secret_refs import SecretMissing, missing_variables, redact, resolve_secrets

SAMPLE = Path(__file__).resolve().parent.parent / "seeds" / "sample" / "inflow.yml"
SENTINEL = "s3ntinel-Pa55word"


def _with_workflow_url(tmp_path: Path, url: str) -> Path:
    raw = yaml.safe_load(SAMPLE.read_text())
    raw["sources"]["workflow"]["url"] = url
    raw["paths"] = {"roots": [str(SAMPLE.parent)]}
    for src in raw["sources"].values():
        for tbl in src["tables"].values():
            if "path" in tbl:
                tbl["path"] = str(SAMPLE.parent / tbl["path"])
    path = tmp_path / "inflow.yml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def test_a_literal_password_in_a_source_url_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"sources\.workflow\.url.*holds a password") as caught:
        load_config(_with_workflow_url(tmp_path, f"postgresql+psycopg2://reader:{SENTINEL}@db/x"))
    assert SENTINEL not in str(caught.value)
    # A reference is accepted, and the configuration keeps the reference, not the value.
    config = load_config(_with_workflow_url(tmp_path, "postgresql+psycopg2://reader:${INFLOW_T_PW}@db/x"))
    assert config.sources["workflow"].url == "postgresql+psycopg2://reader:${INFLOW_T_PW}@db/x"
    assert ("sources.workflow.url", config.sources["workflow"].url) in config.secret_references()


def test_resolution_names_a_missing_variable_and_redacts_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INFLOW_T_PW", raising=False)
    with pytest.raises(SecretMissing, match=r"INFLOW_T_PW \(named by sources\.wf\.url\) is not set"):
        resolve_secrets("pg://u:${INFLOW_T_PW}@h/d", "sources.wf.url")
    assert list(missing_variables([("sources.wf.url", "pg://u:${INFLOW_T_PW}@h/d")])) == [
        "environment variable INFLOW_T_PW (named by sources.wf.url) is not set"
    ]
    monkeypatch.setenv("INFLOW_T_PW", SENTINEL)
    url, secrets = resolve_secrets("pg://u:${INFLOW_T_PW}@h/d", "sources.wf.url")
    assert url == f"pg://u:{SENTINEL}@h/d" and secrets == [SENTINEL]
    assert redact(f"cannot connect to {url}", secrets) == "cannot connect to pg://u:***@h/d"


def test_inflow_check_names_the_missing_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INFLOW_T_WF_URL", raising=False)
    findings = check_config(_with_workflow_url(tmp_path, "${INFLOW_T_WF_URL}"))
    problems = [text for stops, text in findings if stops]
    assert problems == ["environment variable INFLOW_T_WF_URL (named by sources.workflow.url) is not set"]


def test_check_refuses_an_unset_source_variable_and_notes_a_writeback_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run lands sources, so an unset source variable is a refusal (status 2, as `inflow run`);
    only `inflow outbox send` needs a writeback target's, so that one is a note (status 0)."""
    monkeypatch.delenv("INFLOW_T_ERP_TOKEN", raising=False)
    path = _with_workflow_url(tmp_path, "unused")
    raw = yaml.safe_load(path.read_text())
    raw["sources"].pop("workflow")  # the one source with a URL: none is left
    raw["writeback"]["targets"]["erp_api"] = {
        "type": "rest",
        "url": "https://erp.example/api",
        "owner": "ar@x.example",
        "kinds": ["note"],
        "headers": {"Authorization": "Bearer ${INFLOW_T_ERP_TOKEN}"},
    }
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    config = load_config(path)
    assert [where for where, _ in config.secret_references("sources")] == []
    assert [where for where, _ in config.secret_references("writeback")] == [
        "writeback.targets.erp_api.url",
        "writeback.targets.erp_api.headers.Authorization",
    ]
    assert run_check(path) == 0
    out = capsys.readouterr().out
    assert "INFLOW_T_ERP_TOKEN (named by writeback.targets.erp_api.headers.Authorization) is not set" in out
    assert "`inflow outbox send` would stop" in out and "problem(s) that would stop a run" not in out

    monkeypatch.delenv("INFLOW_T_WF_URL", raising=False)
    assert run_check(_with_workflow_url(tmp_path, "${INFLOW_T_WF_URL}")) == 2


def test_an_unusable_url_or_failed_query_never_shows_the_secret() -> None:
    from orchestration.config import TableConfig

    columns = {"promise_id": "a", "customer_id": "b", "promised_date": "c", "promised_amount": "d", "created_at": "e"}
    tbl = TableConfig(entity="promises", format="query", query="select 1", columns=columns)
    con = duckdb.connect()
    for url in (
        f"{SENTINEL.lower()}://u@h/d",  # SQLAlchemy names the unknown dialect
        f"postgresql+psycopg2://u@127.0.0.1:1/db?connect_timeout=1&password={SENTINEL}",  # kept by the label
        f"postgresql+psycopg2://u:{SENTINEL}@127.0.0.1:1/db?connect_timeout=1",
    ):
        with pytest.raises(BatchRejected) as caught:
            read_query(con, url, tbl, [], secrets=[SENTINEL, SENTINEL.lower()])
        assert caught.value.rule == "query_failed"
        assert SENTINEL.lower() not in str(caught.value).lower(), str(caught.value)
