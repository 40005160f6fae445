"""``inflow outbox list|approve|reject|send`` through the ``inflow`` command line."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import yaml

from orchestration.cli import main
from orchestration.config import SAMPLE_CONFIG, load_config
from orchestration.defs.writeback.changes import Change
from orchestration.defs.writeback.outbox import OutboxStore
from orchestration.defs.writeback.settings import ChangeKind

WRITEBACK = {
    "targets": {
        "erp_files": {
            "type": "file",
            "format": "netsuite_csv",
            "directory": "drop",
            "owner": "ar@x.example",
            "kinds": ["risk_band", "note"],
        }
    }
}


def write_config(folder, writeback: dict):
    """The sample company's configuration with this writeback block, its paths still the sample's."""
    raw = yaml.safe_load(SAMPLE_CONFIG.read_text())
    raw["writeback"] = writeback
    raw["paths"] = {"roots": [str(SAMPLE_CONFIG.parent)]}  # the sample's files, read from here
    for source in raw["sources"].values():
        if "url" in source and source["url"].startswith("sqlite:///"):
            source["url"] = "sqlite:///" + str(SAMPLE_CONFIG.parent / source["url"].removeprefix("sqlite:///"))
        for table in source["tables"].values():
            if "path" in table:
                table["path"] = str(SAMPLE_CONFIG.parent / table["path"])
    path = folder / "inflow.yml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture
def setup(tmp_path):
    config = write_config(tmp_path, WRITEBACK)
    home = tmp_path / "home"
    with OutboxStore.at_home(home) as store:
        store.enqueue(
            [
                Change(ChangeKind.RISK_BAND, "INV-1", "invoice.risk_band", "high"),
                Change(ChangeKind.RISK_BAND, "INV-2", "invoice.risk_band", "low"),
                Change(ChangeKind.NOTE, "A1", "note.text", {"text": "hello"}),
            ],
            load_config(config).writeback,
            dt.date(2026, 11, 27),
        )
        keys = [r.idempotency_key for r in store.rows()]
    return ["outbox", "--config", str(config), "--home", str(home)], home, keys


def _rows(home):
    with OutboxStore.at_home(home) as store:
        return store.rows()


def test_list_approve_reject_send(setup, capsys):
    base, home, keys = setup
    assert main([*base, "list", "--status", "pending"]) == 0
    out = capsys.readouterr().out
    assert keys[0][:12] in out and keys[1][:12] in out and keys[2][:12] not in out and "2 change(s)" in out

    assert main([*base, "approve", keys[0][:10], "--by", "ann"]) == 0
    assert main([*base, "reject", keys[1][:10], "--reason", "customer on a payment plan", "--by", "bob"]) == 0
    rows = _rows(home)
    assert [(r.status, r.approved_by, r.reason) for r in rows] == [
        ("approved", "ann", None),
        ("rejected", None, "customer on a payment plan"),
        ("approved", "auto", None),
    ]

    capsys.readouterr()
    assert main([*base, "send"]) == 0
    assert "erp_files: delivered 2 in 1 batch(es), failed 0" in capsys.readouterr().out
    assert [r.status for r in _rows(home)] == ["sent", "rejected", "sent"]
    assert len(list((home / "drop").iterdir())) == 1

    assert main([*base, "list", "--json", "--kind", "risk_band"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["status"] for r in listed] == ["sent", "rejected"] and listed[1]["reason"] == "customer on a payment plan"


def test_approve_all_pending_by_kind(setup, capsys):
    base, home, _ = setup
    assert main([*base, "approve", "--all-pending", "--kind", "risk_band"]) == 0
    assert "approved 2 change(s)" in capsys.readouterr().out
    assert [r.status for r in _rows(home)] == ["approved"] * 3


def test_refusals_exit_2_with_a_message(setup, capsys):
    base, home, keys = setup
    assert main([*base, "approve", "deadbeefdeadbeef"]) == 2
    assert "no change with key deadbeefdeadbeef" in capsys.readouterr().err
    assert main([*base, "approve", keys[2][:12]]) == 2
    assert "is approved, expected pending or failed" in capsys.readouterr().err
    assert main([*base, "approve"]) == 2
    assert "give change keys or --all-pending" in capsys.readouterr().err
    assert main([*base, "send", "--target", "nope"]) == 2
    assert "unknown target(s) ['nope']" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*base, "reject", keys[0][:12]])  # --reason is required
    assert [r.status for r in _rows(home)] == ["pending", "pending", "approved"]


def test_a_bad_writeback_block_names_the_key(tmp_path, capsys):
    config = write_config(
        tmp_path, {"targets": {"erp": {"type": "rest", "url": "ftp://x", "owner": "a", "kinds": ["note"]}}}
    )
    assert main(["outbox", "--config", str(config), "--home", str(tmp_path), "list"]) == 2
    assert "writeback.targets.erp.rest.url" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("action", "option", "count"),
    [
        ("list", "--limit", "-1"),
        ("list", "--limit", "0"),
        ("send", "--max-batches", "-1"),
        ("send", "--max-batches", "0"),
    ],
)
def test_a_count_below_one_is_refused(setup, capsys, action, option, count):
    """Below 1, a negative --limit listed every change (SQLite's "no limit") and 0 none; --max-batches
    sent nothing and reported 0 batches, as if nothing were approved. Nothing moves either way."""
    base, home, _ = setup
    with pytest.raises(SystemExit) as stopped:
        main([*base, action, option, count])
    assert stopped.value.code == 2
    assert f"argument {option}: {count} is not a count of 1 or more" in capsys.readouterr().err
    assert [r.status for r in _rows(home)] == ["pending", "pending", "approved"]


@pytest.mark.parametrize("limit", [1, 2])
def test_list_limit_shows_the_newest_changes_oldest_first(setup, capsys, limit):
    """The listing puts the newest last; a limit keeps that end of it, in the same order."""
    base, _, keys = setup
    assert main([*base, "list", "--limit", str(limit)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line[:12] for line in lines[1:-1]] == [key[:12] for key in keys[-limit:]]
    assert lines[-1] == f"{limit} change(s)"


def test_send_max_batches_one_sends_a_batch(setup, capsys):
    base, home, _ = setup
    assert main([*base, "send", "--max-batches", "1"]) == 0
    assert "erp_files: delivered 1 in 1 batch(es)" in capsys.readouterr().out
    assert [r.status for r in _rows(home)] == ["pending", "pending", "sent"]


@pytest.mark.parametrize(
    ("args", "given"),
    [
        (["--kind", "note"], "--kind"),
        (["--target", "erp_files"], "--target"),
        (["--kind", "note", "--target", "erp_files"], "--kind/--target"),
        (["KEY", "--kind", "note"], "--kind"),
    ],
)
def test_approve_says_a_filter_narrows_all_pending(setup, capsys, args, given):
    base, home, keys = setup
    assert main([*base, "approve", *[keys[0][:12] if a == "KEY" else a for a in args]]) == 2
    err = capsys.readouterr().err
    assert f"{given} narrows --all-pending: give --all-pending with it, or give change keys without it" in err
    assert [r.status for r in _rows(home)] == ["pending", "pending", "approved"]


def test_approve_refuses_keys_with_all_pending(setup, capsys):
    base, _, keys = setup
    assert main([*base, "approve", keys[0][:12], "--all-pending"]) == 2
    assert "give change keys or --all-pending, not both" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command", [["list"], ["approve", "--all-pending"], ["reject", "deadbeefdead", "--reason", "r"], ["send"]]
)
def test_a_folder_without_an_outbox_is_refused_and_left_as_it_was(tmp_path, capsys, command):
    config = write_config(tmp_path, WRITEBACK)
    folder = tmp_path / "not_a_home"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    assert main(["outbox", "--config", str(config), "--home", str(folder), *command]) == 2
    err = capsys.readouterr().err
    assert f"{folder / 'outbox' / 'outbox.sqlite'} does not exist: no run has written it in {folder} yet" in err
    assert "not an Inflow home" in err
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]
