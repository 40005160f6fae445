"""``inflow erase`` end to end: afterwards no file under the home holds the erased values, the
financial rows are untouched, the erasure is in the audit trail without its values, and the next
export does not bring the person back."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import duckdb
import pytest

from orchestration.audit import AuditTrail
from orchestration.defs.transform.spark import write_lake
from orchestration.erase import remaining
from orchestration.settings import Settings
from tests.published_home import PublishedHome


def _inflow(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "orchestration.cli", *args], capture_output=True, text=True, timeout=900
    )


def _rows(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def _files_holding(home: Path, values: list[str]) -> list[str]:
    """The test's own search, independent of the erasure's: every file's bytes (ZIP members too)
    for each value as UTF-8 and lower-cased, and every text column of every DuckDB file."""
    import zipfile

    needles = {v.encode() for v in values} | {v.lower().encode() for v in values}
    found = []
    for path in (p for p in home.rglob("*") if p.is_file() and not p.is_symlink()):
        data = path.read_bytes()
        blobs = [data]
        if data.startswith(b"PK\x03\x04"):
            with zipfile.ZipFile(path) as archive:
                blobs += [archive.read(i) for i in archive.infolist()]
        if any(n in blob for n in needles for blob in blobs):
            found.append(str(path.relative_to(home)))
        elif data[8:12] == b"DUCK":
            con = duckdb.connect()
            con.execute("attach ? as f (read_only)", [str(path)])
            for schema, table, column in con.execute(
                "select schema_name, table_name, column_name from duckdb_columns() where database_name = 'f' "
                "and data_type = 'VARCHAR' and table_name in (select table_name from duckdb_tables() "
                "where database_name = 'f')"
            ).fetchall():
                hits = con.execute(
                    f'select count(*) from f."{schema}"."{table}" where '
                    f'len(list_filter(?, lambda n: contains(lower("{column}"), n))) > 0',
                    [[v.lower() for v in values]],
                ).fetchone()[0]
                if hits:
                    found.append(f"{path.relative_to(home)}:{schema}.{table}.{column}")
            con.close()
    return found


@pytest.fixture(scope="module")
def erased_home(published_home: PublishedHome, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A copy of the published company and home, its outbox approved and sent (ERP import files
    holding note texts), then a contact and a customer erased."""
    base = tmp_path_factory.mktemp("erase")
    company, home = base / "company", base / "home"
    shutil.copytree(published_home.config.parent, company, symlinks=True)
    shutil.copytree(published_home.home, home, symlinks=True)
    config = company / "inflow.yml"
    location = ("--config", str(config), "--home", str(home))
    for args in (("approve", "--all-pending", "--by", "test"), ("send",)):
        proc = _inflow("outbox", *location, *args)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    warehouse = home / "warehouse.duckdb"
    staff = {
        r[0]
        for r in _rows(
            warehouse,
            "select owner from raw.crm_accounts union select collector from raw.crm_accounts "
            "union select author from raw.activities",
        )
    }
    # A contact (whose name no member of staff shares) of a customer with no notes, and a customer
    # with notes that reached the outbox: the two are erased, the second through its customer id.
    with closing(sqlite3.connect(home / "outbox" / "outbox.sqlite")) as outbox:
        notes_sent = outbox.execute("select value from erp_outbox where field = 'note.text'").fetchall()
    sent = [json.loads(value)["customer_id"] for (value,) in notes_sent]
    customer = max(sorted(set(sent)), key=sent.count)
    contact_name, contact_email, contact_phone = next(
        row
        for row in _rows(
            warehouse,
            "select c.name, c.email, c.phone from raw.crm_contacts c join raw.crm_accounts a using (account_id) "
            "where a.customer_id <> ? and c.email is not null and c.phone is not null order by c.contact_id",
            [customer],
        )
        if row[0] not in staff
    )
    customer_values = [
        v
        for row in _rows(
            warehouse,
            "select c.name, c.email, c.phone from raw.crm_contacts c join raw.crm_accounts a using (account_id) "
            "where a.customer_id = ?",
            [customer],
        )
        for v in row
        if v and v not in staff
    ]
    notes = [
        r[0]
        for r in _rows(
            warehouse, "select distinct text from raw.activities where customer_id = ? and text is not null", [customer]
        )
    ]  # noqa: E501
    contact_values = [contact_name, contact_email, contact_phone]
    lake = write_lake(Settings.load(config, home))  # what a Spark build leaves: every landing view as Parquet
    money = "select count(*), sum(amount) from raw.invoices union all select count(*), sum(amount) from raw.payments"
    before = {
        "money": _rows(warehouse, money),
        "open_ar": _rows(home / "serving.duckdb", "select sum(open_amount) from marts.fct_ar_invoices"),
        "contact_found": _files_holding(home, [contact_email]),
        "notes_found": _files_holding(home, notes),
        "lake_files": sorted(p.name for p in lake.rglob("*.parquet")),
    }
    proc = _inflow("erase", *location, "--contact", contact_email.upper())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    proc = _inflow("erase", *location, "--customer", customer)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return dict(
        home=home, company=company, config=config, customer=customer, contact=contact_values,
        customer_values=customer_values, notes=notes, before=before, out=out + proc.stdout, money=money,
    )  # fmt: skip


@pytest.mark.pipeline
def test_no_file_under_the_home_holds_an_erased_value(erased_home: dict) -> None:
    home = erased_home["home"]
    before = erased_home["before"]
    # The search can fail: before the erasure it found the contact and the customer's notes.
    assert any(f.startswith("warehouse.duckdb") for f in before["contact_found"]), before["contact_found"]
    assert any("outbox" in f for f in before["notes_found"]), before["notes_found"]
    assert any("dagster" in f or f.startswith("warehouse") for f in before["notes_found"])
    values = [*erased_home["contact"], *erased_home["customer_values"], *erased_home["notes"]]
    assert before["lake_files"]  # a Spark build's copies existed, and were removed whole
    assert not (home / "spark").exists()
    assert _files_holding(home, values) == []
    assert remaining(home, values) == []
    for value in values:  # the command's own output names no value either
        assert value not in erased_home["out"]


@pytest.mark.pipeline
def test_financial_rows_stay_and_the_person_keeps_one_pseudonym(erased_home: dict) -> None:
    home = erased_home["home"]
    warehouse = home / "warehouse.duckdb"
    assert _rows(warehouse, erased_home["money"]) == erased_home["before"]["money"]
    assert (
        _rows(home / "serving.duckdb", "select sum(open_amount) from marts.fct_ar_invoices")
        == erased_home["before"]["open_ar"]
    )
    names = _rows(
        warehouse,
        "select distinct c.email, d.billing_contact_email from raw.crm_contacts c join raw.crm_accounts a "
        "using (account_id) join marts.dim_customers d using (customer_id) where a.customer_id = ? "
        "and c.role = 'billing'",
        [erased_home["customer"]],
    )
    assert names and all(e.startswith("erased-") and e.endswith("@erased.invalid") for row in names for e in row if e)
    texts = _rows(
        warehouse, "select distinct text from raw.activities where customer_id = ?", [erased_home["customer"]]
    )
    assert texts and {t for (t,) in texts} <= {"[erased]", None}
    # The warehouse and serving files were rewritten and still open for their readers.
    assert _rows(home / "serving.duckdb", "select count(*) from meta.publication") == [(1,)]


@pytest.mark.pipeline
def test_the_erasure_is_audited_without_its_values(erased_home: dict) -> None:
    trail = AuditTrail(erased_home["home"])
    events = trail.frame()
    erasures = events[events["kind"] == "erasure"].to_dict("records")
    assert [e["outcome"] for e in erasures] == ["erased", "erased"]
    assert erasures[1]["subject"].startswith(f"customer {erased_home['customer']} (tombstone ")
    assert all(e["rows"] > 0 for e in erasures)
    text = json.dumps(erasures)
    for value in [*erased_home["contact"], *erased_home["notes"]]:
        assert value not in text and value.lower() not in text.lower()
    assert trail.verify() == []
    tombstones = _rows(erased_home["home"] / "warehouse.duckdb", "select kind, hash from privacy.tombstones")
    assert {k for k, _ in tombstones} == {"email", "customer"}
    assert all(len(h) == 64 for _, h in tombstones)


@pytest.mark.pipeline
def test_the_next_export_does_not_bring_the_person_back(erased_home: dict) -> None:
    """The CRM exports the contacts again (a new file): landing applies the tombstones, and the
    published tables and every file stay free of the values after the next run."""
    contacts = erased_home["company"] / "crm" / "contacts.jsonl"
    contacts.write_text(contacts.read_text() + "\n")  # a new export of the same rows: a new checksum
    home = erased_home["home"]
    proc = _inflow("run", "--config", str(erased_home["config"]), "--home", str(home))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    landed = _rows(
        home / "warehouse.duckdb",
        "select email from raw.crm_contacts where _loaded_at = (select max(_loaded_at) from raw.crm_contacts) "
        "and lower(email) = lower(?)",
        [erased_home["contact"][1]],
    )
    assert landed == []
    values = [*erased_home["contact"], *erased_home["customer_values"]]
    assert _files_holding(home, values) == []


def test_erasing_over_a_folder_that_is_not_a_home_creates_nothing(tmp_path: Path) -> None:
    """A mistyped --home is refused before anything is written there (the pseudonym key was)."""
    from orchestration.erase import ErasureError, erase

    folder = tmp_path / "not-a-home"
    folder.mkdir()
    with pytest.raises(ErasureError, match="does not exist: no run has written it"):
        erase(Settings.load(None, folder), customer="10001")
    assert list(folder.iterdir()) == []


def test_an_erasure_that_found_nothing_says_so() -> None:
    """0 values and 0 rows is what a mistyped id gives: the report says to check it, and only then."""
    from orchestration.erase import ErasureReport

    empty = ErasureReport("customer 99999").lines()
    assert empty[-1].startswith("  nothing of customer 99999 was found in this home's data: check the id.")
    found = ErasureReport("customer 10001", values=3)
    found.add("raw.erp__customers", 1)
    assert not any("nothing of" in line for line in found.lines())
