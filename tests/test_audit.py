"""The audit trail: append-only, tamper-evident, and able to say which files produced a publication."""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import duckdb
import pytest

from orchestration.audit import KINDS, AuditTrail, InputFile, copy_to_duckdb, describe, publications_on
from orchestration.cli import main
from tests.published_home import PUBLISHED_AS_OF, PublishedHome


def test_events_cannot_be_changed_or_removed(tmp_path: Path) -> None:
    trail = AuditTrail(tmp_path)
    trail.record("load", "loaded", subject="erp__invoices", rows=10, inputs=[InputFile("a.csv", "c1")])
    with closing(sqlite3.connect(trail.path)) as con:
        for statement in ("update events set outcome = 'rejected'", "delete from events"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                con.execute(statement)
    with pytest.raises(ValueError, match="unknown audit event kind"):
        trail.record("coffee", "made")


def test_an_edited_or_removed_event_breaks_the_chain(tmp_path: Path) -> None:
    trail = AuditTrail(tmp_path)
    for n in range(3):
        trail.record("load", "loaded", subject=f"t{n}", rows=n)
    assert trail.verify() == []
    with closing(sqlite3.connect(trail.path)) as con:  # someone with write access drops the guard
        con.execute("drop trigger events_no_update")
        con.execute("update events set rows = 99 where seq = 2")
        con.commit()
    assert trail.verify() == ["event 2: its content does not match its hash (it was edited)"]
    with closing(sqlite3.connect(trail.path)) as con:  # (opening the trail put the guards back)
        con.execute("drop trigger events_no_update")
        con.execute("update events set rows = 1 where seq = 2")  # put back, then remove one
        con.execute("drop trigger events_no_delete")
        con.execute("delete from events where seq = 2")
        con.commit()
    assert trail.verify() == ["event 3: the chain is broken before it (an event was removed)"]


def test_a_publication_names_its_input_files(tmp_path: Path) -> None:
    trail = AuditTrail(tmp_path)
    files = [InputFile("erp/invoices_1.csv", "aa"), InputFile("erp/invoices_2.csv", "bb")]
    trail.record("publish", "started", run_id="r1", as_of=dt.date(2026, 6, 30), inputs=files)
    trail.record("publish", "started", run_id="r2", as_of=dt.date(2026, 6, 30), inputs=files[:1])  # failed
    trail.record("publish", "published", run_id="r1", as_of=dt.date(2026, 6, 30))
    ((run, _, inputs),) = publications_on(trail, dt.date(2026, 6, 30))
    assert run == "r1" and inputs == files
    assert publications_on(trail, dt.date(2026, 7, 1)) == []
    con = duckdb.connect()
    assert copy_to_duckdb(trail, con) == 3
    row = con.execute("select kind, outcome, inputs[2].checksum, as_of_date from audit.events where seq = 1").fetchone()
    assert row == ("publish", "started", "bb", dt.date(2026, 6, 30))


def test_the_listing_leaves_out_what_an_event_does_not_have(tmp_path: Path) -> None:
    """Events without a detail, subject, run or date print no "nan" in their place."""
    trail = AuditTrail(tmp_path)
    trail.record("load", "loaded", subject="erp__invoices", rows=0, inputs=[InputFile("a.csv", "c1")])
    trail.record("run", "failed", run_id="r1", as_of=dt.date(2026, 6, 30), detail="step x failed")
    trail.record("gate", "passed")
    events = trail.frame()
    user = events["os_user"].iloc[0]
    loaded, failed, gate = describe(events.to_dict("records"))
    assert "nan" not in loaded + failed + gate
    assert loaded.endswith(f"load  loaded  by {user}  erp__invoices  0 rows  1 input file(s)")
    assert failed.endswith(f"run  failed  by {user}  as of 2026-06-30  run r1\n    step x failed")
    assert gate.endswith(f"gate  passed  by {user}")


def test_audit_refuses_an_unknown_kind_naming_the_known_ones(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["audit", "--home", str(tmp_path), "--kind", "bogus"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "argument --kind: invalid choice: 'bogus'" in err
    assert all(f"'{kind}'" in err for kind in KINDS)


def test_audit_lists_the_events_of_a_known_kind(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    trail = AuditTrail(tmp_path)
    trail.record("gate", "passed")
    trail.record("run", "failed", run_id="r1")
    assert main(["audit", "--home", str(tmp_path), "--kind", "run"]) == 0
    out = capsys.readouterr().out
    assert "run  failed" in out and "gate" not in out


@pytest.mark.parametrize("asked", [[], ["--verify"], ["--published-on", "2026-06-30"]])
def test_audit_refuses_a_folder_without_a_trail_and_leaves_it_as_it_was(
    tmp_path: Path, capsys: pytest.CaptureFixture, asked: list[str]
) -> None:
    """A mistyped --home got an empty trail created there and "0 events, chain intact"."""
    folder = tmp_path / "not_a_home"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    assert main(["audit", "--home", str(folder), *asked]) == 2
    err = capsys.readouterr().err
    assert f"{folder / 'audit' / 'audit.sqlite'} does not exist: no run has written it in {folder} yet" in err
    assert "not an Inflow home" in err
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize("last", ["-3", "0"])
def test_audit_refuses_a_last_below_one(tmp_path: Path, capsys: pytest.CaptureFixture, last: str) -> None:
    """``--last -3`` listed every event but the first 3, and ``--last 0`` none, as if the trail were empty."""
    with pytest.raises(SystemExit) as stopped:
        main(["audit", "--home", str(tmp_path), "--last", last])
    assert stopped.value.code == 2
    assert f"argument --last: {last} is not a count of 1 or more" in capsys.readouterr().err


def test_audit_last_one_shows_the_newest_event(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    trail = AuditTrail(tmp_path)
    for n in range(3):
        trail.record("load", "loaded", subject=f"t{n}")
    assert main(["audit", "--home", str(tmp_path), "--last", "1"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.endswith("t2")


@pytest.mark.pipeline
def test_the_run_is_audited_and_published_with_its_inputs(published_home: PublishedHome) -> None:
    home = published_home.home
    trail = AuditTrail(home)
    events = trail.frame()
    assert {"load", "gate", "publish", "run"} <= set(events["kind"])
    assert trail.verify() == []
    warehouse = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        loaded = set(
            warehouse.execute("select file, checksum from quality.source_loads where status = 'loaded'").fetchall()
        )
    finally:
        warehouse.close()
    ((_, _, inputs),) = publications_on(trail, dt.date.fromisoformat(PUBLISHED_AS_OF))
    assert {(i.file, i.checksum) for i in inputs} == loaded
    serving = duckdb.connect(str(home / "serving.duckdb"), read_only=True)
    try:  # the README's question, answered from the serving file alone
        published = serving.execute(
            "select count(*) from audit.events e, unnest(e.inputs) as i(f) where e.kind = 'publish' "
            "and e.outcome = 'started' and e.run_id = (select run_id from meta.publication)"
        ).fetchone()[0]
    finally:
        serving.close()
    assert published == len(loaded)
    proc = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "audit", "--config", str(published_home.config),
         "--home", str(home), "--published-on", PUBLISHED_AS_OF],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0 and f"was made from {len(loaded)} file(s)" in proc.stdout, proc.stdout + proc.stderr
