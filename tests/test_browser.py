"""In a real browser: the review pack page and the Dagster UI over a home with one run.

Debian's ``chromium`` (``.ci/run`` installs it) is driven by Playwright from PyPI through
``executable_path``; no browser build is downloaded. Screenshots are kept under the test's
temporary folder, copied to ``<home>/reports/<as_of>/screenshots/`` and, when
``INFLOW_SCREENSHOTS`` names a folder, there too. Without chromium the module is skipped with
the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.published_home import PUBLISHED_AS_OF, PublishedHome

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory, published_home: PublishedHome) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("screenshots")
    yield folder
    targets = [published_home.home / "reports" / PUBLISHED_AS_OF / "screenshots"]
    if os.environ.get("INFLOW_SCREENSHOTS"):
        targets.append(Path(os.environ["INFLOW_SCREENSHOTS"]))
    for target in targets:
        target.mkdir(parents=True, exist_ok=True)
        for shot in folder.glob("*.png"):
            shutil.copy(shot, target / shot.name)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def dagster_ui(published_home: PublishedHome, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``dagster-webserver`` on a free loopback port over the home's instance and code location."""
    port = _free_port()
    log = tmp_path_factory.mktemp("webserver") / "webserver.log"
    env = {
        **os.environ,
        "DAGSTER_HOME": str(published_home.home / "dagster"),
        "INFLOW_HOME": str(published_home.home),
        "INFLOW_CONFIG": str(published_home.config),
        "DAGSTER_DISABLE_TELEMETRY": "1",
    }
    webserver = str(Path(sys.executable).parent / "dagster-webserver")
    with log.open("w") as out:
        process = subprocess.Popen(
            [webserver, "-h", "127.0.0.1", "-p", str(port), "-m", "orchestration.definitions"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while not _ready(f"{base}/server_info"):
            if process.poll() is not None or time.time() > deadline:
                pytest.fail(f"dagster-webserver did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # the webserver and its code server, started here
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _images_loaded(page: object, selector: str) -> list[int]:
    """Natural widths of the images a selector finds (0 = the image did not decode)."""
    return page.eval_on_selector_all(selector, "els => els.map(e => e.complete ? e.naturalWidth : 0)")


def test_review_pack_page_renders_its_charts_and_tables(
    browser: object, published_home: PublishedHome, screenshots: Path
) -> None:
    page_file = published_home.home / "reports" / PUBLISHED_AS_OF / f"ar_review_{PUBLISHED_AS_OF}.html"
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(page_file.as_uri(), wait_until="load")
    widths = _images_loaded(page, "img.chart")
    assert len(widths) == 3 and all(w >= 800 for w in widths), widths
    assert page.locator("#headline .card").count() >= 5
    headings = page.locator("section h2").all_inner_texts()
    assert headings == [
        "Portfolio and aging",
        "KPI trends: DSO and CEI",
        "Collector queue",
        "Payment behaviour by segment and customer",
        "Data exceptions by owner",
        "Cash forecast (13 weeks)",
    ]
    assert page.locator("table[data-sheet='Customers'] tbody tr").count() == 25
    # Nothing is fetched beyond the file itself and its inline images.
    assert [u for u in requests if not u.startswith(("file://", "data:"))] == []
    page.screenshot(path=str(screenshots / "review_pack_top.png"))
    page.screenshot(path=str(screenshots / "review_pack_full.png"), full_page=True)
    page.close()


def _dismiss_onboarding(page: object) -> None:
    """Dagster's first-visit "Join the community" dialog covers the page; skip it if shown."""
    skip = page.get_by_role("button", name="Skip")
    try:
        skip.click(timeout=5000)
    except Exception:  # noqa: BLE001 - the dialog is optional (already dismissed in this profile)
        return


def test_dagster_ui_shows_every_asset_group_and_the_pack_plots(
    browser: object, dagster_ui: str, screenshots: Path
) -> None:
    groups = sorted(set(json.loads(SNAPSHOT.read_text())["assets"].values()))
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{dagster_ui}/asset-groups", wait_until="networkidle", timeout=120_000)
    _dismiss_onboarding(page)
    for group in groups:
        page.get_by_text(group, exact=True).first.wait_for(state="visible", timeout=60_000)
    page.screenshot(path=str(screenshots / "dagster_asset_groups.png"))

    page.goto(f"{dagster_ui}/assets/reports/review_pack", wait_until="networkidle", timeout=120_000)
    _dismiss_onboarding(page)
    # A long Markdown value is a "[Show Markdown]" link that opens it in a dialog: open each plot.
    for plot in ("aging_stack", "dso_cei_trend", "cash_forecast_fan"):
        row = page.get_by_text(plot, exact=True).first.locator("xpath=ancestor::tr")
        row.get_by_text("[Show Markdown]").click(timeout=60_000)
        dialog = page.get_by_role("dialog")
        image = dialog.locator("img[src^='data:image/png;base64,']")
        image.wait_for(state="visible", timeout=30_000)
        assert _images_loaded(page, "[role=dialog] img") == [1000], plot
        page.wait_for_timeout(1000)  # the dialog fades in; the screenshot is for people to look at
        page.screenshot(path=str(screenshots / f"dagster_review_pack_{plot}.png"))
        dialog.get_by_role("button", name="Close").click()
        dialog.wait_for(state="hidden", timeout=10_000)
    page.close()
