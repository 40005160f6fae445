"""``inflow check``: the configuration, and the first rows of every source, judged in seconds.

Every table's files are matched and the first rows of each source (the first file of a glob, at
most :data:`SAMPLE_ROWS` data rows; a query's result) are read with the table's own reader into an
in-memory DuckDB, typed and judged with the very SQL landing runs. Every problem is collected and
reported at once — a misspelt column with "did you mean" and the file's actual header, a glob that
matches nothing, sample values that do not parse, codes a value map lacks — and the warehouse is
never opened.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb

from expectations.contracts import ENTITIES
from expectations.sql import Known, rules_sql
from expectations.suites import Bounds
from orchestration.config import ConfigError, InflowConfig, TableConfig, load_config
from orchestration.defs.ingestion import readers
from orchestration.defs.ingestion.date_order import judge_date_order
from orchestration.defs.ingestion.landing import batch_files, confined, resolve_url
from orchestration.defs.ingestion.readers import BatchRejected
from orchestration.defs.ingestion.typing_sql import typed_batch_sql
from orchestration.secret_refs import SecretMissing, missing_variables
from orchestration.warehouse import scalar

SAMPLE_ROWS = 1000


def _head(path: Path, rows: int, folder: Path) -> Path:
    """The first ``rows`` data rows of a delimited file (header lines kept), as a new file."""
    target = folder / path.name
    with path.open("rb") as source, target.open("wb") as out:
        for index, line in enumerate(source):
            if index > rows + 20:
                break
            out.write(line)
    return target


def _read_sample(
    con: duckdb.DuckDBPyConnection, tbl: TableConfig, required: list[str], files: list[Path], tmp: Path
) -> readers.LandedBatch:
    """The first rows of the first file that has any. A table whose files may be empty (a glob of
    delta files: the new month's on its first day) is sampled from its first file with data rows,
    as a run lands them without complaint; any other table from its first file."""
    for file in files if tbl.may_be_empty else files[:1]:
        path = _head(file, SAMPLE_ROWS, tmp) if tbl.format == "csv" else file
        landed = readers.FILE_READERS[tbl.format](con, path, tbl, required)
        landed.file = str(file)
        if landed.rows:
            break
    return landed


Finding = tuple[bool, str]
"""(is a problem that would stop a run, text); the others are rows a run would quarantine."""


def _sample(
    config: InflowConfig, source: str, table: str, con: duckdb.DuckDBPyConnection, tmp: Path
) -> Iterator[Finding]:
    """Findings of one table: its files, and its first rows read, typed and judged."""
    src = config.sources[source]
    tbl = src.tables[table]
    ent = ENTITIES[tbl.entity]
    name = f"{source}.{table}"
    try:
        if tbl.format == "query":
            url, secrets = resolve_url(config, src.url or "", f"sources.{source}.url")
            landed = readers.read_query(con, url, tbl, ent.required, secrets=secrets)
        else:
            files = batch_files(config, tbl)
            if not files:
                yield True, f"{name}: no file matches {config.resolve(tbl.path or '')}"
                return
            for file in files:
                confined(config, file)
            landed = _read_sample(con, tbl, ent.required, files, tmp)
    except BatchRejected as exc:
        yield True, f"{name}: {exc.rule}: {str(exc).replace(str(tmp) + '/', '')}"
        return
    except SecretMissing:
        return  # reported once per variable by check_config
    if landed.rows == 0:
        if not tbl.may_be_empty:
            yield True, f"{name}: {landed.file}: no data rows (batch_empty)"
        return
    con.execute(
        f"create or replace temp view _check_group as select cast(0 as bigint) as _batch, * from {readers.LANDING}"  # noqa: S608 (temp names are constants of this module)
    )
    orders = judge_date_order(con, ent, tbl, "_check_group", [landed.file])
    for rule_name, message in orders.problems.get(0, []):
        yield True, f"{name}: {rule_name}: {message}"
    typed = typed_batch_sql(ent, tbl, "_check_group", orders.formats)
    judged = rules_sql(ent, typed, config.reporting_currency, _no_bounds(), Known())
    con.execute(f"create or replace temp table _check_judged as {judged}")
    rows = con.execute(
        """
        select split_part(f, chr(31), 1) as rule, split_part(f, chr(31), 2) as col, count(*),
               min(split_part(f, chr(31), 3))
        from (select unnest(_failures) as f from _check_judged) group by all order by 3 desc
        """
    ).fetchall()
    failing = scalar(con, "select count(*) from _check_judged where len(_failures) > 0")
    _, per_load, floor = config.quarantine_limits(tbl)
    stops = failing > floor and failing / landed.rows > per_load
    if stops:
        yield (
            True,
            (
                f"{name}: {failing} of the first {landed.rows} rows ({failing / landed.rows:.0%}) would be "
                "quarantined, "
                f"beyond max_quarantine_share_per_load {per_load:.0%}: the run would fail (quarantine_share_exceeded)"
            ),
        )
    for rule_name, column, count, detail in rows:
        yield stops, f"{name}: {rule_name} on {column}: {count} of the first {landed.rows} rows, e.g. {detail}"
    if tbl.entity == "invoices":
        yield from _fx_findings(config, con, name)


def _fx_findings(config: InflowConfig, con: duckdb.DuckDBPyConnection, name: str) -> Iterator[Finding]:
    """A run stops on an open document in a currency without a rate to the reporting currency
    (``fx_rate_missing``, when ``quality.fx_rate_missing`` blocks). With no table landing FX rates
    at all, every foreign currency in the first rows is one; which rates an FX export lacks is
    for the run to judge."""
    if config.quality.fx_rate_missing != "block" or any(t.entity == "fx_rates" for *_, t in config.tables()):
        return
    foreign = [
        currency
        for (currency,) in con.execute(
            "select distinct currency from _check_judged where currency <> ? order by 1", [config.reporting_currency]
        ).fetchall()
    ]
    if foreign:
        yield (
            True,
            f"{name}: documents in {', '.join(foreign)} and no table lands fx_rates: a run fails "
            f"(fx_rate_missing) while one of them is open; map an FX rates export, or set "
            "quality.fx_rate_missing: warn",
        )


def _no_bounds() -> Bounds:
    """Sample rows are judged with today's date window, as a run today would judge them."""
    return Bounds(as_of=dt.date.today())


EXIT_STOPPED = 1
"""``inflow check``'s status when a run would start and fail (a source's files or first rows)."""
EXIT_REFUSED = 2
"""Its status when ``inflow run`` would refuse the configuration before starting (its own status 2)."""


def _refusals(config_path: Path) -> tuple[InflowConfig | None, list[str]]:
    """The configuration, and what ``inflow run`` refuses before it starts: a configuration that
    does not load (then no configuration), a variable a source names that is not set."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        return None, [str(exc)]
    return config, list(missing_variables(config.secret_references("sources")))


def _findings(config: InflowConfig | None, refused: list[str]) -> list[Finding]:
    """The refusals, then the findings of every table's files and first rows."""
    problems: list[Finding] = [(True, text) for text in refused]
    if config is None:
        return problems
    con = duckdb.connect()
    try:
        with tempfile.TemporaryDirectory(prefix="inflow-check-") as tmp:
            for source, table, _, _ in config.tables():
                problems.extend(_sample(config, source, table, con, Path(tmp)))
    finally:
        con.close()
    return problems


def check_config(config_path: Path) -> list[Finding]:
    """Every finding of a configuration and of its sources' first rows (empty when all is well)."""
    return _findings(*_refusals(config_path))


def run_check(config_path: Path) -> int:
    """Print every problem at once. The status is the one ``inflow run`` would end with: 2 when it
    would refuse the configuration, 1 when a source would stop it, 0 when neither would (so a
    script can tell a configuration to fix from an export to fix)."""
    config, refused = _refusals(config_path)
    findings = _findings(config, refused)
    problems = [text for stops, text in findings if stops]
    notes = [text for stops, text in findings if not stops]
    if problems or config is None:  # no configuration is always a refusal, so among the problems
        print(f"inflow check: {config_path}: {len(problems)} problem(s) that would stop a run")
        for text in problems:
            first, *details = text.splitlines()
            print(f"  - {first}")
            for detail in details:  # one problem's own list (the keys of an invalid configuration)
                print(f"    {detail.strip()}")
    else:
        for missing in config.missing_entities():
            print(f"inflow check: note: no table lands {missing}; they are derived from the documents")
        print(f"inflow check: {config_path}: configuration valid, every source's first rows read")
        for text in notes:
            print(f"  would quarantine: {text}")
    if config is not None:  # a run does not need them; the closed loop does
        for text in missing_variables(config.secret_references("writeback")):
            print(f"inflow check: note: {text}: `inflow outbox send` would stop")
    if not problems:
        return 0
    return EXIT_REFUSED if refused else EXIT_STOPPED
