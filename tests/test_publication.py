"""A publication is one unit: serving and exports switch together through one link, an interrupted
publish changes nothing a reader sees and is cleaned up, a home of the previous release is moved
into a publication untouched, and a long-lived reader process sees a new publication at once."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from orchestration.defs.publish import publication as pub
from orchestration.defs.publish.serving import publish, write_exports
from orchestration.settings import HomeLayout

AS_OF = dt.date(2026, 11, 27)


def _warehouse(path: Path, open_amount: str, with_ml: bool = False) -> Path:
    con = duckdb.connect(str(path))
    con.execute("create schema if not exists marts")
    con.execute(
        "create or replace table marts.fct_ar_invoices as select '1' as invoice_id, "
        f"cast({open_amount} as decimal(18,2)) as open_amount"
    )
    con.execute(
        "create or replace table marts.ar_kpis_monthly as select date '2026-10-31' as month_end, "
        "cast(45.5 as decimal(9,1)) as dso_countback"
    )
    if with_ml:
        con.execute("create schema if not exists ml")
        con.execute("create or replace table ml.invoice_risk_scores as select '1' as invoice_id, 0.5 as score")
    con.close()
    return path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read(serving: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(serving), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _publish(layout: HomeLayout, warehouse: Path, run_id: str, keep: int = 3) -> pub.Publication:
    return pub.publish_unit(layout, warehouse, AS_OF, run_id, None, keep)


def test_serving_and_exports_are_one_publication(tmp_path: Path) -> None:
    layout = HomeLayout(tmp_path / "home")
    first = _publish(layout, _warehouse(tmp_path / "wh.duckdb", "10.00"), "run-aaaaaaaa")
    assert layout.serving.is_symlink() and layout.serving.resolve() == first.folder / "serving.duckdb"
    assert (layout.exports / "marts").is_symlink()
    assert (layout.exports / "marts" / "fct_ar_invoices.parquet").resolve().parent == first.folder / "exports" / "marts"
    (row,) = _read(layout.serving, "select publication_id, schema_version, exports, run_id from meta.publication")
    assert row[0] == first.id and row[1] == pub.SCHEMA_VERSION and row[3] == "run-aaaaaaaa"
    manifest = pub.read_manifest(first.folder)
    files = {f["path"]: f for f in manifest["files"]}
    assert sorted(row[2]) == sorted(p for p in files if p.startswith("exports/")), "meta.publication names its exports"
    assert "exports/marts/ar_kpis_monthly.xlsx" in files and "serving.duckdb" in files
    for path, entry in files.items():
        assert _digest(first.folder / path) == entry["sha256"], path

    second = _publish(layout, _warehouse(tmp_path / "wh.duckdb", "4.00", with_ml=True), "run-bbbbbbbb")
    assert second.id != first.id and layout.serving.resolve() == second.folder / "serving.duckdb"
    assert _read(layout.serving, "select cast(open_amount as varchar) from marts.fct_ar_invoices") == [("4.00",)]
    assert (layout.exports / "ml" / "invoice_risk_scores.parquet").exists(), "a new schema gets its link"
    assert first.folder.is_dir(), "the previous publication is kept for rollback"

    _publish(layout, _warehouse(tmp_path / "wh3.duckdb", "3.00"), "run-cccccccc", keep=1)
    assert sorted(p.name for p in layout.publications.iterdir()) == [pub.current(layout).name]
    assert not (layout.exports / "ml").exists() and not (layout.exports / "ml").is_symlink(), "dropped schema unlinked"


def test_a_publish_that_fails_half_way_changes_nothing_and_is_cleaned_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = HomeLayout(tmp_path / "home")
    _publish(layout, _warehouse(tmp_path / "wh.duckdb", "10.00"), "run-aaaaaaaa")
    (layout.exports / "exceptions").mkdir()
    (layout.exports / "exceptions" / "owner.csv").write_text("rule\n")
    before = {
        "serving": _digest(layout.serving),
        "export": _digest(layout.exports / "marts" / "fct_ar_invoices.parquet"),
        "link": str(layout.published.readlink()),
    }

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pub, "write_exports", disk_full)
    with pytest.raises(OSError, match="No space"):
        _publish(layout, _warehouse(tmp_path / "wh.duckdb", "4.00"), "run-bbbbbbbb")
    after = {
        "serving": _digest(layout.serving),
        "export": _digest(layout.exports / "marts" / "fct_ar_invoices.parquet"),
        "link": str(layout.published.readlink()),
    }
    assert after == before
    partial = list(layout.publications.glob("*.partial"))
    assert len(partial) == 1
    (layout.home / "published.link-999").symlink_to("publications/nowhere")
    (layout.exports / "marts.link-999").symlink_to("nowhere")

    removed = pub.clean_interrupted(layout)

    assert sorted(removed) == sorted(
        [f"publications/{partial[0].name}", "published.link-999", "exports/marts.link-999"]
    )
    assert not partial[0].exists() and (layout.exports / "exceptions" / "owner.csv").exists()
    assert _digest(layout.serving) == before["serving"]
    assert pub.clean_interrupted(layout) == []


def _legacy_home(tmp_path: Path) -> HomeLayout:
    """A home as the release before publications left it: serving.duckdb and exports/<schema>/ in place."""
    layout = HomeLayout(tmp_path / "home")
    layout.home.mkdir()
    tables = publish(_warehouse(tmp_path / "wh.duckdb", "10.00"), layout.serving, AS_OF, "run-legacy01")
    write_exports(layout.serving, layout.exports, tables)
    (layout.exports / "exceptions").mkdir()
    (layout.exports / "exceptions" / "owner.csv").write_text("rule\n")
    return layout


def test_a_home_of_the_previous_release_is_moved_into_a_publication_untouched(tmp_path: Path) -> None:
    layout = _legacy_home(tmp_path)
    serving_bytes = _digest(layout.serving)
    export_bytes = _digest(layout.exports / "marts" / "fct_ar_invoices.parquet")

    notes = pub.migrate_legacy(layout)

    assert len(notes) == 1 and "earlier release" in notes[0]
    assert layout.serving.is_symlink() and _digest(layout.serving) == serving_bytes
    assert (layout.exports / "marts").is_symlink()
    assert _digest(layout.exports / "marts" / "fct_ar_invoices.parquet") == export_bytes
    assert (layout.exports / "exceptions" / "owner.csv").exists(), "the owners' files stay where they were"
    folder = pub.current(layout)
    assert folder.name.endswith("-run-lega") and pub.read_manifest(folder)["schema_version"] == 1
    assert pub.migrate_legacy(layout) == [], "done once"
    _publish(layout, _warehouse(tmp_path / "wh.duckdb", "4.00"), "run-newrelease")
    assert _read(layout.serving, "select schema_version from meta.publication") == [(pub.SCHEMA_VERSION,)]


def test_a_migration_interrupted_half_way_is_finished_not_discarded(tmp_path: Path) -> None:
    layout = _legacy_home(tmp_path)
    serving_bytes = _digest(layout.serving)
    pending = layout.publications / f"20261127T060000-run-lega{pub.LEGACY}"
    (pending / "exports").mkdir(parents=True)
    layout.serving.rename(pending / "serving.duckdb")  # killed after the first move

    assert pub.clean_interrupted(layout) == [], "a half-done migration is not a leftover"
    pub.migrate_legacy(layout)

    assert _digest(layout.serving) == serving_bytes
    assert (layout.exports / "marts" / "fct_ar_invoices.parquet").exists()
    assert pub.current(layout).name == "20261127T060000-run-lega"


READER = textwrap.dedent(
    """
    import sys, time, duckdb
    serving = sys.argv[1]
    held = duckdb.connect(serving, read_only=True)  # a BI server keeps this one open all along
    first = held.execute("select publication_id from meta.publication").fetchone()[0]
    seen = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        con = duckdb.connect(serving, read_only=True)  # what a pool does for each new query
        current = con.execute("select publication_id from meta.publication").fetchone()[0]
        con.close()
        if current != seen:
            print(f"{time.time():.3f} {current}", flush=True)
            seen = current
        if current != first:
            break
        time.sleep(0.05)
    still = held.execute("select publication_id from meta.publication").fetchone()[0]
    print(f"held {still}", flush=True)
    """
)


def test_a_long_lived_reader_sees_a_new_publication_on_its_next_connection(tmp_path: Path) -> None:
    """DuckDB hands a process's new connections the database instance already open for the same
    path; a reader holding one connection would never see a file replaced in place. Through the
    publication link, the next connection opens the new publication."""
    layout = HomeLayout(tmp_path / "home")
    first = _publish(layout, _warehouse(tmp_path / "wh.duckdb", "10.00"), "run-aaaaaaaa")
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(layout.serving)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert reader.stdout.readline().split()[1] == first.id
    second = _publish(layout, _warehouse(tmp_path / "wh.duckdb", "4.00"), "run-bbbbbbbb", keep=1)
    switched = time.time()
    seen_at, seen = reader.stdout.readline().split()
    held = reader.stdout.readline().strip()  # read line by line: communicate() would skip what readline buffered
    assert reader.wait(timeout=60) == 0, reader.stderr.read()
    assert seen == second.id
    assert float(seen_at) - switched < 1.0, "seen on the next connection, within a second"
    assert held == f"held {first.id}", "an open connection keeps its snapshot, even once pruned"
    assert not first.folder.exists()


def test_manifest_is_valid_json_with_every_file(tmp_path: Path) -> None:
    layout = HomeLayout(tmp_path / "home")
    made = _publish(layout, _warehouse(tmp_path / "wh.duckdb", "10.00"), "run-aaaaaaaa")
    manifest = json.loads((made.folder / pub.MANIFEST).read_text())
    on_disk = sorted(p.relative_to(made.folder).as_posix() for p in made.folder.rglob("*") if p.is_file())
    assert sorted(f["path"] for f in manifest["files"]) == [p for p in on_disk if p != pub.MANIFEST]
    assert manifest["publication_id"] == made.id and manifest["as_of_date"] == AS_OF.isoformat()


def test_a_home_copied_without_its_links_is_put_back_together(tmp_path: Path) -> None:
    """`cp -rL` (or copytree without symlinks) turns the links into copies: serving.duckdb a file,
    published and exports/<schema> folders. The next start makes it a home with links again."""
    layout = HomeLayout(tmp_path / "home")
    made = _publish(layout, _warehouse(tmp_path / "wh.duckdb", "10.00"), "run-aaaaaaaa")
    copied = HomeLayout(tmp_path / "copy")
    shutil.copytree(layout.home, copied.home, symlinks=False)
    assert not copied.serving.is_symlink() and not copied.published.is_symlink()
    serving_bytes = _digest(copied.serving)

    pub.migrate_legacy(copied)

    assert copied.serving.is_symlink() and _digest(copied.serving) == serving_bytes
    assert copied.published.is_symlink() and (copied.exports / "marts").is_symlink()
    assert pub.current(copied) != copied.publications / made.id, "beside the copy of the folder it came from"
    assert pub.read_manifest(pub.current(copied))["schema_version"] == 1
    (copied.publications / "x").mkdir()
    (copied.publications / "x-2").mkdir()
    assert pub._free_id(copied.publications, "x") == "x-3" and pub._free_id(copied.publications, "y") == "y"
    _publish(copied, _warehouse(tmp_path / "wh.duckdb", "4.00"), "run-bbbbbbbb")
    assert _read(copied.serving, "select cast(open_amount as varchar) from marts.fct_ar_invoices") == [("4.00",)]


def test_an_earlier_day_is_published_beside_the_current_one_unless_promoted(tmp_path: Path) -> None:
    layout = HomeLayout(tmp_path / "home")
    earlier, later = AS_OF - dt.timedelta(days=30), AS_OF + dt.timedelta(days=1)
    assert not pub.publishes_dated(layout, earlier, promote=False), "before the first publication nothing is dated"
    current = _publish(layout, _warehouse(tmp_path / "wh.duckdb", "10.00"), "run-aaaaaaaa", keep=1)
    before = _digest(layout.serving)
    # The boundary: the current day itself and a later one replace the current publication.
    assert not pub.publishes_dated(layout, AS_OF, promote=False)
    assert not pub.publishes_dated(layout, later, promote=False)
    assert not pub.publishes_dated(layout, earlier, promote=True)
    assert pub.publishes_dated(layout, earlier, promote=False)

    dated = pub.publish_unit(
        layout, _warehouse(tmp_path / "old.duckdb", "7.00"), earlier, "run-bbbbbbbb", None, 1, dated=True
    )
    assert _digest(layout.serving) == before and pub.current(layout) == current.folder, "the current one is untouched"
    link = pub.dated_link(layout, earlier)
    assert link.is_symlink() and link.resolve() == dated.folder
    assert _read(link / "serving.duckdb", "select cast(open_amount as varchar) from marts.fct_ar_invoices") == [
        ("7.00",)
    ]
    assert (link / "exports" / "marts" / "fct_ar_invoices.parquet").exists()
    assert pub.serving_for(layout, earlier) == link / "serving.duckdb"
    assert pub.serving_for(layout, AS_OF) == layout.serving and pub.serving_for(layout, None) == layout.serving
    assert pub.serving_for(layout, later) == layout.serving, "a day with no publication of its own reads the current"

    # Pruning (keep=1) spares the dated publication; a new current one replaces only the current.
    newer = _publish(layout, _warehouse(tmp_path / "wh2.duckdb", "12.00"), "run-cccccccc", keep=1)
    assert dated.folder.is_dir() and not current.folder.exists() and pub.current(layout) == newer.folder
    # Promoted, the same day becomes the current publication.
    promoted = pub.publish_unit(layout, _warehouse(tmp_path / "old.duckdb", "7.00"), earlier, "run-dddddddd", None, 3)
    assert pub.current(layout) == promoted.folder and pub.current_as_of(layout) == earlier
    assert pub.serving_for(layout, earlier) == layout.serving
