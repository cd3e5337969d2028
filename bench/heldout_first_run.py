"""Score a held-out conversation set the way its first run was scored: each conversation through `tailor plan
--json`, every expected field compared, and the conversations fully right counted.

    .venv/bin/python bench/heldout_first_run.py tests/corpus/heldout16.jsonl     (from the repository root)

To reproduce a set's first run, copy this script out of the tree, check out the commit that added the set ("Held-out
set N … committed before its first run") and run the copy from that checkout's root (docs/BENCHMARKS.md lists each
first run's score; set 25's, at 5665332, gives 6/24).
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path.cwd()
"""The checkout scored: run from its root (the script may live elsewhere, see above)."""
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def get(d: dict, path: str):
    for part in path.split("."):
        d = d[part]
    return d


def wrong(case: dict, files: Path) -> list[str]:
    from assistant.cli import main

    args = ["plan", "--json", "--gpu-memory", str(case.get("gpu", 0))]
    args += ["--data", str(files / case["data"])] if case.get("data") else []
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args + case["turns"])
    if code != 0:
        return [f"exit {code}: {err.getvalue().strip()[:200]}"]
    o = json.loads(out.getvalue())
    misses = []
    for key, want in case["expect"].items():
        if key == "reply_contains":
            ok, got = want in o["reply"], o["reply"][:120]
        elif key == "reply_lacks":
            ok, got = want not in o["reply"], o["reply"][:120]
        else:
            got = o[key] if key == "ready" else get(o["plan"], key)
            ok = got == want
        if not ok:
            misses.append(f"{key}: {got!r} (wanted {want!r})")
    return misses


def main(path: str) -> int:
    from corpus.make_files import write_corpus_files

    cases = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        write_corpus_files(Path(tmp))
        results = {c["id"]: wrong(c, Path(tmp)) for c in cases}
    for case_id, misses in results.items():
        if misses:
            print(f"  {case_id}: {'; '.join(misses)}")
    right = sum(not m for m in results.values())
    print(f"{path}: {right}/{len(cases)} fully right")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
