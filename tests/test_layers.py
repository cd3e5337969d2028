"""The house rules that keep the code navigable: imports only go down, and the library stays light."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_library_imports_neither_the_web_app_nor_torch():
    """`tailor plan` and the registry start fast: importing them pulls in no gradio, no ui and no torch."""
    code = ("import sys, json; import assistant.cli, assistant.plan, assistant.registry, assistant.registry.manage; "
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    loaded = set(json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                           cwd=ROOT).stdout))
    assert not loaded & {"gradio", "ui", "torch", "transformers", "peft", "trl"}, loaded & {"gradio", "ui", "torch"}


def imports_of(path: Path) -> set[str]:
    """The absolute module names a file imports (relative imports resolved against its package)."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                out.add(".".join([*base, node.module] if node.module else base))
            else:
                out.add(node.module or "")
    return out


def test_nothing_in_the_library_imports_the_web_app():
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "assistant").rglob("*.py")
                 if any(m == "ui" or m.startswith("ui.") or m.startswith("gradio") for m in imports_of(p))]
    assert not offenders, offenders


def test_the_ground_floor_does_not_reach_up():
    """data/ and models/ are used by training, serving and the conversation; they use none of them."""
    upper = ("assistant.train", "assistant.serve", "assistant.chat", "assistant.registry", "assistant.evaluate")
    offenders = {str(p.relative_to(ROOT)): sorted(m for m in imports_of(p) if m.startswith(upper))
                 for sub in ("data", "models") for p in (ROOT / "assistant" / sub).rglob("*.py")}
    assert not {k: v for k, v in offenders.items() if v}


def test_an_installed_tailor_carries_its_schema_and_entry_point(tmp_path):
    """A wheel (what `pip install` without -e installs) holds the registry schema and the `tailor` command."""
    import zipfile

    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path)], check=True, capture_output=True, timeout=300)
    with zipfile.ZipFile(next(tmp_path.glob("tailor-*.whl"))) as wheel:
        names = wheel.namelist()
        schema = wheel.read("assistant/registry/schema.sql")
        entry = wheel.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert schema == (ROOT / "registry.db.sql").read_bytes()
    assert "tailor = ui.cli:main" in entry


def test_the_code_passes_the_linter():
    """ruff with the project's rules, line length (120) included: `make lint` is part of every test run."""
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "assistant", "ui", "tests", "bench", "examples"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stdout[-3000:]


def test_no_module_of_the_library_or_the_web_app_outgrows_a_read():
    """A room a newcomer can read: no file in assistant/ or ui/ over 450 lines (split it where it divides)."""
    long = {str(p.relative_to(ROOT)): n for sub in ("assistant", "ui") for p in (ROOT / sub).rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 450}
    assert not long, long
