"""Cash as treasury sees it: card-processor settlements and bank statement lines.

Card payments recorded in the ERP reach the bank as net processor payouts two business days
later (one line per payout day and currency); every other payment is its own bank credit, checks
after clearing. Lines wait in a small columnar queue until the month of their value date, so a
payout straddling a month end lands in the right statement.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seeds.calendar import Month, next_business_day, previous_business_day
from seeds.ledger import Payments
from seeds.population import CARD, CHECK, CURRENCIES, Population
from seeds.records import Records

FEE_RATE = 0.029
FEE_FIXED_CENTS = 30
RECEIPT, PAYOUT, BANK_FEE = range(3)


@dataclass(frozen=True)
class SettlementLines(Records):
    payment_no: np.ndarray
    customer: np.ndarray
    day: np.ndarray
    currency: np.ndarray
    amount: np.ndarray
    fee: np.ndarray
    payout_day: np.ndarray


@dataclass(frozen=True)
class BankLines(Records):
    value_day: np.ndarray
    kind: np.ndarray  # RECEIPT, PAYOUT or BANK_FEE
    currency: np.ndarray
    amount: np.ndarray  # signed cents: credits positive, fees negative
    customer: np.ndarray  # -1 for payouts and fees
    payment_no: np.ndarray  # -1 for payouts and fees


class CashBook:
    """Derives processor and bank records from the payments of each closed month."""

    def __init__(self) -> None:
        self._pending: BankLines | None = None

    def record(self, payments: Payments, pop: Population) -> SettlementLines:
        """Settlement lines of the month's card payments; queue every payment's bank credit."""
        method = pop.method[payments.customer]
        currency = pop.currency[payments.customer].astype(np.int8)
        card = method == CARD
        fee = np.round(payments.amount * FEE_RATE).astype(np.int64) + FEE_FIXED_CENTS
        payout_day = next_business_day(payments.day + 2).astype(np.int32)
        value_day = np.where(
            card, payout_day, np.where(method == CHECK, next_business_day(payments.day + 2), payments.day)
        ).astype(np.int32)
        lines = BankLines(
            value_day=value_day,
            kind=np.where(card, PAYOUT, RECEIPT).astype(np.int8),
            currency=currency,
            amount=np.where(card, payments.amount - fee, payments.amount),
            customer=np.where(card, -1, payments.customer),
            payment_no=np.where(card, -1, payments.number),
        )
        self._pending = lines if self._pending is None else BankLines.concat([self._pending, lines])
        return SettlementLines(
            payments.number[card],
            payments.customer[card],
            payments.day[card],
            currency[card],
            payments.amount[card],
            fee[card],
            payout_day[card],
        )

    def statement(self, rng: np.random.Generator, month: Month, as_of: int) -> BankLines:
        """Bank lines valued in ``month`` up to ``as_of``: receipts, aggregated payouts, fees."""
        if self._pending is None:
            raise RuntimeError("statement before any payments were recorded")
        pending = self._pending
        due = pending.value_day <= month.last_day
        self._pending = pending.subset(~due)
        lines = pending.subset(due & (pending.value_day <= as_of))
        receipts = lines.subset(lines.kind == RECEIPT)
        payouts = _aggregate_payouts(lines.subset(lines.kind == PAYOUT))
        fees = _bank_fees(rng, month, as_of)
        out = BankLines.concat([receipts, payouts, fees])
        return out.subset(np.lexsort((out.payment_no, out.currency, out.kind, out.value_day)))


def _aggregate_payouts(parts: BankLines) -> BankLines:
    """One bank credit per payout: the processor pays out per day and currency."""
    key = parts.value_day.astype(np.int64) * len(CURRENCIES) + parts.currency
    order = np.argsort(key, kind="stable")
    key = key[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.zeros(0, np.int64)
    amount = np.add.reduceat(parts.amount[order], starts) if len(key) else np.zeros(0, np.int64)
    k = len(starts)
    return BankLines(
        value_day=(key[starts] // len(CURRENCIES)).astype(np.int32),
        kind=np.full(k, PAYOUT, dtype=np.int8),
        currency=(key[starts] % len(CURRENCIES)).astype(np.int8),
        amount=amount.astype(np.int64),
        customer=np.full(k, -1, dtype=np.int64),
        payment_no=np.full(k, -1, dtype=np.int64),
    )


def _bank_fees(rng: np.random.Generator, month: Month, as_of: int) -> BankLines:
    """Monthly account fees, one per currency account, on the last business day of the month."""
    day = int(previous_business_day(np.array([month.last_day]))[0])
    k = len(CURRENCIES) if day <= as_of else 0
    return BankLines(
        value_day=np.full(k, day, dtype=np.int32),
        kind=np.full(k, BANK_FEE, dtype=np.int8),
        currency=np.arange(k, dtype=np.int8),
        amount=-rng.integers(1_500, 6_000, k).astype(np.int64),
        customer=np.full(k, -1, dtype=np.int64),
        payment_no=np.full(k, -1, dtype=np.int64),
    )
