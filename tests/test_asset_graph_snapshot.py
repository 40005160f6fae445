"""What a user sees in the Dagster UI, pinned: every asset key with its group, and every asset
check with whether it blocks. A refactor that moves code must not move these; an intended change
regenerates the snapshot (``INFLOW_UPDATE_SNAPSHOTS=1 pytest tests/test_asset_graph_snapshot.py``)
and the diff shows up in review."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg
import pytest

from orchestration.config import SAMPLE_CONFIG

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"


def asset_graph(defs: dg.Definitions) -> dict[str, object]:
    """Asset keys -> group, and check names -> blocking, sorted, as plain JSON-able data."""
    graph = defs.resolve_asset_graph()
    assets = {key.to_user_string(): graph.get(key).group_name for key in sorted(graph.get_all_asset_keys())}
    checks = {}
    for check_key in sorted(graph.asset_check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name)):
        spec = graph.get_check_spec(check_key)
        checks[f"{check_key.asset_key.to_user_string()}:{check_key.name}"] = {"blocking": spec.blocking}
    return {"assets": assets, "checks": checks}


def test_asset_keys_groups_and_checks_match_the_snapshot(sample_definitions: dg.Definitions) -> None:
    current = asset_graph(sample_definitions)
    if os.environ.get("INFLOW_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    expected = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert current["assets"] == expected["assets"]
    assert current["checks"] == expected["checks"]


@pytest.fixture(scope="module")
def sample_definitions(tmp_path_factory: pytest.TempPathFactory) -> dg.Definitions:
    from orchestration.definitions import build_definitions
    from orchestration.settings import Settings

    return build_definitions(Settings.load(SAMPLE_CONFIG, tmp_path_factory.mktemp("home")))


def test_every_reconciliation_test_is_a_check_with_a_description(sample_definitions: dg.Definitions) -> None:
    """A blocking dbt test that no asset's Checks tab shows is a gate nobody can see fail."""
    from orchestration.config import REPO_ROOT

    graph = sample_definitions.resolve_asset_graph()
    singular = {p.stem for p in (REPO_ROOT / "dbt_project" / "tests").rglob("*.sql") if "generic" not in p.parts}
    checks = {key.name for key in graph.asset_check_keys}
    assert singular <= checks, f"not shown as checks: {sorted(singular - checks)}"
    undescribed = [key.name for key in graph.asset_check_keys if not graph.get_check_spec(key).description]
    assert undescribed == []
