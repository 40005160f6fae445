"""Masking, keyed hashes and pseudonyms: the Python and the SQL renderings agree, and what each
shows (and does not show) of a personal value."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from expectations.contracts import ENTITIES
from expectations.privacy import (
    PERSONAL_KINDS,
    TREATMENTS,
    keyed_hash,
    mask,
    pseudonym,
    pseudonym_sql,
    shown,
    shown_sql,
    tombstone_hash,
    tombstone_hash_sql,
)
from orchestration.config import ConfigError, load_config
from orchestration.privacy import KEY_SQL, PrivacyConfig, PublishPrivacy, personal_columns, pseudonym_key, set_key
from tests.published_home import PublishedHome

KEY = "k3y-for-tests"


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        ("jane.doe@example.com", "email", "j***@example.com"),
        ("no-at-sign", "email", "n***"),
        ("@example.com", "email", "***@example.com"),
        ("Jane  van Doe", "name", "J*** v*** D***"),
        ("Élodie", "name", "É***"),
        ("   ", "name", ""),
        ("+353 792 4374", "phone", "***74"),
        ("123", "phone", "***"),
        ("Called Jane at +353 792 4374", "text", "[masked]"),
        (None, "email", None),
    ],
)
def test_mask_shows_the_shape_not_the_value(value: str | None, kind: str, expected: str | None) -> None:
    assert mask(value, kind) == expected  # type: ignore[arg-type]


def test_keyed_hash_depends_on_the_key() -> None:
    assert keyed_hash("jane@example.com", KEY) != keyed_hash("jane@example.com", KEY + "x")
    assert keyed_hash("jane@example.com", KEY).startswith("h:") and len(keyed_hash("a", KEY)) == 18


def test_pseudonyms_are_stable_and_keep_an_email_shaped_like_one() -> None:
    one = pseudonym("Jane@Example.com ", "email", KEY)
    assert one == pseudonym("jane@example.com", "email", KEY)
    assert one.endswith("@erased.invalid") and "jane" not in one
    assert pseudonym("anything at all", "text", KEY) == "[erased]"
    assert tombstone_hash(" JANE@example.com", "email", KEY) == tombstone_hash("jane@example.com", "email", KEY)


_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)


@settings(max_examples=150, deadline=None)
@given(values=st.lists(st.one_of(st.none(), _text, st.emails()), min_size=1, max_size=8))
def test_sql_renderings_agree_with_python(values: list[str | None]) -> None:
    con = duckdb.connect()
    set_key(con, KEY)
    con.execute("create table v (i integer, x varchar)")
    con.executemany("insert into v values (?, ?)", list(enumerate(values)))
    for kind in PERSONAL_KINDS:
        for treatment in TREATMENTS:
            got = [
                r[0]
                for r in con.execute(f"select {shown_sql('x', kind, treatment, KEY_SQL)} from v order by i").fetchall()
            ]
            assert got == [shown(v, kind, treatment, KEY) for v in values], (kind, treatment)


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.text(alphabet=st.characters(max_codepoint=126)), st.emails()), min_size=1)
)
def test_sql_pseudonyms_and_tombstones_agree_with_python(values: list[str | None]) -> None:
    """Over ASCII text and e-mail addresses (``lower`` of DuckDB and Python may differ on rare
    non-ASCII letters; tombstones are matched in DuckDB only)."""
    con = duckdb.connect()
    set_key(con, KEY)
    con.execute("create table v (i integer, x varchar)")
    con.executemany("insert into v values (?, ?)", list(enumerate(values)))
    for kind in PERSONAL_KINDS:
        got = [r[0] for r in con.execute(f"select {pseudonym_sql('x', kind, KEY_SQL)} from v order by i").fetchall()]
        assert got == [pseudonym(v, kind, KEY) for v in values], kind
        got = [
            r[0] for r in con.execute(f"select {tombstone_hash_sql('x', kind, KEY_SQL)} from v order by i").fetchall()
        ]
        assert got == [None if v is None else tombstone_hash(v, kind, KEY) for v in values], kind


def test_the_contract_marks_contacts_notes_and_payers_personal() -> None:
    personal = {f"{e.name}.{c}": k for e in ENTITIES.values() for c, k in e.personal.items()}
    assert personal == {
        "crm_contacts.name": "name",
        "crm_contacts.email": "email",
        "crm_contacts.phone": "phone",
        "activities.text": "text",
        "activities.author": "staff",
        "settlements.counterparty": "name",
        "bank_lines.counterparty": "name",
    }


def test_privacy_settings_name_personal_columns_only(tmp_path: Path) -> None:
    assert PrivacyConfig(columns={"crm_contacts.email": "hash"}).treatment("marts", "t", "c", "crm_contacts.email") == (
        "hash"
    )
    specific = PrivacyConfig(columns={"crm_contacts.email": "hash", "marts.t.c": "keep"})
    assert specific.treatment("marts", "t", "c", "crm_contacts.email") == "keep"
    assert specific.treatment("marts", "u", "c", "crm_contacts.email") == "hash"
    assert specific.treatment("marts", "u", "c", "crm_contacts.name") == "mask"
    sample = Path(__file__).resolve().parent.parent / "seeds" / "sample" / "inflow.yml"
    bad = tmp_path / "inflow.yml"
    bad.write_text(sample.read_text() + "privacy: {columns: {customers.name: hash}}\n")
    with pytest.raises(ConfigError, match="customers.name.*is not a personal column"):
        load_config(bad)
    bad.write_text(sample.read_text() + "privacy: {default: show}\n")
    with pytest.raises(ConfigError, match="privacy.default"):
        load_config(bad)


def _manifest(tmp_path: Path, origin: str) -> Path:
    node = {
        "resource_type": "model",
        "schema": "marts",
        "name": "dim_x",
        "columns": {"contact_email": {"meta": {"personal": origin}}, "customer_id": {"meta": {}}},
    }
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"nodes": {"model.inflow.dim_x": node}}))
    return path


def test_published_personal_columns_come_from_the_manifest_and_fail_closed(tmp_path: Path) -> None:
    cols = personal_columns(_manifest(tmp_path, "crm_contacts.email"))
    assert [(c.schema, c.table, c.column, c.kind) for c in cols] == [("marts", "dim_x", "contact_email", "email")]
    with pytest.raises(ValueError, match="not a personal contract column"):
        personal_columns(_manifest(tmp_path, "customers.name"))
    with pytest.raises(RuntimeError, match="cannot read the dbt manifest"):
        personal_columns(tmp_path / "missing.json")
    with pytest.raises(ValueError, match="no published model declares personal"):
        PublishPrivacy.load(
            _manifest(tmp_path, "crm_contacts.email"), PrivacyConfig(columns={"marts.dim_x.other": "keep"}), tmp_path
        )


def test_publish_renders_each_personal_column_by_its_treatment(tmp_path: Path) -> None:
    con = duckdb.connect()
    con.execute("create table dim_x as select 'jane@example.com' as contact_email, 'C1' as customer_id")
    for treatment, expected in (("mask", "j***@example.com"), ("keep", "jane@example.com")):
        privacy = PublishPrivacy.load(
            _manifest(tmp_path, "crm_contacts.email"), PrivacyConfig(default=treatment), tmp_path / "home"
        )
        privacy.prepare(con)
        con.execute("create schema if not exists marts")
        con.execute("create or replace table marts.dim_x as select * from main.dim_x")
        select = privacy.select(con, "memory", "marts", "dim_x")
        assert con.execute(f"select {select} from marts.dim_x").fetchall() == [(expected, "C1")]
    hashed = PublishPrivacy.load(
        _manifest(tmp_path, "crm_contacts.email"), PrivacyConfig(default="hash"), tmp_path / "home"
    )
    hashed.prepare(con)
    got = con.execute(f"select {hashed.select(con, 'memory', 'marts', 'dim_x')} from marts.dim_x").fetchone()
    assert got == (keyed_hash("jane@example.com", pseudonym_key(tmp_path / "home")), "C1")
    assert hashed.key not in select  # the key travels as a variable, never in the statement


def test_the_home_key_is_made_once_and_owner_only(tmp_path: Path) -> None:
    key = pseudonym_key(tmp_path)
    assert key == pseudonym_key(tmp_path) and len(key) == 64
    path = tmp_path / "secrets" / "pseudonym.key"
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700
    assert list(path.parent.iterdir()) == [path]


# --- the publication of a generated company ------------------------------------------------------


def _varchar_cells(db: Path) -> set[str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        cells: set[str] = set()
        for schema, table, column in con.execute(
            "select schema_name, table_name, column_name from duckdb_columns() where data_type = 'VARCHAR' "
            "and table_name in (select table_name from duckdb_tables())"
        ).fetchall():
            cells |= {
                v for (v,) in con.execute(f'select distinct "{column}" from "{schema}"."{table}"').fetchall() if v
            }
        return cells
    finally:
        con.close()


@pytest.mark.pipeline
def test_nothing_published_holds_a_personal_value(published_home: PublishedHome) -> None:
    """Every contact name, e-mail and phone and every note text the sources hold is absent from the
    serving file (any text column, also inside JSON payloads) and from every export and report
    file; a value that a source also holds in a column that is not personal (a collector who is
    also a contact's namesake) is left out of the search. This is what catches a published column
    that carries personal data without declaring it (``meta.personal``)."""
    con = duckdb.connect(str(published_home.home / "warehouse.duckdb"), read_only=True)
    try:
        personal = {
            v
            for (v,) in con.execute(
                "select name from raw.crm_contacts union select email from raw.crm_contacts "
                "union select phone from raw.crm_contacts union select text from raw.activities"
            ).fetchall()
            if v
        }
        ordinary = {
            v
            for (v,) in con.execute(
                "select owner from raw.crm_accounts union select collector from raw.crm_accounts "
                "union select name from raw.customers union select author from raw.activities"
            ).fetchall()
            if v
        }
        published_before = con.execute(
            "select count(*) from marts.dim_customers where billing_contact_email is not null"
        ).fetchone()[0]
    finally:
        con.close()
    searched = sorted(personal - ordinary)
    assert len(searched) > 100 and published_before > 0
    cells = _varchar_cells(published_home.home / "serving.duckdb")
    blob = "\n".join(cells)
    assert [v for v in searched if v in blob] == []
    # exports/<schema> are links into the publication folder, whose files are scanned themselves
    home = published_home.home
    files = [p for sub in ("exports", "reports", "publications") for p in (home / sub).rglob("*") if p.is_file()]
    assert len(files) > 20
    for path in files:
        data = path.read_bytes()
        if path.suffix == ".parquet":
            con = duckdb.connect()
            data = "\n".join(map(str, con.execute(f"select * from read_parquet('{path}')").fetchall())).encode()
            con.close()
        leaked = [v for v in searched if v.encode() in data]
        assert leaked == [], f"{path}: {leaked[:3]}"
    # The masks are there instead: the billing contact's e-mail as j***@domain.
    assert any(c.count("@") == 1 and c.split("@")[0].endswith("***") for c in cells)
