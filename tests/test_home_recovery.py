"""What a run does before it writes: backups of the raw tables, a damaged or lost warehouse
rebuilt from them (loudly, saying what is lost), schema migrations, and the whole start-of-run
upkeep through claim_home."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.defs.publish import publication as pub
from orchestration.home import backups, migrations, recovery
from orchestration.home.upkeep import claim_home
from orchestration.settings import HomeLayout
from orchestration.warehouse import ensure_schemas, prepare_landing

AS_OF = dt.date(2026, 11, 27)


def _land(con: duckdb.DuckDBPyConnection, table: str, files: list[Path], amount: str = "10.00") -> None:
    """Rows in a raw table and their loads in quality.source_loads, as landing leaves them."""
    prepare_landing(con, {"invoices": [table]})
    for n, file in enumerate(files):
        checksum = f"sum-{file.name}"
        con.execute(
            f"insert into raw.{table} (document_id, customer_id, amount, _file, _checksum, _row_number, _loaded_at, "
            "_status) values (?, 'C1', ?::decimal(18,2), ?, ?, 1, timestamp '2026-11-01 00:00:00', 'accepted')",
            [f"D{file.stem}-{n}", amount, str(file), checksum],
        )
        con.execute(
            "insert into quality.source_loads values (?, 'erp', ?, 'invoices', ?, ?, 1, 1, 0, 'loaded', null, "
            "timestamp '2026-11-01 00:00:00')",
            [f"load-{file.name}", table, str(file), checksum],
        )


def _home(tmp_path: Path, files: list[Path]) -> HomeLayout:
    """A home with a warehouse of landed files, a publication of it and a backup."""
    layout = HomeLayout(tmp_path / "home")
    layout.home.mkdir(parents=True)
    for file in files:
        file.write_text("x")
    con = duckdb.connect(str(layout.warehouse))
    _land(con, "erp__invoices", files)
    migrations.migrate_warehouse(con)
    con.execute("create schema if not exists marts")
    con.execute("create table marts.fct_ar_invoices as select document_id as invoice_id, amount from raw.erp__invoices")
    con.close()
    made = pub.publish_unit(layout, layout.warehouse, AS_OF, "run-first000", None, 3)
    con = duckdb.connect(str(layout.warehouse), read_only=True)
    backups.write_backup(con, layout.backups, made.id, "run-first000", migrations.LATEST, keep=3)
    con.close()
    return layout


def _digest(path: Path) -> bytes:
    return path.read_bytes()


def test_backup_hard_links_unchanged_tables_and_keeps_the_newest(tmp_path: Path) -> None:
    warehouse = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(warehouse))
    _land(con, "erp__invoices", [tmp_path / "a.csv"])
    _land(con, "erp__payments_like", [tmp_path / "p.csv"])  # a second raw table, same shape
    folder = tmp_path / "backups"
    first = backups.write_backup(con, folder, "20261101T000000-a", "run-a", 2, keep=2)
    assert set(first.tables) == {
        "raw.erp__invoices",
        "raw.erp__payments_like",
        "quality.source_loads",
        "quality.exceptions",
    }
    _land(con, "erp__invoices", [tmp_path / "b.csv"])
    second = backups.write_backup(con, folder, "20261102T000000-b", "run-b", 2, keep=2)
    inode = {name: os.stat(second.folder / entry["file"]).st_ino for name, entry in second.tables.items()}
    before = {name: os.stat(first.folder / entry["file"]).st_ino for name, entry in first.tables.items()}
    assert inode["raw.erp__payments_like"] == before["raw.erp__payments_like"], "unchanged: hard-linked"
    assert inode["raw.erp__invoices"] != before["raw.erp__invoices"], "changed: written again"
    assert second.tables["raw.erp__invoices"]["rows"] == 2
    con.execute("update raw.erp__invoices set _status = 'quarantined' where _file like '%a.csv'")
    third = backups.write_backup(con, folder, "20261103T000000-c", "run-c", 2, keep=2)
    assert third.tables["raw.erp__invoices"]["fingerprint"] != second.tables["raw.erp__invoices"]["fingerprint"]
    assert [b.id for b in backups.complete_backups(folder)] == ["20261103T000000-c", "20261102T000000-b"]
    (folder / "20261104T000000-d.partial").mkdir()
    assert [b.id for b in backups.complete_backups(folder)][0] == "20261103T000000-c", "a half-written one is unseen"
    con.close()


def test_restore_gives_back_every_row_with_its_types(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    _land(con, "erp__invoices", [tmp_path / "a.csv", tmp_path / "b.csv"])
    made = backups.write_backup(con, tmp_path / "backups", "20261101T000000-a", "run-a", 2, keep=3)
    original = con.execute("select * from raw.erp__invoices order by all").fetchall()
    types = con.execute("describe raw.erp__invoices").fetchall()
    con.close()
    fresh = duckdb.connect()
    ensure_schemas(fresh)
    assert backups.restore_backup(fresh, made) == 2 + 2
    assert fresh.execute("select * from raw.erp__invoices order by all").fetchall() == original
    assert fresh.execute("describe raw.erp__invoices").fetchall() == types
    with pytest.raises(duckdb.ConstraintException):  # quality tables keep their keys
        fresh.execute("insert into quality.source_loads select * from quality.source_loads limit 1")


def test_a_truncated_warehouse_is_moved_aside_and_rebuilt_from_the_backup(tmp_path: Path) -> None:
    rotated, kept = tmp_path / "inv_2026-01.csv", tmp_path / "inv_2026-02.csv"
    layout = _home(tmp_path, [rotated, kept])
    serving = _digest(layout.serving)
    con = duckdb.connect(str(layout.warehouse))
    rows = con.execute("select * from raw.erp__invoices order by all").fetchall()
    con.close()
    size = layout.warehouse.stat().st_size
    with layout.warehouse.open("r+b") as handle:
        handle.truncate(size // 2)
    rotated.unlink()  # the drop folder rotated the oldest file away

    notes = recovery.recover_warehouse(layout)

    aside = list(layout.home.glob("warehouse.damaged-*.duckdb"))
    assert len(aside) == 1 and aside[0].stat().st_size == size // 2, "kept for inspection"
    assert str(aside[0]) in notes[0] and "could not be opened" in notes[0]
    assert "restored 3 tables" in notes[1] and "run-first000" in notes[1]
    assert "1 file(s) landed before are no longer in the sources" in notes[2] and str(rotated) in notes[2]
    assert not any("LOST" in n for n in notes), "the backup holds the rotated file"
    con = duckdb.connect(str(layout.warehouse))
    assert con.execute("select * from raw.erp__invoices order by all").fetchall() == rows
    assert migrations.warehouse_version(con) == migrations.LATEST
    con.close()
    assert _digest(layout.serving) == serving, "serving stays as published"
    assert recovery.recover_warehouse(layout) == [], "a sound warehouse is left alone"


def test_without_a_backup_the_loss_is_named(tmp_path: Path) -> None:
    rotated, kept = tmp_path / "inv_2026-01.csv", tmp_path / "inv_2026-02.csv"
    layout = _home(tmp_path, [rotated, kept])
    for backup in backups.complete_backups(layout.backups):
        shutil.rmtree(backup.folder)
    layout.warehouse.unlink()
    rotated.unlink()

    notes = recovery.recover_warehouse(layout)

    assert "is missing" in notes[0] and "no backup" in notes[1]
    assert notes[2].startswith("LOST: 1 file(s) (1 accepted rows)") and str(rotated) in notes[2]
    assert str(kept) not in notes[2], "a file still in the sources is landed again, not lost"


def test_a_new_home_needs_no_recovery(tmp_path: Path) -> None:
    assert recovery.recover_warehouse(HomeLayout(tmp_path)) == []
    assert not (tmp_path / "warehouse.duckdb").exists()


def test_a_warehouse_open_in_another_process_is_not_taken_for_damage(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(path)).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('open', flush=True); time.sleep(60)",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(recovery.WarehouseInUse, match="open in another process"):
            recovery.open_problem(path)
        assert path.exists() and not list(tmp_path.glob("*.damaged-*"))
    finally:
        holder.kill()
        holder.wait()


def test_a_warehouse_of_a_newer_release_is_refused(tmp_path: Path) -> None:
    con = duckdb.connect()
    migrations.stamp(con, migrations.LATEST + 1, "from the future")
    with pytest.raises(migrations.HomeTooNew, match=f"schema version {migrations.LATEST + 1}"):
        migrations.migrate_warehouse(con)


def test_a_fresh_warehouse_is_stamped_current() -> None:
    con = duckdb.connect()
    assert migrations.warehouse_version(con) is None
    assert migrations.migrate_warehouse(con) == []
    assert migrations.warehouse_version(con) == migrations.LATEST


def test_a_failing_migration_leaves_no_stamp(monkeypatch: pytest.MonkeyPatch) -> None:
    con = duckdb.connect()
    ensure_schemas(con)  # version 1: quality tables, no stamp

    def broken(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("update quality.exceptions set rule = 'x'")
        raise RuntimeError("migration broke")

    monkeypatch.setattr(migrations, "MIGRATIONS", (migrations.Migration(2, "broken", broken),))
    with pytest.raises(RuntimeError, match="migration broke"):
        migrations.migrate_warehouse(con)
    assert migrations.warehouse_version(con) == 1, "rolled back with its stamp: resumed next time"


KILLED_HOLDER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from orchestration.home import lock
    lock.acquire(Path(sys.argv[1]), run_id="run-dead")
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_claim_home_settles_the_home_once_per_hold(tmp_path: Path) -> None:
    layout = _home(tmp_path, [tmp_path / "a.csv"])
    (layout.publications / "20991231T000000-run-half.partial").mkdir()
    subprocess.run([sys.executable, "-c", KILLED_HOLDER, str(layout.lock)], check=False, timeout=60)
    layout.dagster.mkdir()
    with dg.DagsterInstance.from_config(str(layout.dagster)) as instance:
        lease, notes = claim_home(layout, instance, "run-now", runs_kept=5)
        try:
            assert any("took over the run lock from run run-dead" in n for n in notes)
            assert any("interrupted publish" in n and "half.partial" in n for n in notes)
            inner, again = claim_home(layout, instance, "run-now", runs_kept=5)
            assert again == [] and not inner.first
            inner.release()
        finally:
            lease.release()
    assert not (layout.publications / "20991231T000000-run-half.partial").exists()


@pytest.mark.parametrize(
    "error",
    [
        'IO Error: Cannot open file "/h/warehouse.duckdb": Permission denied',
        'IO Error: Cannot open file "/h/warehouse.duckdb": Read-only file system',
        "IO Error: Could not write file: No space left on device",
        "Serialization Error: Trying to read a database file with version number 70, but we can only read "
        "versions between 64 and 69",
    ],
)
def test_a_warehouse_that_cannot_be_opened_for_another_reason_is_not_moved_aside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: str
) -> None:
    path = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(path)).close()

    def refuse(*args: object, **kwargs: object) -> None:
        raise duckdb.IOException(error)

    monkeypatch.setattr(recovery.duckdb, "connect", refuse)
    with pytest.raises(duckdb.IOException):
        recovery.open_problem(path)
    assert path.exists() and not list(tmp_path.glob("*.damaged-*"))
