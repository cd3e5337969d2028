"""End to end in a real browser: headless Chromium (Debian's package) driven by Playwright.

Describe → attach → plan → start → watch the job → registry → compare. Screenshots of the key screens go
to test-output/screenshots/ (the README's tour uses them).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from server import running_app

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[1] / "test-output" / "screenshots"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run"]


@pytest.fixture(scope="module")
def page(tiny_model, tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium is not installed (make test installs Debian's chromium package)")
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with running_app(tmp_path_factory.mktemp("browser-home"), tiny_model) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        pg = browser.new_page(viewport={"width": 1280, "height": 900})
        pg.set_default_timeout(30_000)
        pg.goto(url)
        yield pg
        browser.close()


def wait_text(locator, text: str, timeout: float = 60) -> None:
    """Wait until the element's visible text contains `text` (tables re-render; their cells come and go)."""
    deadline = time.time() + timeout
    while text not in locator.inner_text():
        assert time.time() < deadline, f"{text!r} not shown; saw: {locator.inner_text()[:500]}"
        time.sleep(0.5)


def shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_journey_in_the_browser(page, topic_csv):
    page.locator("#message textarea").fill("I want to classify customer reviews by sentiment")
    page.locator("#send").click()
    page.get_by_text("Please attach your training data").first.wait_for()
    page.locator("#data-file input[type=file]").set_input_files(str(topic_csv))
    page.locator("#plan-card").get_by_text("classification").first.wait_for()
    page.get_by_text("Ready: press").first.wait_for()
    shot(page, "1-plan")

    page.locator("#start").click()
    page.locator("#start-status").get_by_text("started").wait_for()
    page.get_by_role("tab", name="Jobs").click()
    deadline = time.time() + 240
    status = page.locator("#job-status")
    while "succeeded" not in status.inner_text():
        assert time.time() < deadline, status.inner_text()
        assert "failed" not in status.inner_text(), status.inner_text()
        time.sleep(1)
    shot(page, "2-job")

    page.get_by_role("tab", name="Registry").click()
    wait_text(page.locator("#adapters-table"), "classification-topics:1")
    shot(page, "3-registry")

    page.get_by_role("tab", name="Compare").click()
    page.locator("#compare-prompt textarea").fill("the goal and the match with team")
    pick = page.locator("#compare-pick input")
    pick.click()
    pick.fill("classification-topics:1")
    pick.press("Enter")
    page.locator("#compare-go").click()
    wait_text(page.locator("#compare-sides"), "classification-topics:1")
    assert page.locator("#compare-sides h4").all_inner_texts() == ["base", "classification-topics:1"]
    shot(page, "4-compare")


def test_a_bad_file_gets_a_clear_error(page, tmp_path):
    bad = tmp_path / "broken.jsonl"
    bad.write_text('{"prompt": "a", "completion": "b"}\n{"prompt": oops}\n')
    page.get_by_role("tab", name="Assistant").click()
    page.locator("#data-file input[type=file]").set_input_files(str(bad))
    page.get_by_text("broken.jsonl, line 2").first.wait_for()
    shot(page, "5-bad-file")
