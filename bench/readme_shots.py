"""The README's tour screenshots, from a real run: the embedded SmolLM2 on realistic review data, in Chromium.

    .venv/bin/python bench/readme_shots.py          # writes docs/images/*.png (about fifteen minutes on a CPU)

Starts `tailor serve` on a fresh data home with the embedded base model, asks for a sentiment classifier in
words, attaches 240 product reviews, edits the plan, trains (one epoch), and photographs each tab as a user
sees it: the plan, the editor and the data, the job with its loss curve and held-out scores, the registry,
side by side, the evaluation against the base with its baseline, the blind arena, and a two-trial sweep of the
learning rate asked for in words. Needs Debian's `chromium`
and, for the Chinese text in the plan, `fonts-noto-cjk`.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from review_data import write_reviews  # noqa: E402  (bench/)
from test_browser import choose, show_job, wait_text  # noqa: E402  (the browser tests' own helpers)

from server import running_app  # noqa: E402

OUT = ROOT / "docs" / "images"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run"]
def shot(page, name: str) -> None:
    page.wait_for_timeout(3500)  # charts redraw on every refresh (every 2 s): let one finish
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
    print(f"docs/images/{name}.png", flush=True)


def main() -> None:
    from playwright.sync_api import sync_playwright

    from assistant.models.resolve import ensure_embedded

    work = Path(tempfile.mkdtemp(prefix="tailor-shots-"))
    data = write_reviews(work / "product_reviews.csv")
    home = work / "home"
    ensure_embedded(home / "models")  # the embedded model, converted as a first start would
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    # The settings name the catalog model, as a user's would; its converted folder is already in the home.
    with running_app(home, Path("SmolLM2-135M-Instruct"), timeout=300) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url)
        wait_text(page.locator("#engine-status"), "ready", timeout=300)
        page.locator("#message textarea").fill("I want to classify customer reviews by sentiment")
        page.locator("#send").click()
        page.get_by_text("Please attach your training data").first.wait_for()
        page.locator("#data-file input[type=file]").set_input_files(str(data))
        page.get_by_text("Ready: press").first.wait_for(timeout=120_000)
        page.locator("#message textarea").fill("train for one epoch")
        page.locator("#send").click()
        wait_text(page.locator("#chatbot"), "training.epochs")
        shot(page, "1-plan")

        page.locator("#plan-editor").get_by_text("Edit the plan").click()
        page.locator("#data-preview").get_by_text("Your data").first.click()
        wait_text(page.locator("#rendered-examples"), "<|im_start|>assistant")
        page.locator("#token-histogram").wait_for()
        shot(page, "1b-edit-and-data")

        page.locator("#start").click()
        page.locator("#start-status").get_by_text("started").wait_for()
        page.get_by_role("tab", name="Jobs").click()
        wait_text(page.locator("#job-status"), "is in the registry", timeout=900)
        shot(page, "2-job")

        name = "classification-product_reviews:1"
        page.get_by_role("tab", name="Registry").click()
        wait_text(page.locator("#adapters-table"), name)
        choose(page, "#adapter-pick", name)
        wait_text(page.locator("#adapter-card"), "Baseline")
        shot(page, "3-registry")

        page.get_by_role("tab", name="Compare").click()
        page.locator("#compare-prompt textarea").fill("The zipper broke the first time I opened the backpack.")
        choose(page, "#compare-pick", name)
        page.locator("#compare-go").click()
        wait_text(page.locator("#compare-sides"), name, timeout=180)
        page.wait_for_timeout(3000)
        shot(page, "4-compare")

        page.locator("#eval-section").get_by_text("Evaluate on held-out data").first.click()
        page.locator("#eval-go").click()
        wait_text(page.locator("#eval-table"), "baseline", timeout=600)
        shot(page, "4b-evaluate")

        page.locator("#arena-section").get_by_text("Blind arena").first.click()
        page.locator("#arena-prompt textarea, #arena-prompt input").first.fill(
            "Great blender, smoothies in ten seconds.")
        page.locator("#arena-go").click()
        deadline = time.time() + 180
        while not page.locator("#arena-a textarea").input_value():
            if time.time() > deadline:
                raise TimeoutError("no arena answers")
            time.sleep(0.5)
        page.locator("#vote-a").click()
        wait_text(page.locator("#arena-result"), "A was")
        shot(page, "5-arena")

        # A sweep from the chat: two learning rates, the held-out accuracy picks the adapter kept.
        page.get_by_role("tab", name="Assistant").click()
        page.locator("#message textarea").fill("try learning rates 1e-4 and 5e-4 and keep the best")
        page.locator("#send").click()
        wait_text(page.locator("#start"), "Start 2 trials")
        page.locator("#start").click()
        started = page.locator("#start-status")
        wait_text(started, "started: 2 trials")
        job_id = started.inner_text().split("jobs ")[1].split()[0]
        show_job(page, job_id)
        wait_text(page.locator("#job-status"), "The sweep's winner is registered as", timeout=1800)
        wait_text(page.locator("#sweep-trials"), "🏆")
        # The winner's own job: its trial number is on the 🏆 row; the trials' jobs were queued in trial order.
        cells = page.locator("#sweep-trials").inner_text().splitlines()  # one cell a line, row by row
        best = cells[next(i for i, c in enumerate(cells) if "🏆" in c) - 1].strip()  # the trial, left of its status
        show_job(page, str(int(job_id) + int(best) - 1))
        wait_text(page.locator("#job-status"), f"trial {best}:")
        page.wait_for_timeout(3000)
        shot(page, "2b-sweep")
        browser.close()


if __name__ == "__main__":
    main()
