"""What an open page costs the server while nobody does anything: CPU seconds per minute of the `tailor serve`
process, with one Chromium page on the Assistant tab and then on the Jobs tab (its timers poll).

    .venv/bin/python bench/idle_page.py [--seconds 30]

On a 2-core machine every second the server spends answering polls is taken from a training run on the CPU.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from helpers import tiny_model_dir  # noqa: E402
from server import running_app  # noqa: E402

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run"]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_pid(home: Path) -> int:
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if "ui.cli" in cmd and str(home) in cmd and "serve" in cmd:
                return int(p.name)
    raise RuntimeError("server not found")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    home = Path(tempfile.mkdtemp(prefix="tailor-idle-")) / "home"
    with running_app(home, tiny_model_dir()) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=ARGS)
        page = browser.new_page()
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(url)
        deadline = time.time() + 180  # the base model loads behind the page: measure after it has
        while "ready" not in page.locator("#engine-status").inner_text():
            assert time.time() < deadline, "the base model did not load"
            page.wait_for_timeout(500)
        page.wait_for_timeout(5_000)
        pid = server_pid(home)
        for tab in ("Assistant", "Jobs"):
            page.get_by_role("tab", name=tab).click()
            page.wait_for_timeout(3_000)
            before, t0, sent = cpu_seconds(pid), time.time(), len(requests)
            page.wait_for_timeout(args.seconds * 1000)
            used, took = cpu_seconds(pid) - before, time.time() - t0
            print(f"{tab} tab open, idle: the server used {used / took * 60:.1f} CPU seconds a minute; the page sent "
                  f"{(len(requests) - sent) / took * 60:.0f} requests a minute")
        browser.close()


if __name__ == "__main__":
    main()
