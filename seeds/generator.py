"""Generate a complete synthetic company as source-system exports plus its ``inflow.yml``.

``generate_company`` is the public entry point (the ``inflow generate`` command calls it). It
streams: each month's documents are issued, their futures drawn, the month closed and its files
written before the next month starts, so memory is bounded by a month of documents plus the
events still waiting for later months, whatever the size of the company.

Determinism: every random draw comes from a generator seeded with ``(seed, stream, month)``, so a
seed gives the same bytes every time, and the defect stream is separate from the ledger streams,
so the clean rows of a company do not depend on the defect rate.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tqdm import tqdm

from seeds import billing, crm, exports, ledger
from seeds.calendar import SECONDS_PER_DAY, Month, day_number, months_between
from seeds.defects import DAY_FIRST, MONTH_FIRST, DefectInjector, DocumentFacts
from seeds.fx import render_fx_rates
from seeds.inflow_yml import PATHS, build_config, write_config
from seeds.population import CURRENCIES, Population, build_population
from seeds.textio import Columns, CsvSink, write_csv
from seeds.treasury import CashBook
from seeds.workflow import WorkflowDatabase

#: Full calendar months of history before the as-of month (which is generated up to as-of).
HISTORY_MONTHS = 24
ANNUAL_GROWTH = 0.2
CONFIG_FILE = "inflow.yml"
DEFECTS_FILE = "defects.csv"
#: How far past ``as_of`` a horizon may lie: every customer starts at least 30 days before the
#: horizon, so within this no customer of the export starts after its as-of date.
MAX_HORIZON_DAYS = 28
#: Top-level entries a generated company consists of; only these are replaced on regeneration.
GENERATED_ENTRIES = ("erp", "crm", "billing", "processor", "bank", "workflow", CONFIG_FILE, DEFECTS_FILE)


class Stream(IntEnum):
    """Independent random streams; adding a draw to one never shifts another."""

    POPULATION = 1
    FX = 2
    SUBSCRIPTIONS = 3
    PLANS = 4
    ISSUE = 5
    SETTLE = 6
    CLOSE = 7
    CASH = 8
    CRM = 9
    DOCUMENT_DEFECTS = 10
    PAYMENT_DEFECTS = 11
    CRM_DEFECTS = 12
    STAMPS = 13
    FUTURE_PLANS = 14


@dataclass(frozen=True)
class GenerationReport:
    """What was written: data rows per file (relative to ``out_dir``), defects per kind."""

    out_dir: Path
    config_path: Path
    rows_per_file: dict[str, int]
    defects: dict[str, int]
    seconds: float
    invoices: int

    def rows_under(self, prefix: str) -> int:
        """Total rows of the files whose relative path starts with ``prefix``."""
        return sum(n for path, n in self.rows_per_file.items() if path.startswith(prefix))


class ArgumentRefused(ValueError):
    """A size, seed, defect rate or date the generator refuses (``inflow generate`` prints it and exits 2)."""


class FolderRefused(FileExistsError):
    """An output folder the generator will not write into (``inflow generate`` prints it and exits 2)."""


def _rng(seed: int, stream: Stream, *keys: int) -> np.random.Generator:
    return np.random.default_rng([seed, int(stream), *keys])


def _validate(customers: int, invoices: int, seed: int, defect_rate: float, as_of: dt.date, horizon: dt.date) -> None:
    for name, day in (("as_of", as_of), ("horizon", horizon)):
        if isinstance(day, dt.datetime) or not isinstance(day, dt.date):
            raise TypeError(f"{name} must be a datetime.date (a day, not a timestamp), got {day!r}")
    if not as_of <= horizon <= as_of + dt.timedelta(days=MAX_HORIZON_DAYS):
        raise ArgumentRefused(
            f"horizon must be from as_of to {MAX_HORIZON_DAYS} days after it, got as_of {as_of}, horizon {horizon}"
        )
    if customers < 10:
        raise ArgumentRefused(f"customers must be at least 10, got {customers}")
    if invoices < 100:
        raise ArgumentRefused(f"invoices must be at least 100 (a few per month of history), got {invoices}")
    if seed < 0:
        raise ArgumentRefused(f"seed must be a non-negative integer, got {seed}")
    if not 0.0 <= defect_rate < 0.5:
        raise ArgumentRefused(f"defect_rate must be in [0, 0.5), got {defect_rate}")


def _prepare(out_dir: Path) -> None:
    """Create ``out_dir``, replacing a previous generation; refuse to touch anything else."""
    if out_dir.exists():
        if not out_dir.is_dir():
            raise FolderRefused(f"{out_dir} exists and is not a folder")
        foreign = sorted(p.name for p in out_dir.iterdir() if p.name not in GENERATED_ENTRIES)
        if foreign:
            raise FolderRefused(
                f"{out_dir} holds files the generator did not write ({', '.join(foreign[:5])}); "
                "choose an empty or new folder"
            )
        for name in GENERATED_ENTRIES:
            target = out_dir / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)


def invoices_per_month(months: list[Month], as_of: int, total: int) -> np.ndarray:
    """Split ``total`` invoices over the months: ~20 %/year growth, busier quarter ends, the
    as-of month pro rata to the days elapsed. Largest-remainder rounding keeps the exact total."""
    index = np.arange(len(months))
    elapsed = np.array([(min(m.last_day, as_of) - m.first_day + 1) / m.days for m in months])
    quarter_end = np.array([1.1 if int(m.label[5:]) % 3 == 0 else 1.0 for m in months])
    weights = (1 + ANNUAL_GROWTH) ** (index / 12) * quarter_end * elapsed
    share = weights / weights.sum() * total
    counts = np.floor(share).astype(np.int64)
    counts[np.argsort(-(share - counts), kind="stable")[: total - counts.sum()]] += 1
    return counts


class _Outputs:
    """The files that grow month by month, and the per-file row counts."""

    def __init__(self, out_dir: Path, rate: float, as_of: int):
        self.out_dir = out_dir
        self.as_of = as_of
        self.rows: dict[str, int] = {}
        self.write_offs = CsvSink(out_dir / PATHS["write_offs"], list(exports.WRITE_OFF_COLUMNS.values()))
        self.settlements = CsvSink(out_dir / PATHS["settlements"], exports.SETTLEMENT_HEADER)
        self.bank = CsvSink(out_dir / PATHS["bank"], exports.BANK_HEADER, delimiter=";")
        plan_path = out_dir / PATHS["planned_billing"]
        plan_path.parent.mkdir(parents=True, exist_ok=True)
        self.plans = pq.ParquetWriter(plan_path, exports.PLAN_SCHEMA)
        self.plan_rows = 0
        self.defects = DefectInjector(rate, out_dir / DEFECTS_FILE)

    def write(self, key: str, table: Columns, month: Month | None = None) -> None:
        """Write one export; a monthly file of a month after the as-of date is not written."""
        if month is not None and month.first_day > self.as_of:
            return
        rel = PATHS[key].replace("{month}", month.label) if month else PATHS[key]
        self.rows[rel] = write_csv(self.out_dir / rel, table)

    def add_plans(self, table: pa.Table) -> None:
        if table.num_rows:
            self.plans.write_table(table)
            self.plan_rows += table.num_rows

    def close(self) -> None:
        for key, sink in (("write_offs", self.write_offs), ("settlements", self.settlements), ("bank", self.bank)):
            sink.close()
            self.rows[PATHS[key]] = sink.rows
        self.plans.close()
        self.rows[PATHS["planned_billing"]] = self.plan_rows
        self.defects.close()


def generate_company(
    out_dir: Path,
    customers: int,
    invoices: int,
    seed: int,
    defect_rate: float,
    as_of: dt.date,
    progress: bool = True,
    horizon: dt.date | None = None,
) -> GenerationReport:
    """Write a synthetic company's source exports and ``inflow.yml`` into ``out_dir``.

    ``invoices`` is the number of documents of type invoice, issued over the 24 months before the
    horizon's month and that month up to the horizon; credit and debit memos come on top.
    ``defect_rate`` is the probability that an applicable export row carries a defect (0 = clean).

    ``horizon`` (default ``as_of``, at most 28 days later) is the last day the company's world is
    drawn to; the exports are that world cut at ``as_of``. Generations with one seed and horizon
    share their past: the company as of D with horizon D+1 is the company as of D+1 (itself the
    plain generation as of D+1) without what happened on D+1, so the two make a day's drop. The
    exports then hold fewer than ``invoices`` invoices: those dated after ``as_of`` are cut.
    """
    horizon = as_of if horizon is None else horizon
    _validate(customers, invoices, seed, defect_rate, as_of, horizon)
    started = time.perf_counter()
    out_dir = Path(out_dir)
    _prepare(out_dir)
    as_of_day = day_number(as_of)
    horizon_day = day_number(horizon)
    first = (np.datetime64(horizon, "M") - HISTORY_MONTHS).astype("datetime64[D]").astype(dt.date)
    months = months_between(first, horizon)
    history_start = months[0].first_day

    pop = build_population(_rng(seed, Stream.POPULATION), customers, history_start, horizon_day)
    out = _Outputs(out_dir, defect_rate, as_of_day)
    company = f"Inflow Demo Co (synthetic, seed {seed})"
    updated = _customer_updates(_rng(seed, Stream.STAMPS), pop, as_of_day, horizon_day)
    out.write("customers", exports.render_customers(pop, updated))
    out.write("fx_rates", render_fx_rates(_rng(seed, Stream.FX), history_start - 14, as_of_day))
    crm_parent = out.defects.hierarchy(
        _rng(seed, Stream.CRM_DEFECTS), PATHS["accounts"], "Parent Account ID", pop.parent
    )
    out.rows[PATHS["accounts"]] = crm.write_accounts(out_dir / PATHS["accounts"], pop, crm_parent, company, as_of)
    out.rows[PATHS["contacts"]] = crm.write_contacts(out_dir / PATHS["contacts"], pop, _rng(seed, Stream.CRM))

    subs = billing.build_subscriptions(
        _rng(seed, Stream.SUBSCRIPTIONS), pop, len(months), invoices, int(np.datetime64(first, "M").astype(np.int64))
    )
    workflow = WorkflowDatabase(
        out_dir / PATHS["workflow"],
        exports.customer_id(pop, np.arange(len(pop))),
        np.array(CURRENCIES)[pop.currency],
        pop.collector,
        exports.doc_id,
        as_of_day,
    )
    budget = invoices_per_month(months, horizon_day, invoices)
    state = _MonthState(seed=seed, pop=pop, subs=subs, as_of=as_of_day, horizon=horizon_day, out=out, workflow=workflow)
    written = 0
    with tqdm(total=invoices, unit="inv", desc="generating", disable=not progress) as bar:
        for month in months:
            issued = state.run_month(month, int(budget[month.index]))
            written += issued
            bar.update(issued)
    state.write_future_plans(months, float(budget[-3:].mean()))
    workflow.close()
    out.close()
    for table, n in workflow.rows.items():
        out.rows[f"{PATHS['workflow']}#{table}"] = n

    config_path = out_dir / CONFIG_FILE
    formats = [f for f in (DAY_FIRST, MONTH_FIRST) if f in out.defects.date_formats]
    write_config(config_path, build_config(company, as_of, formats), seed)
    return GenerationReport(
        out_dir=out_dir,
        config_path=config_path,
        rows_per_file=dict(sorted(out.rows.items())),
        defects=dict(out.defects.counts.items()),
        seconds=time.perf_counter() - started,
        invoices=written,
    )


def _customer_updates(rng: np.random.Generator, pop: Population, as_of: int, horizon: int) -> np.ndarray:
    """When each master record was last changed before the horizon; a change after the as-of
    date is not seen yet, and the record shows the day it was created instead."""
    lo = np.maximum(pop.start_day, horizon - 700)
    day = lo + (rng.random(len(pop)) * (horizon - lo)).astype(np.int64)
    day = np.where(day <= as_of, day, lo)
    return day * SECONDS_PER_DAY + rng.integers(ledger.DAY_START, ledger.DAY_END, len(pop))


@dataclass
class _MonthState:
    """Everything carried from one month to the next: numbering, queued events and cash."""

    seed: int
    pop: Population
    subs: billing.Subscriptions
    as_of: int
    horizon: int
    out: _Outputs
    workflow: WorkflowDatabase
    seq: ledger.Sequences = field(default_factory=ledger.Sequences)
    queue: ledger.EventQueue = field(default_factory=ledger.EventQueue)
    cash: CashBook = field(default_factory=CashBook)

    def rng(self, stream: Stream, month: Month) -> np.random.Generator:
        return _rng(self.seed, stream, month.index)

    def run_month(self, month: Month, budget: int) -> int:
        """Issue, settle and close one month, writing its files. Returns invoices issued.

        Everything is drawn to the horizon and cut at the as-of date only as it is written (the
        documents and cash here, the workflow records in ``WorkflowDatabase``), so the rows
        dated up to the as-of date are the same whatever the as-of date.
        """
        plan_rng = self.rng(Stream.PLANS, month)
        plans = billing.plans_for_month(self.subs, self.pop, month, month.index, plan_rng)
        due_plans = plans.subset(plans.day <= self.horizon)
        invoiced = np.sort(plan_rng.choice(len(due_plans), min(budget, len(due_plans)), replace=False))
        docs = ledger.issue_documents(
            self.rng(Stream.ISSUE, month),
            self.pop,
            month,
            self.horizon,
            due_plans.subset(invoiced),
            budget - len(invoiced),
            self.seq,
        )
        result = ledger.settle(
            self.rng(Stream.SETTLE, month), self.pop, docs, self.as_of, salt=self.seed, horizon=self.horizon
        )
        self.queue.push(result.events)
        self.workflow.add(result.activities, result.promises, result.disputes)
        self._write_plans(plan_rng, month, plans, due_plans, invoiced, docs)

        close_rng = self.rng(Stream.CLOSE, month)
        closed = self.queue.close_month(close_rng, self.pop, month, self.horizon, self.seq, docs.customer)
        self._write_documents(close_rng, month, docs, result, closed.credit_memos)
        self._write_cash(month, closed)
        return int(((docs.doc_type == ledger.INVOICE) & (docs.day <= self.as_of)).sum())

    def _write_documents(
        self,
        rng: np.random.Generator,
        month: Month,
        docs: ledger.Documents,
        result: ledger.Settlement,
        credits: ledger.CreditMemos,
    ) -> None:
        """The month's document file: invoices and debit memos issued, then credit memos."""
        credit_stamp = credits.day * SECONDS_PER_DAY + rng.integers(ledger.DAY_START, ledger.DAY_END, len(credits))
        seen, seen_credits = docs.day <= self.as_of, credits.day <= self.as_of
        docs, credits, credit_stamp = docs.subset(seen), credits.subset(seen_credits), credit_stamp[seen_credits]
        last_modified = result.last_modified[seen]
        table = exports.render_documents(
            self.pop, docs, result.open_amount[seen], result.status[seen], last_modified, credits, credit_stamp
        )
        facts = DocumentFacts(
            doc_type=np.concatenate([docs.doc_type, np.full(len(credits), ledger.CREDIT_MEMO, np.int8)]),
            amount=np.concatenate([docs.amount, credits.amount]),
            day=np.concatenate([docs.day, credits.day]),
            due_day=np.concatenate([docs.due_day, np.full(len(credits), -1)]),
            last_modified=np.concatenate([last_modified, credit_stamp]),
        )
        file = PATHS["invoices"].replace("{month}", month.label)
        table = self.out.defects.documents(self.rng(Stream.DOCUMENT_DEFECTS, month), file, table, facts)
        self.out.write("invoices", table, month)

    def _write_cash(self, month: Month, closed: ledger.MonthClose) -> None:
        """Payments, applications and write-offs of the month, and what treasury sees of them,
        cut at the as-of date (the cash book and its bank lines run to the horizon)."""
        cut = self.as_of
        payments = exports.render_payments(self.pop, closed.payments.subset(closed.payments.day <= cut))
        file = PATHS["payments"].replace("{month}", month.label)
        payments = self.out.defects.payments(self.rng(Stream.PAYMENT_DEFECTS, month), file, payments)
        self.out.write("payments", payments, month)
        applications = closed.applications.subset(closed.applications.day <= cut)
        self.out.write("payment_applications", exports.render_applications(applications), month)
        self.out.write_offs.write(exports.render_write_offs(closed.write_offs.subset(closed.write_offs.day <= cut)))
        card = self.cash.record(closed.payments, self.pop)
        self.out.settlements.write(exports.render_settlements(self.pop, card.subset(card.day <= cut)))
        lines = self.cash.statement(self.rng(Stream.CASH, month), month, self.horizon)
        lines = lines.subset(lines.value_day <= cut)
        self.out.bank.write(exports.render_bank_lines(self.pop, lines, self.out.bank.rows + 1))

    def _write_plans(
        self,
        rng: np.random.Generator,
        month: Month,
        plans: billing.Plans,
        due_plans: billing.Plans,
        invoiced: np.ndarray,
        docs: ledger.Documents,
    ) -> None:
        """Past plan lines with the invoice each became, lines not invoiced, lines still ahead
        in the as-of month, and one-off lines the month's service invoices were planned as."""
        doc_ids = exports.doc_id(docs.doc_type, docs.number)
        from_plan = docs.plan >= 0
        invoice_of_plan = np.full(len(due_plans), -1)
        invoice_of_plan[invoiced[docs.plan[from_plan]]] = np.flatnonzero(from_plan)
        transactional = np.flatnonzero(~from_plan & (docs.doc_type == ledger.INVOICE))
        one_offs, became = billing.one_offs_from_invoices(
            rng, self.pop, docs.customer[transactional], docs.day[transactional], docs.amount[transactional], month
        )
        ahead = plans.subset(plans.day > self.horizon)
        all_plans = billing.Plans.concat([due_plans, one_offs, ahead])
        doc_index = np.concatenate([invoice_of_plan, transactional[became], np.full(len(ahead), -1)])
        doc_index[(doc_index >= 0) & (docs.day[np.maximum(doc_index, 0)] > self.as_of)] = -1  # not invoiced yet
        self._add_plans(all_plans, doc_index, doc_ids)

    def _add_plans(self, plans: billing.Plans, doc_index: np.ndarray, doc_ids: pa.Array | None) -> None:
        order = np.lexsort((plans.customer, plans.day))
        plans, doc_index = plans.subset(order), doc_index[order]
        if doc_ids is None or not len(doc_ids):
            invoice = pa.nulls(len(plans), pa.string())
        else:
            invoice = pc.if_else(
                pa.array(doc_index >= 0), doc_ids.take(pa.array(np.maximum(doc_index, 0))), pa.scalar(None, pa.string())
            )
        numbers = self.seq.take("plan", len(plans))
        self.out.add_plans(exports.render_plans(self.pop, plans, numbers, invoice))

    def write_future_plans(self, months: list[Month], monthly_volume: float) -> None:
        """Plan lines after the as-of date, through the billing horizon."""
        horizon = self.horizon + billing.FUTURE_DAYS
        last = months[-1]
        future = months_between(
            (np.datetime64(last.label) + 1).astype("datetime64[D]").astype(dt.date),
            np.datetime64(horizon, "D").astype(dt.date),
        )
        rest_of_month = (last.last_day - self.horizon) / last.days
        rng = _rng(self.seed, Stream.FUTURE_PLANS, last.index)
        parts = [billing.future_one_offs(rng, self.pop, last, monthly_volume * rest_of_month, self.horizon)]
        for offset, month in enumerate(future, start=len(months)):
            month = Month(offset, month.label, month.first_day, month.last_day)
            rng = _rng(self.seed, Stream.FUTURE_PLANS, offset)
            parts.append(billing.plans_for_month(self.subs, self.pop, month, offset, rng))
            parts.append(billing.future_one_offs(rng, self.pop, month, monthly_volume, self.horizon))
        plans = billing.Plans.concat(parts)
        plans = plans.subset(plans.day <= horizon)
        self._add_plans(plans, np.full(len(plans), -1), None)
