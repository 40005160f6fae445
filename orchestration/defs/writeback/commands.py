"""``inflow outbox list|approve|reject|send``: operate the ERP outbox from the command line.

Wiring (in ``orchestration/cli.py``)::

    from orchestration.defs.writeback.commands import add_outbox_parser, run_outbox_command
    add_outbox_parser(sub)                      # next to the 'generate' and 'run' parsers
    ...
    if args.command == "outbox":
        return run_outbox_command(args)         # or run_outbox_command(args, writeback=cfg.writeback, home=home)

None of these commands opens the warehouse, so they work while a refresh runs. Exit status:
0 done, 1 a send left changes failed or queued, 2 a refused request (unknown key, illegal move,
another sender running, a bad configuration, a home no run has written an outbox in).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from orchestration.config import ConfigError
from orchestration.defs.writeback.changes import visible_value
from orchestration.defs.writeback.outbox import (
    STATUSES,
    IllegalTransition,
    OutboxError,
    OutboxRow,
    OutboxStore,
    SenderBusy,
)
from orchestration.defs.writeback.sender import send
from orchestration.defs.writeback.settings import ChangeKind, WritebackConfig
from orchestration.secret_refs import SecretMissing
from orchestration.settings import Settings

KEY_WIDTH = 12
#: ``approve --all-pending`` narrowed by these options (``--kind``, ``--target``).
PENDING_FILTERS = ("kind", "target")


def positive_count(value: str) -> int:
    """An argparse type for a count of 1 or more (``outbox list --limit``, ``outbox send
    --max-batches``, ``audit --last``), refused with a usage error otherwise. Below 1 each of them
    answered wrongly instead: 0 printed no change or event, or sent nothing while approved changes
    waited, and read as an empty store or queue; a negative limit is none to SQLite, ``--last -3``
    showed all but the first 3 events, and ``--max-batches -1`` sent nothing."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{number} is not a count of 1 or more")
    return number


def add_outbox_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``outbox`` and its four subcommands to the ``inflow`` parser."""
    outbox = subparsers.add_parser("outbox", help="list, approve, reject and send changes back to the ERP")
    actions = outbox.add_subparsers(dest="outbox_command", required=True)

    listing = actions.add_parser("list", help="show changes, newest last")
    listing.add_argument(
        "--status", action="append", choices=STATUSES, default=[], help="only this status (repeatable)"
    )
    listing.add_argument(
        "--kind", action="append", choices=[k.value for k in ChangeKind], default=[], help="only this kind (repeatable)"
    )
    listing.add_argument("--target", action="append", default=[], help="only this target (repeatable)")
    listing.add_argument(
        "--limit",
        type=positive_count,
        default=None,
        help="show only the newest N changes (1 or more), still listed oldest first",
    )
    listing.add_argument("--json", action="store_true", help="one JSON object per line, every column")

    approve = actions.add_parser("approve", help="approve pending (or retry failed) changes")
    approve.add_argument("keys", nargs="*", help="keys or unique prefixes (8+ characters)")
    approve.add_argument("--all-pending", action="store_true", help="every pending change (with --kind/--target)")
    approve.add_argument(
        "--kind",
        action="append",
        choices=[k.value for k in ChangeKind],
        default=[],
        help="with --all-pending: only this kind (repeatable)",
    )
    approve.add_argument(
        "--target", action="append", default=[], help="with --all-pending: only this target (repeatable)"
    )
    approve.add_argument("--by", default=None, help="who approves (default: the login name)")

    reject = actions.add_parser("reject", help="reject changes for good, with a reason")
    reject.add_argument("keys", nargs="+", help="keys or unique prefixes (8+ characters)")
    reject.add_argument("--reason", required=True, help="why (kept with each change and shown by list)")
    reject.add_argument("--by", default=None, help="who rejects (default: the login name)")

    sender = actions.add_parser("send", help="deliver approved changes to their targets")
    sender.add_argument("--target", action="append", default=[], help="only these targets (repeatable)")
    sender.add_argument(
        "--max-batches", type=positive_count, default=None, help="stop after this many batches per target (1 or more)"
    )
    return outbox


def _line(row: OutboxRow) -> str:
    shown = visible_value(row.field, json.loads(row.value))
    shown = "" if shown is None else (shown if len(shown) <= 40 else shown[:37] + "...")
    note = row.reason if row.status == "rejected" else (row.last_error or "")
    return (
        f"{row.idempotency_key[:KEY_WIDTH]}  {row.status:<12} {row.kind:<20} {row.target:<12} "
        f"{row.entity_key:<16} {row.field:<24} {shown:<40} {row.attempts:>3}  {note}"
    ).rstrip()


def _list(store: OutboxStore, args: argparse.Namespace) -> int:
    rows = store.rows(statuses=args.status, kinds=args.kind, targets=args.target, limit=args.limit)
    if args.json:
        for row in rows:
            print(json.dumps(row.__dict__, ensure_ascii=False))
        return 0
    print(
        f"{'key':<{KEY_WIDTH}}  {'status':<12} {'kind':<20} {'target':<12} {'entity':<16} {'field':<24} "
        f"{'value':<40} {'try':>3}  reason / last error"
    )
    for row in rows:
        print(_line(row))
    print(f"{len(rows)} change(s)")
    return 0


def _actor(args: argparse.Namespace) -> str:
    return args.by or getpass.getuser()


def _selection_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with what ``approve`` was asked to approve, or None: it takes change keys, or
    --all-pending (narrowed by --kind/--target); a filter without --all-pending would otherwise be
    reported as keys and --all-pending given together, or be ignored beside keys."""
    filters = "/".join(f"--{name}" for name in PENDING_FILTERS if getattr(args, name))
    if args.all_pending and args.keys:
        return "give change keys or --all-pending, not both"
    if filters and not args.all_pending:
        return f"{filters} narrows --all-pending: give --all-pending with it, or give change keys without it"
    if not args.all_pending and not args.keys:
        return "give change keys or --all-pending"
    return None


def _approve(store: OutboxStore, args: argparse.Namespace) -> int:
    if problem := _selection_problem(args):
        raise OutboxError(problem)
    if args.all_pending:
        keys = [r.idempotency_key for r in store.rows(statuses=("pending",), kinds=args.kind, targets=args.target)]
    else:
        keys = store.resolve_keys(args.keys)
    count = store.approve(keys, actor=_actor(args))
    print(f"inflow: approved {count} change(s)")
    return 0


def _reject(store: OutboxStore, args: argparse.Namespace) -> int:
    count = store.reject(store.resolve_keys(args.keys), reason=args.reason, actor=_actor(args))
    print(f"inflow: rejected {count} change(s)")
    return 0


def _send(store: OutboxStore, config: WritebackConfig, home: Path, args: argparse.Namespace) -> int:
    report = send(store, config, home, targets=args.target, max_batches=args.max_batches)
    for name, target in report.targets.items():
        print(
            f"inflow: {name}: delivered {target.delivered} in {target.batches} batch(es), failed {target.failed}, "
            f"queued for retry {target.retry_later}, acknowledged by the target {target.acknowledged_by_poll}"
            + (f"; stopped: {target.stopped}" if target.stopped else "")
        )
    if not report.targets:
        print("inflow: no writeback targets configured; nothing to send")
    return 1 if (report.failed or report.retry_later) else 0


def run_outbox_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run one ``inflow outbox`` subcommand against the outbox store of the settings' home. The
    store must exist: only a run's outbox step puts changes in it, so a missing one means a
    mistyped --home (or no run yet), which is refused rather than answered from an empty store
    created there."""
    writeback, home = settings.config.writeback, settings.home
    try:
        if missing := settings.layout.not_written(OutboxStore.path_at_home(home)):
            raise OutboxError(missing)
        with OutboxStore.at_home(home) as store:
            if args.outbox_command == "list":
                return _list(store, args)
            if args.outbox_command == "approve":
                return _approve(store, args)
            if args.outbox_command == "reject":
                return _reject(store, args)
            return _send(store, writeback, home, args)
    except (OutboxError, IllegalTransition, SenderBusy, SecretMissing, ConfigError) as exc:
        print(f"inflow: {exc}", file=sys.stderr)
        return 2
