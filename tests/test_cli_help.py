"""The command line explains itself: `inflow --version`, and help text on every option of every
subcommand (an option added without help fails here)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from orchestration.cli import _parser, failed_line


def _parsers(parser: argparse.ArgumentParser, path: str = "inflow") -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, f"{path} {name}")


def test_every_option_and_subcommand_has_help() -> None:
    missing = []
    for path, parser in _parsers(_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                missing += [f"{path} {c.dest}" for c in action._choices_actions if not c.help]
            elif not action.help or action.help == argparse.SUPPRESS:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []


def test_subcommands_are_all_reached() -> None:
    paths = {path for path, _ in _parsers(_parser())}
    assert {"inflow generate", "inflow run", "inflow report", "inflow outbox send"} <= paths


def test_version_prints_the_installed_version() -> None:
    proc = subprocess.run([sys.executable, "-m", "orchestration.cli", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == "inflow 0.1.0"


def test_a_failed_run_says_what_readers_see(tmp_path: Path) -> None:
    serving = tmp_path / "serving.duckdb"
    assert failed_line("r1", serving) == "inflow: run r1 FAILED; nothing published: this home has none yet"
    serving.write_bytes(b"")
    assert failed_line("r1", serving) == f"inflow: run r1 FAILED; {serving} left as last published"
