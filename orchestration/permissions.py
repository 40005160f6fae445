"""Who may read what Inflow writes: its owner only, unless the configuration shares the
publication with the owner's group.

Every process of Inflow (the command line, the Dagster code location the UI loads) starts with
umask 077, so every file and folder it writes — the warehouse with its raw personal data, the
outbox, the audit trail, the Dagster instance, logs, exception files — is created readable by its
owner only (0600 / 0700). ``serving.group_read: true`` opens the publication, and only it, to the
owner's group after each publish: ``serving.duckdb``, ``exports/`` and ``reports/`` become group
readable (0640 / 0750) and the home folder group traversable, so BI and finance accounts in that
group read what is published and nothing else.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

OWNER_ONLY_UMASK = 0o077
GROUP_FILE, GROUP_DIR = 0o640, 0o750


def owner_only() -> None:
    """Files and folders this process creates from now on are its owner's only."""
    os.umask(OWNER_ONLY_UMASK)


def restrict_tree(root: Path) -> None:
    """Owner-only modes on a folder someone else filled: a copy keeps its source's mode whatever
    the umask (dagster-dbt copies dbt's partial-parse file from the checkout into a run's folder)."""
    for path in [root, *root.rglob("*")] if root.exists() else []:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode & 0o700)


def share_with_group(home: Path, published: Iterable[Path]) -> None:
    """Make ``published`` (files or folders, recursively) readable by the owner's group, and the
    home traversable (but not listable beyond what stat shows) for the group."""
    home.chmod((home.stat().st_mode & 0o700) | 0o050)
    for root in published:
        if not root.exists():
            continue
        paths = [root] if root.is_file() else [root, *root.rglob("*")]
        for path in paths:
            if path.is_symlink():
                continue
            path.chmod(GROUP_DIR if stat.S_ISDIR(path.stat().st_mode) else GROUP_FILE)
