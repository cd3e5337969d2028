"""How fast the app comes up, as a user starts it (`tailor serve` with the embedded default base model).

    .venv/bin/python bench/app_start.py [--runs 3]

For a fresh data home (first start ever: the embedded GGUF is converted to safetensors in the background) and
then for the same home again (later starts), it times from launching the process to
  - page:   the web page answers (HTTP 200 on /), and
  - answer: the first answer of the base model through the OpenAI-compatible API (one token), i.e. the
            engine has loaded (and, the first time, converted) the model.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(home: Path) -> tuple[float, float]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ui.cli", "--home", str(home), "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        env={**os.environ, "TAILOR_HOME": str(home)},
    )
    try:
        while True:
            try:
                urllib.request.urlopen(url + "/", timeout=2)
                break
            except OSError:
                assert proc.poll() is None, "the app exited"
                time.sleep(0.05)
        page = time.perf_counter() - t0
        body = json.dumps(
            {"model": "SmolLM2-135M-Instruct", "max_tokens": 1, "messages": [{"role": "user", "content": "hi"}]}
        ).encode()
        req = urllib.request.Request(url + "/v1/chat/completions", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=900) as r:
            assert r.status == 200 and json.loads(r.read())["choices"]
        return page, time.perf_counter() - t0
    finally:
        proc.terminate()
        proc.wait(20)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3, help="later starts to time (the first start is timed once)")
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="tailor-start-")) / "home"
    first = start(home)
    later = [start(home) for _ in range(args.runs)]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; embedded SmolLM2-135M-Instruct")
    print("| start | page answers | first model answer |")
    print("|---|---|---|")
    print(f"| first ever (converts the GGUF in the background) | {first[0]:.1f} s | {first[1]:.1f} s |")
    print(
        f"| later (median of {args.runs}) | {statistics.median(p for p, _ in later):.1f} s "
        f"| {statistics.median(a for _, a in later):.1f} s |"
    )


if __name__ == "__main__":
    main()
