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
        assert time.time() < deadline, f"{text!r} not shown; saw: {locator.inner_text()[-800:]}"
        time.sleep(0.5)


def wait_value(locator, value: str, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while locator.input_value() != value:
        assert time.time() < deadline, f"field shows {locator.input_value()!r}, not {value!r}"
        time.sleep(0.2)


def choose(page, dropdown: str, value: str) -> None:
    """Pick a value in a Gradio dropdown (which also accepts typed values)."""
    box = page.locator(f"{dropdown} input")
    box.click()
    box.fill(value)
    box.press("Enter")


def ready_plan(page, data) -> None:
    """The Assistant tab with a ready plan (the module's earlier tests usually left one)."""
    page.get_by_role("tab", name="Assistant").click()
    if "Ready: press" not in page.locator("#chatbot").inner_text():  # a fresh page: plan first
        page.locator("#message textarea").fill("I want to classify customer reviews by sentiment")
        page.locator("#data-file input[type=file]").set_input_files(str(data))
        page.get_by_text("Ready: press").first.wait_for()


def show_job(page, job_id: str) -> None:
    """The Jobs tab showing job `job_id` (typed into its field, as a keyboard user would)."""
    page.get_by_role("tab", name="Jobs").click()
    field = page.locator("#job-id input")
    field.click()
    field.press("Control+a")
    field.type(job_id)
    field.press("Enter")
    field.press("Tab")
    wait_value(field, job_id)


def shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_journey_in_the_browser(page, topic_csv):
    page.locator("#message textarea").fill("I want to classify customer reviews by sentiment")
    page.locator("#send").click()
    page.get_by_text("Please attach your training data").first.wait_for()
    page.locator("#data-file input[type=file]").set_input_files(str(topic_csv))
    page.locator("#plan-card").get_by_text("classification").first.wait_for()
    page.get_by_text("Ready: press").first.wait_for()
    wait_text(page.locator("#start"), "GB on CPU")  # the start button carries the memory and time estimate
    shot(page, "1-plan")

    # Edit by chat: the reply says what changed.
    page.locator("#message textarea").fill("train 2 epochs")
    page.locator("#send").click()
    wait_text(page.locator("#chatbot"), "training.epochs: 3.0 → 2.0")
    wait_text(page.locator("#plan-card"), "2 epochs")
    # Edit in the plan editor: the edit becomes a turn of the conversation, and the card follows.
    page.locator("#plan-editor").get_by_text("Edit the plan").click()
    rank = page.locator("#edit-r input")
    wait_value(rank, "16")  # the form holds the current plan
    rank.click()
    rank.press("Control+a")
    rank.type("8")
    rank.press("Tab")  # Gradio takes a number's value when the field is left
    wait_value(rank, "8")
    page.wait_for_timeout(300)
    page.locator("#apply-edits").click()
    wait_text(page.locator("#chatbot"), "✎ rank 8")
    wait_text(page.locator("#plan-card"), "r=8")
    # The data preview: mapping, rows, the token histogram and the rendered examples.
    page.locator("#data-preview").get_by_text("Your data").first.click()
    wait_text(page.locator("#data-mapping"), "input text → output label")
    wait_text(page.locator("#rendered-examples"), "<|im_start|>assistant")
    page.locator("#token-histogram").wait_for()
    shot(page, "1b-edit-and-data")

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
    page.locator("#adapter-search textarea, #adapter-search input").first.fill("zzz-no-such-adapter")
    deadline = time.time() + 20
    while "classification-topics:1" in page.locator("#adapters-table").inner_text():
        assert time.time() < deadline, "search did not filter the table"
        time.sleep(0.5)
    page.locator("#adapter-search textarea, #adapter-search input").first.fill("classification")
    wait_text(page.locator("#adapters-table"), "classification-topics:1")
    choose(page, "#adapter-pick", "classification-topics:1")
    page.locator("#download").click()
    wait_text(page.locator("#adapter-zip"), "KB")
    assert "classification-topics-v1" in page.locator("#adapter-zip").inner_text()
    # The adapter's page: what it is, its metrics, its plan, where it came from, its files.
    card = page.locator("#adapter-card")
    wait_text(card, "classification-topics:1")
    for words in ("train_loss", "Plan", "Asked for", "classify customer reviews", "adapter_model.safetensors"):
        assert words in card.inner_text(), words
    shot(page, "3-registry")

    page.get_by_role("tab", name="Compare").click()
    page.locator("#compare-prompt textarea").fill("the goal and the match with team")
    choose(page, "#compare-pick", "classification-topics:1")
    page.locator("#compare-go").click()
    wait_text(page.locator("#compare-sides"), "classification-topics:1")
    assert page.locator("#compare-sides h4").all_inner_texts() == ["base", "classification-topics:1"]
    shot(page, "4-compare")

    # Batch evaluation on the held-out rows: a results table with intervals, then the examples that differ.
    page.locator("#eval-section").get_by_text("Evaluate on held-out data").first.click()
    assert page.locator("#eval-stop").is_hidden(), "nothing to stop yet"
    page.locator("#eval-go").click()
    wait_text(page.locator("#eval-table"), "accuracy", timeout=240)
    page.locator("#eval-stop").wait_for(state="hidden", timeout=30_000)  # shown while it ran, gone once done
    table = page.locator("#eval-table").inner_text()
    assert "base" in table and "classification-topics:1" in table and "[" in table  # the 95% interval
    assert page.locator("#eval-diff-model input").input_value() == "classification-topics:1"
    shot(page, "4b-evaluate")

    # The blind arena: vote, then the names and the leaderboard appear.
    page.locator("#arena-section").get_by_text("Blind arena").first.click()
    page.locator("#arena-prompt textarea, #arena-prompt input").first.fill("the goal and the match")
    page.locator("#arena-go").click()
    deadline = time.time() + 60
    while not page.locator("#arena-a textarea").input_value():
        assert time.time() < deadline, "no arena answers"
        time.sleep(0.5)
    page.locator("#vote-a").click()
    wait_text(page.locator("#arena-result"), "A was")
    wait_text(page.locator("#leaderboard"), "classification-topics:1")
    shot(page, "6-arena")


FOCUS = """([css, text]) => {
    const e = document.activeElement, s = getComputedStyle(e);
    const shown = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none';
    return {match: e.matches(css) && (!text || e.innerText.trim() === text), shown, what: e.outerHTML.slice(0, 160)};
}"""


def settled(page, timeout: float = 60) -> None:
    """Wait until no event of the page is still running (Gradio shows a status tracker while one is)."""
    busy = ("() => [...document.querySelectorAll('[data-testid=status-tracker]')]"
            ".filter(e => !e.classList.contains('hide')).length")
    deadline = time.time() + timeout
    while page.evaluate(busy):
        assert time.time() < deadline, "an event is still running"
        time.sleep(0.2)


def tab_to(page, css: str, text: str | None = None, back: bool = False, limit: int = 80) -> None:
    """Press Tab (Shift+Tab with `back`) until the focused element matches `css` (and shows `text`).
    Every element the focus passes must show a visible focus ring."""
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        f = page.evaluate(FOCUS, [css, text])
        if not f["what"].startswith("<body"):
            assert f["shown"], f"the focus is invisible on {f['what']}"
        if f["match"]:
            return
    raise AssertionError(f"{css} {text or ''} cannot be reached with the keyboard")


@pytest.fixture
def fresh_page(page):
    """The same app in a new browser context: a new visitor, with nothing typed, uploaded or focused yet."""
    context = page.context.browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    pg.goto(page.url.split("?")[0])
    pg.locator("#message textarea").wait_for()
    yield pg
    context.close()


def test_the_whole_app_works_from_the_keyboard(fresh_page, topic_csv):
    """No mouse: describe, attach, start, open the Jobs tab, cancel, search the registry, compare."""
    page = fresh_page
    tab_to(page, "#message textarea")
    page.keyboard.type("I want to classify customer reviews by sentiment and train 50 epochs")
    page.keyboard.press("Enter")
    page.get_by_text("Please attach your training data").first.wait_for()
    settled(page)
    tab_to(page, "#data-file button")
    # The upload button opens the file chooser from the keyboard. In headless Chromium the chooser event is
    # sometimes missed on the first key (about one run in three, also on a fresh page; cause not found), so a
    # second key — Space, the other key that presses a button — is allowed before the test fails.
    try:
        with page.expect_file_chooser(timeout=5_000) as chooser:
            page.keyboard.press("Enter")
    except Exception:  # noqa: BLE001 - playwright's TimeoutError; the retry below must succeed
        assert page.evaluate(FOCUS, ["#data-file button", None])["match"], "the focus left the upload button"
        with page.expect_file_chooser() as chooser:
            page.keyboard.press("Space")
    chooser.value.set_files(str(topic_csv))
    wait_text(page.locator("#plan-card"), "50 epochs")
    page.get_by_text("Ready: press").first.wait_for()
    tab_to(page, "#start")
    page.keyboard.press("Enter")
    wait_text(page.locator("#start-status"), "started")
    job_id = page.locator("#start-status").inner_text().split("Job ")[1].split()[0]

    tab_to(page, "[role=tab]", "Jobs", back=True)
    page.keyboard.press("Enter")
    wait_text(page.locator("#job-status"), f"Job {job_id}: running")
    tab_to(page, "#cancel")
    page.keyboard.press("Enter")
    wait_text(page.locator("#job-status"), "cancelled", timeout=180)
    shot(page, "7-cancelled")

    tab_to(page, "[role=tab]", "Registry", back=True)
    page.keyboard.press("Enter")
    tab_to(page, "#adapter-search textarea, #adapter-search input")
    page.keyboard.type("topics")
    wait_text(page.locator("#adapters-table"), "classification-topics:1")

    tab_to(page, "[role=tab]", "Compare", back=True)
    page.keyboard.press("Enter")
    tab_to(page, "#compare-prompt textarea")
    page.keyboard.type("the goal and the match")
    tab_to(page, "#compare-pick input")
    page.keyboard.type("classification-topics:1")
    page.keyboard.press("Enter")
    tab_to(page, "#compare-go")
    page.keyboard.press("Enter")
    wait_text(page.locator("#compare-sides"), "classification-topics:1")
    shot(page, "9-keyboard")


def test_every_control_has_a_name_and_text_is_readable_in_light_and_dark(page):
    """Screen readers need a name for every control; text must keep WCAG AA contrast (4.5:1) in both themes."""
    unnamed = """() => [...document.querySelectorAll('button, input, textarea, select, [role=tab]')]
        .filter(e => e.offsetParent !== null && e.type !== 'hidden')
        .filter(e => !((e.getAttribute('aria-label') || '') + (e.getAttribute('aria-labelledby') ? 'x' : '')
                        + [...(e.labels || [])].map(l => l.innerText).join('') + (e.innerText || '') + (e.title || '')
                        + (e.getAttribute('placeholder') || '')).trim())
        .map(e => e.outerHTML.slice(0, 160))"""
    contrast = """(selectors) => {
        const rgb = c => (c.match(/[\\d.]+/g) || []).map(Number);
        const lum = ([r, g, b]) => [r, g, b].map(v => {
            v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
                                            .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
        const back = e => { for (; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor);
                              if (c.length === 3 || c[3] > 0.5) return c.slice(0, 3); } return [255, 255, 255]; };
        const out = {};
        for (const sel of selectors) for (const e of document.querySelectorAll(sel)) {
            if (e.offsetParent === null || e.disabled || !e.innerText.trim()) continue;
            const a = lum(rgb(getComputedStyle(e).color)), b = lum(back(e));
            out[sel] = Math.min(out[sel] ?? 99, (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05));
        }
        return out; }"""
    url = page.url.split("?")[0]
    for theme in ("light", "dark"):
        page.goto(f"{url}?__theme={theme}")
        page.locator("#message textarea").wait_for()
        page.locator("#message textarea").fill("I want to classify customer reviews by sentiment")
        page.locator("#send").click()
        page.get_by_text("Please attach your training data").first.wait_for()
        for tab in ("Assistant", "Jobs", "Registry", "Compare", "Settings"):
            page.get_by_role("tab", name=tab).click()
            page.wait_for_timeout(300)
            assert page.evaluate(unnamed) == [], f"controls without a name on the {tab} tab ({theme})"
            ratios = page.evaluate(
                contrast,
                [
                    "#plan-card p",
                    "#chatbot .message p",
                    "#job-status p",
                    "label span",
                    "#adapter-card p",
                    "[role=tab]",
                    "button",
                ],
            )
            low = {k: round(v, 2) for k, v in ratios.items() if v < 4.5}
            assert not low, f"text below 4.5:1 contrast on the {tab} tab ({theme}): {low}"
        shot(page, f"10-{theme}")
    page.goto(url)


def test_settings_and_a_phone_width_window(page):
    page.get_by_role("tab", name="Settings").click()
    page.locator("#settings-user textarea, #settings-user input").first.fill("ann")
    page.locator("#settings-save").click()
    wait_text(page.locator("#settings-result"), "needs both a username and a password")
    page.locator("#settings-user textarea, #settings-user input").first.fill("")
    # A secret typed into the form is not kept in the browser: Gradio's run history (after 6.0) would keep every
    # public call's inputs in localStorage and show them again on /gradio_api/runs; Tailor turns it off.
    secret = "sk-typed-into-the-settings-form-0123456789"
    page.locator("#settings-api-key input").fill(secret)
    page.locator("#settings-save").click()
    wait_text(page.locator("#settings-result"), "Saved.")
    wait_text(page.locator("#settings-secrets"), "API key: set")
    stored = page.evaluate("JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])")
    assert secret not in stored and "run-history" not in stored, stored[:400]
    assert page.request.get(page.url.split("?")[0].rstrip("/") + "/gradio_api/runs").status == 404
    page.locator("#settings-clear").get_by_label("API key").check()
    page.locator("#settings-save").click()
    wait_text(page.locator("#settings-secrets"), "API key: not set")
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("tab", name="Assistant").click()
    page.locator("#message textarea").wait_for()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 2, f"the page is {overflow}px wider than a phone"
    shot(page, "8-phone")
    page.set_viewport_size({"width": 1280, "height": 900})


def test_a_bad_file_gets_a_clear_error(page, tmp_path):
    bad = tmp_path / "broken.jsonl"
    bad.write_text('{"prompt": "a", "completion": "b"}\n{"prompt": oops}\n')
    page.get_by_role("tab", name="Assistant").click()
    page.locator("#data-file input[type=file]").set_input_files(str(bad))
    page.get_by_text("broken.jsonl, line 2").first.wait_for()
    shot(page, "5-bad-file")


def test_the_evaluation_stop_button_goes_when_an_evaluation_fails(fresh_page):
    """The stop button shows only while an evaluation runs, and goes when one fails too (Gradio 6 runs no `.then`
    after a failed event): evaluating with no adapter chosen fails at once with a message."""
    page = fresh_page
    page.get_by_role("tab", name="Compare").click()
    page.locator("#eval-section").get_by_text("Evaluate on held-out data").first.click()
    stop = page.locator("#eval-stop")
    assert stop.is_hidden()
    page.locator("#eval-go").click()
    page.get_by_text("Choose at least one adapter").first.wait_for()
    stop.wait_for(state="hidden", timeout=10_000)


def test_a_sweep_from_the_chat_runs_its_trials_and_shows_them_best_first(page, topic_csv):
    ready_plan(page, topic_csv)
    box = page.locator("#message textarea")
    box.fill("stop after 3 steps and try ranks 2 and 4")
    box.press("Enter")
    wait_text(page.locator("#plan-card"), "grid: rank 2, 4 → 2 trials")
    wait_text(page.locator("#start"), "Start 2 trials")
    started = page.locator("#start-status")
    page.locator("#start").click()
    wait_text(started, "started: 2 trials")
    sweep_id = started.inner_text().split("Sweep ")[1].split()[0]
    job_id = started.inner_text().split("jobs ")[1].split()[0]
    show_job(page, job_id)
    wait_text(page.locator("#job-status"), f"Sweep {sweep_id}")
    wait_text(page.locator("#job-status"), "The sweep's winner is registered as", timeout=400)
    trials = page.locator("#sweep-trials")
    wait_text(trials, "🏆")
    # Rows by their accessible role: Gradio 6.0's table keeps a hidden copy of itself that its text includes.
    assert trials.get_by_role("row").filter(has_text="succeeded").count() == 2
    page.locator("#sweep-plot svg").first.wait_for()
    assert page.locator("#sweep-plot circle.trial").count() == 2, "one dot a trial in the score chart"
    shot(page, "2b-sweep")
    page.get_by_role("tab", name="Assistant").click()  # the chat says how it went, once
    wait_text(page.locator("#chatbot"), f"Sweep {sweep_id} ended: trial", timeout=30)
    assert page.locator("#chatbot").inner_text().count(f"Sweep {sweep_id} ended") == 1
