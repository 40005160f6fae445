"""A small generated company published once per test session, with a customer named like a formula.

Tests of what a publication looks like to people (the review pack, the exports, the browser)
read it, and tests of what a later run does to a published home (the pipeline's, the publish
guard's) run on copies of it, instead of each running the pipeline on a company of its own.
Nothing may change it: every reader gets the same publication.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

#: A customer whose ERP name is a live formula in any spreadsheet that does not neutralise it.
EVIL_CUSTOMER_NAME = '=HYPERLINK("http://evil.example/pay","Pay here")'
PUBLISHED_AS_OF = "2026-11-27"


@dataclass(frozen=True)
class PublishedHome:
    """A generated company run once through ``inflow run``: its config, home, the customer whose
    name was replaced by a formula, and what the run printed."""

    config: Path
    home: Path
    evil_customer_id: str
    run: subprocess.CompletedProcess[str]


def _inflow(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", *args], capture_output=True, text=True, timeout=900
    )
    if proc.returncode != 0:
        raise AssertionError(f"inflow {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def _largest_open_customer(company: Path) -> str:
    """The customer with the largest open invoice total in the ERP export (first on every
    'largest balance first' list, so the formula-like name shows on the page too)."""
    totals: dict[str, float] = {}
    for path in sorted((company / "erp" / "invoices").glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                try:
                    totals[row["CustNo"]] = totals.get(row["CustNo"], 0.0) + float(row["OpenAmount"] or 0)
                except ValueError:
                    continue  # an injected defect; the pipeline quarantines it
    return max(totals, key=lambda k: totals[k])


def _rename_customer(company: Path, customer_id: str, name: str) -> None:
    path = company / "erp" / "customers.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header = rows[0]
    for row in rows[1:]:
        if row[header.index("CustNo")] == customer_id:
            row[header.index("CustName")] = name
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)


@pytest.fixture(scope="session")
def published_home(tmp_path_factory: pytest.TempPathFactory) -> PublishedHome:
    """One small company (60 customers, 1,500 invoices, 2% export defects) with a formula for a
    customer name, landed, built and published once for every test that reads a publication."""
    company = tmp_path_factory.mktemp("evil_company")
    _inflow(
        "generate", "--out", str(company), "--customers", "60", "--invoices", "1500", "--seed", "11",
        "--defect-rate", "0.02", "--as-of", PUBLISHED_AS_OF, "--quiet",
    )  # fmt: skip
    evil = _largest_open_customer(company)
    _rename_customer(company, evil, EVIL_CUSTOMER_NAME)
    home = tmp_path_factory.mktemp("evil_home")
    run = _inflow("run", "--config", str(company / "inflow.yml"), "--home", str(home))
    return PublishedHome(company / "inflow.yml", home, evil, run)
