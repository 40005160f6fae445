"""The synthetic-company generator: determinism, configuration, ledger invariants, defects.

Companies here are small (tens of customers, ~1,500 invoices) so the whole module runs in
seconds; the committed sample is regenerated once to prove it is what the generator produces.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import inspect
import json
import re
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from orchestration.config import load_config
from seeds.defects import DEFECT_KINDS
from seeds.generator import GenerationReport, generate_company

AS_OF = dt.date(2026, 3, 31)
SAMPLE = Path(__file__).resolve().parent.parent / "seeds" / "sample"
SAMPLE_ARGS = dict(customers=250, invoices=5000, seed=42, defect_rate=0.01, as_of=dt.date(2026, 11, 27))
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
US_MONEY = re.compile(r"^-?\d+\.\d{2}$")
CURRENCIES = {"USD", "EUR", "GBP", "CAD"}


def _generate(out: Path, rate: float, customers: int = 60, invoices: int = 1500, seed: int = 11) -> GenerationReport:
    return generate_company(out, customers, invoices, seed, rate, AS_OF, progress=False)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> GenerationReport:
    return _generate(tmp_path_factory.mktemp("clean") / "co", 0.0)


@pytest.fixture(scope="module")
def dirty(tmp_path_factory: pytest.TempPathFactory) -> GenerationReport:
    return _generate(tmp_path_factory.mktemp("dirty") / "co", 0.03)


def _csv(path: Path, sep: str = ",") -> pd.DataFrame:
    """A CSV exactly as text: no type inference, empty fields stay ''."""
    return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)


def _csvs(root: Path, pattern: str) -> pd.DataFrame:
    return pd.concat([_csv(p) for p in sorted(root.glob(pattern))], ignore_index=True)


def _money(values: pd.Series) -> pd.Series:
    return values.map(Decimal)


def _digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _sqlite(report: GenerationReport, sql: str) -> pd.DataFrame:
    with sqlite3.connect(report.out_dir / "workflow" / "workflow.sqlite") as con:
        return pd.read_sql_query(sql, con)


# --- public interface -------------------------------------------------------------------------


def test_generate_company_signature_is_the_one_the_cli_calls() -> None:
    params = inspect.signature(generate_company).parameters
    assert list(params) == ["out_dir", "customers", "invoices", "seed", "defect_rate", "as_of", "progress", "horizon"]
    assert params["progress"].default is True


def test_report_counts_match_the_files(clean: GenerationReport) -> None:
    for rel, rows in clean.rows_per_file.items():
        if rel.endswith(".csv"):
            delimiter = ";" if rel.startswith("bank/") else ","
            assert len(_csv(clean.out_dir / rel, delimiter)) == rows, rel
    invoice_rows = clean.rows_under("erp/invoices/")
    assert invoice_rows == sum(len(_csv(p)) for p in (clean.out_dir / "erp" / "invoices").glob("*.csv"))
    assert clean.config_path == clean.out_dir / "inflow.yml"


# --- determinism ------------------------------------------------------------------------------


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    _generate(tmp_path / "a", 0.02, customers=30, invoices=400, seed=5)
    _generate(tmp_path / "b", 0.02, customers=30, invoices=400, seed=5)
    _generate(tmp_path / "c", 0.02, customers=30, invoices=400, seed=6)
    a, b, c = _digests(tmp_path / "a"), _digests(tmp_path / "b"), _digests(tmp_path / "c")
    assert a == b
    assert a["erp/invoices/invoices_2026-03.csv"] != c["erp/invoices/invoices_2026-03.csv"]


def test_defects_do_not_change_the_ledger(clean: GenerationReport, dirty: GenerationReport) -> None:
    """Same seed, different defect rate: untouched files are identical and every row of a
    document file that no defect touched is a row of the clean file."""
    for folder in ("erp/payment_applications",):
        assert _digests(clean.out_dir / folder) == _digests(dirty.out_dir / folder)
    log = _csv(dirty.out_dir / "defects.csv")
    for path in sorted((dirty.out_dir / "erp" / "invoices").glob("*.csv")):
        rel = path.relative_to(dirty.out_dir).as_posix()
        touched = set(log.loc[log.file == rel, "row_number"].astype(int))
        dirty_rows = path.read_text().splitlines()[1:]
        clean_rows = set((clean.out_dir / rel).read_text().splitlines()[1:])
        untouched = [row for i, row in enumerate(dirty_rows, start=1) if i not in touched]
        assert untouched and set(untouched) <= clean_rows, rel


# --- configuration ----------------------------------------------------------------------------


def _source_columns(cfg, table, base: Path) -> set[str]:
    """Column names a configured table really offers, read the way its format is read."""
    if table.format == "query":
        with sqlite3.connect(base / "workflow" / "workflow.sqlite") as con:
            return {d[0] for d in con.execute(table.query).description}
    files = sorted(base.glob(table.path))
    assert files, f"{table.path} matches no file"
    first = files[0]
    if table.format == "csv":
        return set(_csv(first, table.options.delimiter).columns)
    if table.format == "xlsx":
        frame = pd.read_excel(first, sheet_name=table.options.sheet, header=table.options.header_row - 1, dtype=str)
        return set(frame.columns)
    if table.format == "jsonl":
        return set(json.loads(first.read_text().splitlines()[0]))
    if table.format == "parquet":
        return set(pq.read_schema(first).names)
    raise AssertionError(f"unexpected format {table.format}")


def test_config_loads_and_every_mapped_column_exists(clean: GenerationReport) -> None:
    cfg = load_config(clean.config_path)
    assert cfg.as_of_date == AS_OF
    assert cfg.reporting_currency == "USD"
    assert {s.role for s in cfg.sources.values()} == {"system_of_record", "context", "timing", "payments", "workflow"}
    assert all(s.owner and "@" in s.owner for s in cfg.sources.values())
    entities = set()
    for source, name, _src, table in cfg.tables():
        entities.add(table.entity)
        missing = set(table.source_columns()) - _source_columns(cfg, table, cfg.base_dir)
        assert not missing, f"{source}.{name} maps missing source columns {missing}"
    from expectations.contracts import ENTITIES

    assert entities == set(ENTITIES)
    assert cfg.sources["workflow"].url == "sqlite:///workflow/workflow.sqlite"
    assert cfg.sources["erp"].tables["invoices"].credit_memo_sign == "positive"


def test_config_declares_the_date_formats_the_files_use(clean: GenerationReport, dirty: GenerationReport) -> None:
    """Only formats that occur are declared, and reading each date with the declared formats in
    order (first match wins) gives back the true date of the clean export."""
    clean_formats = load_config(clean.config_path).sources["erp"].tables["invoices"].options.date_formats
    assert clean_formats == ("%Y-%m-%d",)
    assert _csvs(clean.out_dir, "erp/invoices/*.csv").DocDate.str.match(ISO_DATE).all()

    declared = load_config(dirty.config_path).sources["erp"].tables["invoices"].options.date_formats
    log = _csv(dirty.out_dir / "defects.csv")
    used: set[str] = set()
    for entry in log[log.defect == "date_format"].itertuples():
        row = _csv(dirty.out_dir / entry.file).iloc[int(entry.row_number) - 1]
        truth = _csv(clean.out_dir / entry.file).set_index("DocNo").loc[row.DocNo, entry.column]
        value = row[entry.column]
        parsed = None
        for fmt in declared:
            try:
                parsed = dt.datetime.strptime(value, fmt).date()
            except ValueError:
                continue
            used.add(fmt)
            break
        assert parsed is not None and parsed.isoformat() == truth, (entry, value, truth)
    assert used and declared == ("%Y-%m-%d", *[f for f in ("%d/%m/%Y", "%m/%d/%Y") if f in used])


# --- ledger invariants (clean company) ----------------------------------------------------------


@pytest.fixture(scope="module")
def ledger(clean: GenerationReport) -> dict[str, pd.DataFrame]:
    root = clean.out_dir
    return {
        "customers": _csv(root / "erp" / "customers.csv"),
        "documents": _csvs(root, "erp/invoices/*.csv"),
        "payments": _csvs(root, "erp/payments/*.csv"),
        "applications": _csvs(root, "erp/payment_applications/*.csv"),
        "write_offs": _csv(root / "erp" / "write_offs.csv"),
        "fx": _csv(root / "erp" / "fx_rates.csv"),
    }


def test_history_covers_24_months_and_all_document_types(clean: GenerationReport, ledger) -> None:
    docs = ledger["documents"]
    months = sorted({d[:7] for d in docs.DocDate})
    assert len(months) >= 25 and months[-1] == "2026-03"
    assert len(list((clean.out_dir / "erp" / "invoices").glob("invoices_*.csv"))) == len(months)
    assert set(docs.DocType) == {"invoice", "credit_memo", "debit_memo"}
    assert (docs.DocType == "invoice").sum() == 1500
    assert docs.DocNo.is_unique
    terms = set(ledger["customers"].PayTerms)
    assert {"NET30", "EOM"} <= terms and len(terms) >= 4


def test_applications_never_exceed_the_document_or_the_payer(ledger) -> None:
    docs = ledger["documents"].set_index("DocNo")
    apps = ledger["applications"].assign(amount=lambda f: _money(f.AmtApplied))
    applied = apps.groupby("DocNo").amount.sum()
    assert (applied <= _money(docs.loc[applied.index, "Amount"])).all()
    payments = ledger["payments"].set_index("PmtNo")
    by_payer = apps.groupby("PmtNo").amount.sum()
    cash = by_payer[by_payer.index.str.startswith("PAY-")]
    assert (cash <= _money(payments.loc[cash.index, "Amount"])).all()
    credits = by_payer[by_payer.index.str.startswith("CM-")]
    assert len(credits) and (docs.loc[credits.index, "DocType"] == "credit_memo").all()
    assert (credits <= _money(docs.loc[credits.index, "Amount"])).all()


def test_open_amount_is_amount_less_applications_and_write_offs(ledger) -> None:
    docs = ledger["documents"]
    docs = docs[docs.DocType != "credit_memo"].set_index("DocNo")
    applied = ledger["applications"].assign(a=lambda f: _money(f.AmtApplied)).groupby("DocNo").a.sum()
    written = ledger["write_offs"].assign(a=lambda f: _money(f.WOAmount)).groupby("DocNo").a.sum()
    expected = (
        _money(docs.Amount)
        - applied.reindex(docs.index, fill_value=Decimal(0))
        - written.reindex(docs.index, fill_value=Decimal(0))
    )
    assert (expected == _money(docs.OpenAmount)).all()
    assert (_money(docs.OpenAmount) >= 0).all()


def test_nothing_happens_after_the_as_of_date(clean: GenerationReport, ledger) -> None:
    as_of = AS_OF.isoformat()
    assert ledger["documents"].DocDate.max() <= as_of
    assert ledger["payments"].PmtDate.max() <= as_of
    assert ledger["applications"].ApplyDate.max() <= as_of
    assert ledger["write_offs"].WODate.max() <= as_of
    assert _csv(clean.out_dir / "processor" / "settlements.csv").created.max() <= as_of
    bank = pd.to_datetime(_csv(clean.out_dir / "bank" / "statement.csv", ";").ValueDate, format="%d.%m.%Y")
    assert bank.max() <= pd.Timestamp(AS_OF)
    assert _sqlite(clean, "select max(activity_on) m from activities").m[0] <= as_of
    assert _sqlite(clean, "select max(created_at) m from promises").m[0][:10] <= as_of
    disputes = _sqlite(clean, "select opened_at, resolved_at from disputes")
    assert disputes.opened_at.max()[:10] <= as_of and disputes.resolved_at.dropna().max()[:10] <= as_of


def test_every_currency_has_daily_fx_rates(ledger) -> None:
    fx = ledger["fx"]
    used = set(ledger["documents"].Curr) | set(ledger["payments"].Curr) | set(ledger["customers"].Curr)
    assert used <= set(fx.Curr) and used <= CURRENCIES and len(used) >= 3
    assert fx.RateDate.min() <= ledger["documents"].DocDate.min() and fx.RateDate.max() <= AS_OF.isoformat()
    assert (fx.loc[fx.Curr == "USD", "RateToUSD"] == "1.000000").all()
    eur = fx.loc[fx.Curr == "EUR", "RateToUSD"].astype(float)
    assert 0.9 < eur.min() < eur.max() < 1.3 and eur.nunique() > 100


def test_open_receivables_age_from_current_to_over_120_days(ledger) -> None:
    docs = ledger["documents"]
    docs = docs[(docs.DocType != "credit_memo") & (docs.OpenAmount.map(Decimal) > 0)]
    past_due = (pd.Timestamp(AS_OF) - pd.to_datetime(docs.DueDate)).dt.days
    open_amount = docs.OpenAmount.map(float)
    current_share = open_amount[past_due <= 0].sum() / open_amount.sum()
    assert 0.4 < current_share < 0.95
    assert (past_due > 120).any() and ((past_due > 0) & (past_due <= 30)).any()


def test_payments_settle_several_invoices_and_leave_unapplied_cash(ledger) -> None:
    apps, payments = ledger["applications"], ledger["payments"]
    per_payment = apps[apps.PmtNo.str.startswith("PAY-")].groupby("PmtNo").size()
    assert (per_payment > 1).sum() > 10
    applied = apps.assign(a=lambda f: _money(f.AmtApplied)).groupby("PmtNo").a.sum()
    unapplied = (
        _money(payments.set_index("PmtNo").Amount) - applied.reindex(payments.PmtNo, fill_value=Decimal(0)).values
    )
    assert (unapplied > 0).sum() >= 5
    partial = apps.groupby("DocNo").PmtNo.nunique()
    assert (partial > 1).any()
    assert set(ledger["write_offs"].ReasonCode) >= {"small_balance", "bankruptcy"}


def test_customers_pay_differently_and_consistently(ledger) -> None:
    """The latent behaviour must be learnable: a customer's lateness in the first year predicts
    its lateness in the second."""
    docs = ledger["documents"]
    docs = docs[(docs.DocType == "invoice") & (docs.OpenAmount == "0.00")]
    settled = ledger["applications"].groupby("DocNo").ApplyDate.max()
    docs = docs.assign(late=(pd.to_datetime(docs.DocNo.map(settled)) - pd.to_datetime(docs.DueDate)).dt.days)
    first = docs[docs.DocDate < "2025-03-01"].groupby("CustNo").late.mean()
    second = docs[docs.DocDate >= "2025-03-01"].groupby("CustNo").late.mean()
    both = pd.concat([first, second], axis=1, join="inner").dropna()
    assert len(both) >= 20
    assert both.iloc[:, 0].std() > 5
    assert both.corr().iloc[0, 1] > 0.5


# --- other sources ----------------------------------------------------------------------------


def test_crm_accounts_hierarchy_and_billing_contacts(clean: GenerationReport, ledger) -> None:
    accounts = pd.read_excel(clean.out_dir / "crm" / "accounts.xlsx", sheet_name="Accounts", header=1, dtype=str)
    assert set(accounts["ERP Customer No"]) == set(ledger["customers"].CustNo)
    assert accounts["Parent Account ID"].notna().sum() >= 3
    assert set(accounts.Segment) == {"enterprise", "mid_market", "smb"}
    assert _cycles(accounts) == []
    contacts = [json.loads(line) for line in (clean.out_dir / "crm" / "contacts.jsonl").read_text().splitlines()]
    billing = {c["accountId"] for c in contacts if c["role"] == "billing"}
    assert len(billing) >= 0.9 * len(accounts) and billing <= set(accounts["Account ID"])


def _cycles(accounts: pd.DataFrame) -> list[str]:
    """Accounts from which following parent links returns to the account itself."""
    parent = dict(zip(accounts["Account ID"], accounts["Parent Account ID"], strict=True))
    found = []
    for start in parent:
        seen, node = set(), parent[start]
        while isinstance(node, str) and node not in seen:
            if node == start:
                found.append(start)
                break
            seen.add(node)
            node = parent.get(node)
    return found


def test_planned_billing_covers_the_past_and_the_next_13_weeks(clean: GenerationReport, ledger) -> None:
    plans = pq.read_table(clean.out_dir / "billing" / "planned_billing.parquet").to_pandas()
    assert set(plans.plan_kind) == {"subscription", "renewal", "usage", "one_off"}
    assert plans.plan_ref.is_unique
    future = plans[plans.expected_invoice_date > AS_OF]
    assert future.expected_invoice_date.max() >= AS_OF + dt.timedelta(weeks=13)
    assert future.invoice_number.isna().all()
    invoiced = plans.invoice_number.dropna()
    assert len(invoiced) > 100 and set(invoiced) <= set(ledger["documents"].DocNo)


def test_bank_payouts_match_processor_settlements(clean: GenerationReport) -> None:
    settlements = _csv(clean.out_dir / "processor" / "settlements.csv")
    bank = _csv(clean.out_dir / "bank" / "statement.csv", ";")
    assert bank.Amount.str.contains(",").all() and not bank.Amount.str.match(US_MONEY).any()
    net = settlements.assign(n=lambda f: _money(f.net)).groupby("payout_id").n.sum()
    payouts = (
        bank[bank.BatchRef != ""]
        .set_index("BatchRef")
        .Amount.map(lambda s: Decimal(s.replace(".", "").replace(",", ".")))
    )
    assert len(payouts) > 10
    assert (payouts == net.loc[payouts.index]).all()


def test_workflow_has_kept_and_broken_promises_and_open_disputes(clean: GenerationReport) -> None:
    statuses = set(_sqlite(clean, "select distinct ptp_status s from promises").s)
    assert {"kept", "broken"} <= statuses
    disputes = _sqlite(clean, "select resolved_at, resolution from disputes")
    assert disputes.resolved_at.isna().any() and disputes.resolved_at.notna().any()
    assert set(disputes.resolution.dropna()) >= {"credit_issued", "rejected"}
    kinds = set(_sqlite(clean, "select distinct activity_type k from activities").k)
    assert kinds == {"note", "call", "email", "stage_change"}


# --- defects ----------------------------------------------------------------------------------


def test_rate_zero_writes_no_defects_and_clean_exports(clean: GenerationReport, ledger) -> None:
    assert len(_csv(clean.out_dir / "defects.csv")) == 0
    assert sum(clean.defects.values()) == 0
    docs = ledger["documents"]
    customers = set(ledger["customers"].CustNo)
    assert set(docs.CustNo) <= customers and set(ledger["payments"].CustNo) <= customers
    assert set(docs.Curr) <= CURRENCIES
    assert docs.Amount.str.match(US_MONEY).all() and (_money(docs.Amount) > 0).all()
    for frame, column in ((docs, "CustNo"), (docs, "Curr"), (docs, "DocType"), (ledger["payments"], "CustNo")):
        assert (frame[column] == frame[column].str.strip()).all()
    assert not any(c.startswith("0") for c in docs.CustNo)


def test_positive_rate_injects_every_defect_kind(dirty: GenerationReport) -> None:
    log = _csv(dirty.out_dir / "defects.csv")
    assert set(log.defect) == set(DEFECT_KINDS)
    assert {k for k, n in dirty.defects.items() if n} == set(DEFECT_KINDS)
    assert len(log) == sum(dirty.defects.values())
    assert not log.duplicated(["file", "row_number"]).any()


def test_each_logged_defect_is_at_its_file_row_and_column(dirty: GenerationReport) -> None:
    root = dirty.out_dir
    log = _csv(root / "defects.csv")
    customers = set(_csv(root / "erp" / "customers.csv").CustNo)
    frames: dict[str, pd.DataFrame] = {}
    for entry in log.itertuples():
        if entry.file not in frames:
            path = root / entry.file
            frames[entry.file] = (
                pd.read_excel(path, sheet_name="Accounts", header=1, dtype=str)
                if path.suffix == ".xlsx"
                else _csv(path)
            )
        frame = frames[entry.file]
        row = frame.iloc[int(entry.row_number) - 1]
        value = row[entry.column] if entry.column else None
        assert _defect_present(entry.defect, frame, int(entry.row_number) - 1, row, value, customers), entry


def _defect_present(kind: str, frame: pd.DataFrame, i: int, row: pd.Series, value, customers: set[str]) -> bool:
    if kind == "duplicate_row":
        return (frame.iloc[:i] == row).all(axis=1).any()
    if kind == "conflicting_duplicate":
        same = frame[(frame.DocNo == row.DocNo) & (frame.index != i)]
        return bool(len(same)) and (same.Amount != row.Amount).all() and (same.LastModified > row.LastModified).all()
    if kind == "leading_zeros":
        return value.startswith("0") and value.isdigit() and value.lstrip("0") in customers
    if kind == "date_format":
        return not ISO_DATE.match(value) and bool(re.match(r"^\d{2}/\d{2}/\d{4}$", value))
    if kind == "european_decimal":
        return bool(re.match(r"^-?\d{1,3}(\.\d{3})*,\d{2}$", value))
    if kind == "negative_amount":
        return row.DocType == "invoice" and Decimal(value) < 0
    if kind == "credit_memo_wrong_sign":
        return row.DocType == "credit_memo" and Decimal(value) < 0
    if kind == "unknown_currency":
        return value in {"XXX", "US$"}
    if kind == "unknown_customer":
        return value.isdigit() and value not in customers
    if kind == "stray_whitespace":
        return value != value.strip() and value.strip() != ""
    if kind == "hierarchy_cycle":
        return row["Account ID"] in _cycles(frame)
    raise AssertionError(f"unknown defect kind {kind}")


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(customers=5), "customers"),
        (dict(invoices=50), "invoices"),
        (dict(seed=-1), "seed"),
        (dict(defect_rate=-0.1), "defect_rate"),
        (dict(defect_rate=0.5), "defect_rate"),
    ],
)
def test_invalid_arguments_are_rejected(tmp_path: Path, kwargs: dict, message: str) -> None:
    args = dict(
        out_dir=tmp_path / "co", customers=30, invoices=400, seed=1, defect_rate=0.0, as_of=AS_OF, progress=False
    )
    with pytest.raises(ValueError, match=message):
        generate_company(**{**args, **kwargs})
    assert not (tmp_path / "co").exists()


def test_as_of_must_be_a_date(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="as_of"):
        generate_company(tmp_path / "co", 30, 400, 1, 0.0, dt.datetime(2026, 3, 31, 12), progress=False)


def test_refuses_a_folder_with_foreign_files_and_replaces_its_own(tmp_path: Path) -> None:
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="notes.txt"):
        _generate(foreign, 0.0, customers=30, invoices=400)
    assert (foreign / "notes.txt").read_text() == "keep me" and not (foreign / "erp").exists()

    out = tmp_path / "co"
    _generate(out, 0.0, customers=30, invoices=400, seed=1)
    stale = out / "erp" / "invoices" / "invoices_1999-01.csv"
    stale.write_text("stale")
    _generate(out, 0.0, customers=30, invoices=400, seed=1)
    assert not stale.exists()


# --- the committed sample ---------------------------------------------------------------------


def test_committed_sample_is_what_the_generator_produces(tmp_path: Path) -> None:
    """seeds/sample is regenerated, never hand-edited: same arguments, same bytes."""
    report = generate_company(tmp_path / "sample", progress=False, **SAMPLE_ARGS)
    assert _digests(SAMPLE) == _digests(report.out_dir)


def test_committed_sample_is_small_and_pinned() -> None:
    total = sum(p.stat().st_size for p in SAMPLE.rglob("*") if p.is_file())
    assert total < 5 * 1024 * 1024
    cfg = load_config(SAMPLE / "inflow.yml")
    assert cfg.as_of_date == SAMPLE_ARGS["as_of"]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--invoices", "50"], "invoices must be at least 100"),
        (["--as-of", "2026-11-30", "--horizon", "2027-01-30"], "horizon must be from as_of to"),
        (["--customers", "9"], "customers must be at least 10"),
    ],
)
def test_the_cli_refuses_bad_arguments_in_one_line(tmp_path: Path, extra: list[str], message: str) -> None:
    """``inflow generate`` names what it refuses, exit code 2, without a traceback."""
    proc = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "generate", "--out", str(tmp_path / "co"), "--quiet", *extra],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("inflow generate: ") and message in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "co").exists()


def test_the_cli_refuses_a_folder_with_foreign_files_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    proc = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "generate", "--out", str(tmp_path), "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (
        f"inflow generate: {tmp_path} holds files the generator did not write (notes.txt); "
        "choose an empty or new folder"
    )
    assert (tmp_path / "notes.txt").read_text() == "keep me"
