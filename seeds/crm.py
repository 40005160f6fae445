"""The CRM export: an accounts report (XLSX with a title row) and contacts (JSON lines).

The CRM knows what the ERP does not: account owner, collector, segment, region, the parent
account hierarchy and who to send invoices to.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np

from seeds.exports import CONTACT_COLUMNS
from seeds.population import FIRST_NAMES, LAST_NAMES, REGIONS, SEGMENTS, Population
from seeds.textio import write_xlsx

ACCOUNTS_SHEET = "Accounts"
ACCOUNT_HEADER = [
    "Account ID",
    "Account Name",
    "ERP Customer No",
    "Parent Account ID",
    "Account Owner",
    "Collector",
    "Segment",
    "Region",
    "Created Date",
]
CONTACT_ROLES = ("billing", "primary", "finance", "procurement")
_DIAL_CODES = {
    "US": "+1",
    "CA": "+1",
    "DE": "+49",
    "FR": "+33",
    "NL": "+31",
    "GB": "+44",
    "ES": "+34",
    "IE": "+353",
    "SG": "+65",
    "AU": "+61",
    "JP": "+81",
}
P_NO_BILLING_CONTACT = 0.03


def account_id(number: int) -> str:
    return f"ACC{number:07d}"


def write_accounts(path: Path, pop: Population, parent: np.ndarray, company: str, as_of: dt.date) -> int:
    """The accounts report; ``parent`` is the (possibly defective) parent index per customer."""
    created = np.maximum(pop.start_day, 0).astype("datetime64[D]").astype(str)
    rows: list[list[str | None]] = [[f"Accounts report - {company} - exported {as_of.isoformat()}"], ACCOUNT_HEADER]
    for i in range(len(pop)):
        p = int(parent[i])
        rows.append(
            [
                account_id(int(pop.account_number[i])),
                str(pop.name[i]),
                str(pop.number[i]),
                account_id(int(pop.account_number[p])) if p >= 0 else None,
                str(pop.owner[i]),
                str(pop.collector[i]),
                SEGMENTS[pop.segment[i]],
                REGIONS[pop.region[i]],
                str(created[i]),
            ]
        )
    write_xlsx(path, ACCOUNTS_SHEET, rows, dt.datetime.combine(as_of, dt.time(6, 0)))
    return len(pop)


def write_contacts(path: Path, pop: Population, rng: np.random.Generator) -> int:
    """1-3 contacts per account; all but a few accounts have one billing contact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    per_account = 1 + rng.binomial(2, 0.4, len(pop))
    account = np.repeat(np.arange(len(pop)), per_account)
    first_of_account = np.r_[True, account[1:] != account[:-1]]
    n = len(account)
    role = np.where(
        first_of_account & (rng.random(n) >= P_NO_BILLING_CONTACT), 0, rng.integers(1, len(CONTACT_ROLES), n)
    )
    first = np.array(FIRST_NAMES)[rng.integers(0, len(FIRST_NAMES), n)]
    last = np.array(LAST_NAMES)[rng.integers(0, len(LAST_NAMES), n)]
    phone = rng.integers(100, 1000, n), rng.integers(1000, 10000, n)
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for j in range(n):
            i = account[j]
            domain = "".join(ch for ch in str(pop.name[i]).split(",")[0].lower() if ch.isalnum())
            record = {
                CONTACT_COLUMNS["contact_id"]: f"CT{j + 1:07d}",
                CONTACT_COLUMNS["account_id"]: account_id(int(pop.account_number[i])),
                CONTACT_COLUMNS["name"]: f"{first[j]} {last[j]}",
                CONTACT_COLUMNS["email"]: f"{first[j]}.{last[j]}@{domain}.example".lower(),
                CONTACT_COLUMNS["phone"]: f"{_DIAL_CODES[pop.country[i]]} {phone[0][j]} {phone[1][j]}",
                CONTACT_COLUMNS["role"]: CONTACT_ROLES[role[j]],
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return n
