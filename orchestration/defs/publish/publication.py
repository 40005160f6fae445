"""A publication is one unit: the serving file and the exports built from it, switched together.

Each publish builds a complete folder ``publications/<id>.partial/`` (``serving.duckdb``,
``exports/<schema>/``, ``manifest.json``), renames it to ``publications/<id>/`` when every file
is written and synced, and then switches the link ``published`` to it with one atomic rename. The
paths people and tools use are links through it and never change::

    serving.duckdb  -> published/serving.duckdb
    exports/marts   -> ../published/exports/marts        (one link per published schema)
    published       -> publications/20261127T060312-1a2b3c4d

So a reader sees either the previous publication or the new one, never serving from one run and
exports from another; a publish killed at any point before the switch leaves the previous
publication in place, byte for byte, and its leftovers (``*.partial``) are removed by the next
run (:func:`clean_interrupted`). ``meta.publication`` in the serving file names its publication
id, its schema version and the export files that belong to it; ``manifest.json`` lists every
file with its size and SHA-256.

BI freshness: DuckDB keeps one database instance per file path in a process and hands it to every
new connection while any connection to it is open. Through a link, the path a new connection
opens resolves to the new publication's file, so a long-lived process (a BI server with a
connection pool) sees a new publication on its next new connection, immediately after the
switch; a connection kept open keeps reading the publication it opened (a consistent snapshot),
whose files stay readable after it is pruned (POSIX keeps open files alive). The previous
``retention.publications_kept`` - 1 publications stay on disk for rollback.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration.defs.publish.descriptions import TableDocs
from orchestration.defs.publish.serving import (
    CONSUMER_SCHEMAS,
    STORAGE_VERSION,
    PublishedTable,
    Reusable,
    publication_as_of,
    publish,
    write_exports,
)
from orchestration.privacy import PublishPrivacy
from orchestration.settings import HomeLayout

#: Version of what a publication holds. 1: the release before publications (one serving file
#: replaced in place, exports beside it; ``meta.publication`` without an id); 2: publication
#: folders, ``meta.publication`` with publication_id, schema_version and exports; 3: the tables
#: of ``EXPORT_PARTS`` exported as a folder of monthly files instead of one file (decision P2).
SCHEMA_VERSION = 3
MANIFEST = "manifest.json"
PARTIAL = ".partial"
#: A home of the release before publications is moved into a folder with this suffix first, so a
#: migration interrupted half-way is finished, never mistaken for a leftover and deleted.
LEGACY = ".legacy"


@dataclass(frozen=True)
class Publication:
    id: str
    folder: Path
    tables: list[PublishedTable]


def publication_id(run_id: str, at: dt.datetime | None = None) -> str:
    """Sortable and unique: the time of publishing, then the run id's first 8 characters."""
    return f"{(at or dt.datetime.now()):%Y%m%dT%H%M%S}-{run_id[:8]}"


def current(layout: HomeLayout) -> Path | None:
    """The folder of the current publication, or None before the first."""
    link = layout.published
    return link.resolve() if link.is_symlink() and link.resolve().is_dir() else None


@dataclass(frozen=True)
class ServingFormat:
    """How the serving file is written for its readers: ``serving:`` settings, dbt docs as comments,
    personal columns rendered by the privacy settings."""

    storage_version: str = STORAGE_VERSION
    docs: dict[tuple[str, str], TableDocs] | None = None
    privacy: PublishPrivacy | None = None


def current_as_of(layout: HomeLayout) -> dt.date | None:
    """The as-of date of the current publication (``meta.publication``), None before the first."""
    serving = layout.serving
    if current(layout) is None or not serving.exists():
        return None
    con = duckdb.connect(str(serving), read_only=True)
    try:
        return publication_as_of(con)
    finally:
        con.close()


def publishes_dated(layout: HomeLayout, as_of: dt.date, promote: bool) -> bool:
    """Whether a publication as of ``as_of`` goes beside the current one instead of replacing it:
    a rebuild of a day earlier than the current publication's, unless promoted explicitly."""
    now = current_as_of(layout)
    return not promote and now is not None and as_of < now


def dated_link(layout: HomeLayout, as_of: dt.date) -> Path:
    """Where a dated publication is read: ``dated/<as_of>/serving.duckdb`` and ``.../exports``."""
    return layout.dated / as_of.isoformat()


def serving_for(layout: HomeLayout, as_of: dt.date | None) -> Path:
    """The serving file that holds ``as_of``: the current one, unless a dated publication of that
    day sits beside a current one of another day."""
    dated = dated_link(layout, as_of) / "serving.duckdb" if as_of else None
    if dated is not None and dated.exists() and current_as_of(layout) != as_of:
        return dated
    return layout.serving


def _link_dated(layout: HomeLayout, folder: Path, as_of: dt.date) -> None:
    layout.dated.mkdir(parents=True, exist_ok=True)
    _relink(dated_link(layout, as_of), f"../{folder.parent.name}/{folder.name}")
    _sync_dir(layout.dated)


def _dated_targets(layout: HomeLayout) -> set[Path]:
    """Publication folders a dated link points to (kept until another publication of that day)."""
    if not layout.dated.is_dir():
        return set()
    return {link.resolve() for link in layout.dated.iterdir() if link.is_symlink()}


def reusable(layout: HomeLayout) -> Reusable | None:
    """What the current publication offers the next one (``Reusable``): None before the first
    publication, or when its manifest predates table fingerprints."""
    folder = current(layout)
    if folder is None or not (folder / MANIFEST).exists():
        return None
    manifest = read_manifest(folder)
    if not {"tables", "storage_version", "duckdb_version"} <= manifest.keys():
        return None
    return Reusable(
        serving=folder / "serving.duckdb",
        exports=folder / "exports",
        storage_version=manifest["storage_version"],
        duckdb_version=manifest["duckdb_version"],
        fingerprints={key: table["fingerprint"] for key, table in manifest["tables"].items()},
        parts={key: table["parts"] for key, table in manifest["tables"].items() if "parts" in table},
    )


def build_publication(
    layout: HomeLayout,
    warehouse: Path,
    as_of: dt.date,
    run_id: str,
    memory_limit: str | None = None,
    serving_format: ServingFormat = ServingFormat(),
    progress: Callable[[str], None] = lambda _line: None,
) -> Publication:
    """Write a complete publication folder from the warehouse; nothing a reader sees changes yet.
    What did not change since the current publication is taken from it (decision P1)."""
    pub_id = publication_id(run_id)
    partial = layout.publications / f"{pub_id}{PARTIAL}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    serving = partial / "serving.duckdb"
    reuse = reusable(layout)
    tables = publish(
        warehouse,
        serving,
        as_of,
        run_id,
        memory_limit,
        storage_version=serving_format.storage_version,
        docs=serving_format.docs,
        progress=progress,
        privacy=serving_format.privacy,
        reuse=reuse,
    )
    write_exports(serving, partial / "exports", tables, memory_limit, progress=progress, reuse=reuse)
    exports = sorted(p.relative_to(partial).as_posix() for p in (partial / "exports").rglob("*") if p.is_file())
    _stamp(serving, pub_id, exports)
    described = {
        "run_id": run_id,
        "as_of_date": as_of.isoformat(),
        "storage_version": serving_format.storage_version,
        "duckdb_version": duckdb.__version__,
        "tables": {t.key: _described(t) for t in tables},
    }
    _write_manifest(partial, pub_id, SCHEMA_VERSION, described, reuse.serving.parent if reuse else None)
    _sync_tree(partial)
    final = layout.publications / pub_id
    partial.rename(final)
    _sync_dir(layout.publications)
    return Publication(pub_id, final, tables)


def _described(table: PublishedTable) -> dict[str, object]:
    """A table's entry in the manifest: rows, fingerprint, whether it was reused, and its parts'
    fingerprints when it is exported in parts (what the next publication compares with)."""
    entry: dict[str, object] = {"rows": table.rows, "fingerprint": table.fingerprint, "reused": table.reused}
    if table.parts:
        entry["parts"] = table.parts
    return entry


def _stamp(serving: Path, pub_id: str, exports: list[str]) -> None:
    """Name the publication, its schema version and its export files in ``meta.publication``."""
    con = duckdb.connect(str(serving))
    try:
        con.execute(
            "create or replace table meta.publication as select *, ? as publication_id, ? as schema_version, "
            "?::varchar[] as exports from meta.publication",
            [pub_id, SCHEMA_VERSION, exports],
        )
        con.execute("checkpoint")
    finally:
        con.close()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _known_digests(folder: Path, earlier: Path | None) -> dict[str, str]:
    """SHA-256 of the files of ``folder`` that are hard links to files of the publication
    ``earlier`` (the same bytes), from its manifest: a linked file is not read again."""
    if earlier is None or not (earlier / MANIFEST).exists():
        return {}
    known = {}
    for entry in read_manifest(earlier)["files"]:
        mine, theirs = folder / entry["path"], earlier / entry["path"]
        if mine.is_file() and theirs.is_file() and os.path.samefile(mine, theirs):
            known[entry["path"]] = entry["sha256"]
    return known


def _write_manifest(
    folder: Path, pub_id: str, schema_version: int, extra: dict[str, object], earlier: Path | None = None
) -> None:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)
    known = _known_digests(folder, earlier)
    entries = []
    for path in files:
        relative = path.relative_to(folder).as_posix()
        digest = known.get(relative) or _sha256(path)
        entries.append({"path": relative, "bytes": path.stat().st_size, "sha256": digest})
    manifest = {
        "publication_id": pub_id,
        "schema_version": schema_version,
        **extra,
        "published_at": dt.datetime.now().isoformat(timespec="seconds"),
        "files": entries,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def read_manifest(folder: Path) -> dict:
    return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))


def _sync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_tree(folder: Path) -> None:
    """Flush every file and folder to disk, so the rename that follows never points at data a
    power cut could still take back."""
    for path in sorted(folder.rglob("*"), reverse=True):
        if path.is_file():
            with path.open("rb+") as handle:
                os.fsync(handle.fileno())
        else:
            _sync_dir(path)
    _sync_dir(folder)


def _relink(link: Path, target: str) -> None:
    """Point ``link`` at ``target`` with one rename (a link is never missing in between)."""
    if link.is_symlink() and os.readlink(link) == target:
        return
    temporary = link.with_name(f"{link.name}.link-{os.getpid()}")
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(target)
    os.replace(temporary, link)


def promote(layout: HomeLayout, folder: Path) -> None:
    """Make a complete publication folder the current one: one rename switches serving and exports."""
    schemas = sorted(p.name for p in (folder / "exports").iterdir() if p.is_dir())
    layout.exports.mkdir(parents=True, exist_ok=True)
    for schema in schemas:  # links through `published`: dangling only until the switch below
        _relink(layout.exports / schema, f"../{layout.published.name}/exports/{schema}")
    _relink(layout.published, f"{folder.parent.name}/{folder.name}")
    _relink(layout.serving, f"{layout.published.name}/serving.duckdb")
    _sync_dir(layout.home)
    for link in layout.exports.iterdir():
        if link.is_symlink() and link.name not in schemas:
            link.unlink()


def prune_publications(layout: HomeLayout, keep: int) -> list[str]:
    """Remove complete publications beyond the newest ``keep``, never the current one nor one a
    dated link points to."""
    if not layout.publications.is_dir():
        return []
    now = current(layout)
    dated = _dated_targets(layout)
    complete = sorted(
        (p for p in layout.publications.iterdir() if p.is_dir() and (p / MANIFEST).exists() and "." not in p.name),
        key=lambda p: p.name,
        reverse=True,
    )
    removed = []
    for old in complete[keep:]:
        if old != now and old.resolve() not in dated:
            shutil.rmtree(old, ignore_errors=True)
            removed.append(old.name)
    return removed


def clean_interrupted(layout: HomeLayout) -> list[str]:
    """Remove what a publish killed half-way left behind; returns what was removed."""
    leftovers = list(layout.home.glob("*.link-*")) if layout.home.is_dir() else []
    if layout.publications.is_dir():
        leftovers += list(layout.publications.glob(f"*{PARTIAL}"))
    if layout.exports.is_dir():  # links being replaced; folders the first release swapped in place
        leftovers += [p for p in layout.exports.iterdir() if ".link-" in p.name or p.suffix in (".new", ".old")]
    leftovers += [p for p in [layout.home / "serving.duckdb.pending"] if p.exists()]
    for path in leftovers:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return [str(p.relative_to(layout.home)) for p in leftovers]


def migrate_legacy(layout: HomeLayout) -> list[str]:
    """Move the publication of a home made before publications (a plain ``serving.duckdb`` and
    ``exports/<schema>/`` folders) into a publication folder and link it; returns what was done.

    Every step is a rename that can be repeated, into ``publications/<id>.legacy``, so a migration
    interrupted half-way is finished by the next start. The serving file's bytes are not touched.
    """
    pending = sorted(layout.publications.glob(f"*{LEGACY}")) if layout.publications.is_dir() else []
    serving = layout.serving
    legacy_file = serving.exists() and not serving.is_symlink()
    if not pending and not legacy_file:
        return []
    folder = pending[0] if pending else layout.publications / f"{_legacy_id(serving)}{LEGACY}"
    (folder / "exports").mkdir(parents=True, exist_ok=True)
    if legacy_file:
        os.replace(serving, folder / "serving.duckdb")
    for schema in CONSUMER_SCHEMAS:
        old = layout.exports / schema
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(folder / "exports" / schema, ignore_errors=True)
            old.rename(folder / "exports" / schema)
    if layout.published.exists() and not layout.published.is_symlink():
        shutil.rmtree(layout.published)  # a copy of a publication folder, made by copying the home without links
    pub_id = _free_id(layout.publications, folder.name.removesuffix(LEGACY))
    _write_manifest(folder, pub_id, 1, {"migrated_from": "a home of the release before publication folders"})
    final = layout.publications / pub_id
    folder.rename(final)
    promote(layout, final)
    return [f"moved the publication of an earlier release into {final.relative_to(layout.home)} and linked it"]


def _free_id(publications: Path, pub_id: str) -> str:
    """``pub_id``, or ``pub_id-2``, ``-3``... when a folder of that name exists (a home copied
    without its links holds a copy of the publication the link pointed to)."""
    candidate, n = pub_id, 1
    while (publications / candidate).exists():
        n += 1
        candidate = f"{pub_id}-{n}"
    return candidate


def _legacy_id(serving: Path) -> str:
    """The id of a legacy publication: when it was published and by which run, from its own
    ``meta.publication`` (else the file's time)."""
    try:
        con = duckdb.connect(str(serving), read_only=True)
        try:
            published_at, run_id = con.execute("select published_at, run_id from meta.publication").fetchall()[0]
        finally:
            con.close()
        return publication_id(str(run_id), published_at)
    except (duckdb.Error, IndexError):
        return publication_id("legacy", dt.datetime.fromtimestamp(serving.stat().st_mtime))


def publish_unit(
    layout: HomeLayout,
    warehouse: Path,
    as_of: dt.date,
    run_id: str,
    memory_limit: str | None,
    keep: int,
    serving_format: ServingFormat = ServingFormat(),
    progress: Callable[[str], None] = lambda _line: None,
    dated: bool = False,
) -> Publication:
    """Build a publication from the warehouse and make it the current one (``dated``: link it as
    ``dated/<as_of>`` and leave the current one as it is); then prune old ones."""
    migrate_legacy(layout)  # a no-op once the home was claimed; publishing never writes over a legacy file
    publication = build_publication(layout, warehouse, as_of, run_id, memory_limit, serving_format, progress)
    if dated:
        _link_dated(layout, publication.folder, as_of)
    else:
        promote(layout, publication.folder)
    prune_publications(layout, keep)
    return publication
