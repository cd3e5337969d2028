"""The plugin registry: built-ins through the same hooks, failure isolation, selection, and the example
plugin (examples/tailor-ner) installed with pip and used end to end — conversation, plan, CPU training,
evaluation with its metric and interval, the registry's record of it, and what happens without it."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from assistant import plugins

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "tailor-ner"


def fake_plugin(where: Path, name: str, code: str, version: str = "1.0") -> None:
    """An installed distribution as pip leaves it: a module and a dist-info with the entry point."""
    sys.modules.pop(name, None)  # the same name in an earlier test was another module
    if code.startswith(HEADER):
        code = HEADER + textwrap.dedent(code[len(HEADER):])
    (where / f"{name}.py").write_text(textwrap.dedent(code), encoding="utf-8")
    info = where / f"{name}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[tailor]\n{name} = {name}\n", encoding="utf-8")


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A folder on sys.path for fake installed plugins; every plugin may load; the registry reloads."""
    where = tmp_path / "site"
    where.mkdir()
    monkeypatch.syspath_prepend(str(where))
    monkeypatch.delenv("TAILOR_PLUGINS", raising=False)
    plugins.reset()
    yield where
    plugins.reset()


HEADER = "from assistant.plugins import Metric, TaskRecipe, hookimpl\n"


def test_the_builtins_register_through_the_same_hooks():
    loaded = plugins.get()
    assert {p.name for p in loaded.plugins} == set(plugins.BUILTINS) and not loaded.problems()
    assert {"classification", "chat", "code"} <= set(loaded.tasks)
    assert set(loaded.formats) == {"messages", "sharegpt", "alpaca", "prompt_completion", "columns"}
    assert {"accuracy", "f1", "rougeL", "perplexity"} <= set(loaded.metrics)
    assert "SmolLM2-135M-Instruct" in loaded.models and {"peft", "merged"} <= set(loaded.exporters)
    assert {"plan", "train", "adapters", "plugins", "evaluate"} <= set(loaded.commands)
    assert loaded.owner[("tasks", "classification")].builtin


def test_a_plugin_adds_a_task_the_conversation_understands_and_a_metric_the_evaluation_uses(site):
    fake_plugin(site, "legal_plugin", HEADER + """
        def clause_score(pred, ref):
            return float(pred.strip().lower() == ref.strip().lower())

        @hookimpl
        def register_tasks():
            return [TaskRecipe("clause_review", r"review (the )?clauses?|条款审查",
                               {"en": "Review the clause.", "zh": "审查条款。"}, ("clause_score",),
                               {"en": "Review the clauses of contracts", "zh": "条款审查"})]

        @hookimpl
        def register_metrics():
            return [Metric("clause_score", clause_score, higher_is_better=True)]
        """)
    from assistant.chat import converse
    from assistant.evaluate.metrics import corpus_score, paired_bootstrap

    turn = converse(["I want to review clauses in our contracts"])
    assert turn.plan.task.type == "clause_review"
    assert turn.plan.evaluation.metrics == ["clause_score"]
    assert turn.plan.plugins == {"legal_plugin": "1.0"}
    assert converse(["条款审查"]).plan.task.type == "clause_review"
    assert "Review the clauses of contracts" in converse(["hello"]).questions[0].suggestions
    assert corpus_score("clause_score", ["A", "b"], ["a", "c"]) == 0.5
    ci = paired_bootstrap("clause_score", ["a"] * 20, ["x"] * 20, ["a"] * 20, samples=200)
    assert ci["difference"] == 1.0 and ci["p_better"] == 1.0


@pytest.mark.parametrize("code, reason", [
    ("raise ImportError('no module named torch_xla')", "failed to import: ImportError: no module named torch_xla"),
    (HEADER + "@hookimpl\ndef register_tasks():\n    raise RuntimeError('boom')", "a hook failed: RuntimeError: boom"),
    (HEADER + "@hookimpl\ndef register_metrics():\n    return [Metric('bad name!', lambda p, r: 1.0)]",
     "metric name 'bad name!' must be letters"),
    (HEADER + "@hookimpl\ndef register_metrics():\n    return [Metric('accuracy', lambda p, r: 1.0)]",
     "metric 'accuracy' is already registered by assistant.plugins.builtin"),
    (HEADER + "@hookimpl\ndef register_tasks():\n    return [TaskRecipe('x', 'x', {'en': 'x'}, ('nope',))]",
     "task 'x' names metric 'nope', which no plugin registers"),
    (HEADER + "@hookimpl\ndef register_metrics():\n    return Metric('one', lambda p, r: 1.0)",
     "register_metrics must return a list"),
    (HEADER + "@hookimpl\ndef register_tasks():\n    return ['classification']", "returned a str, not a TaskRecipe"),
    (HEADER + "@hookimpl\ndef register_task():\n    return []", "not a valid plugin"),
    (HEADER + "@hookimpl\ndef register_tasks():\n    return [TaskRecipe('y', '(unclosed', {'en': 'y'}, ('accuracy',))]",
     "patterns is not a regular expression"),
])
def test_a_broken_plugin_is_disabled_with_one_line_and_tailor_keeps_working(site, code, reason):
    fake_plugin(site, "broken_plugin", code)
    fake_plugin(site, "good_plugin", HEADER + """
        @hookimpl
        def register_metrics():
            return [Metric("always_one", lambda p, r: 1.0)]
        """)
    loaded = plugins.get()
    broken = next(p for p in loaded.plugins if p.name == "broken_plugin")
    assert reason in broken.error, broken.error
    assert loaded.problems() == [f"plugin broken_plugin disabled: {broken.error}"] and "\n" not in broken.error
    assert not any(owner.name == "broken_plugin" for owner in loaded.owner.values())
    assert "always_one" in loaded.metrics and "classification" in loaded.tasks
    # The CLI says it in one line on stderr and does its work.
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{ROOT}"}
    env.pop("TAILOR_PLUGINS", None)
    out = subprocess.run([sys.executable, "-m", "ui.cli", "plugins", "list"], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert [line for line in out.stderr.splitlines() if "broken_plugin" in line] == [
        f"warning: plugin broken_plugin disabled: {broken.error}"]
    assert "good_plugin 1.0" in out.stdout and "DISABLED" in out.stdout


def test_tailor_help_lists_every_command_and_each_commands_help_prints(site, capsys):
    """`tailor --help` and each command's `--help` print and exit 0 — a plugin command's help is plain words
    (a "%" in it once broke the whole `tailor --help`: the evaluate command's "95% intervals"). A plugin command
    that cannot be built — its arguments raise, its argument help is a bad format, its name is `serve` — is left
    out with one line on stderr, and every other command stays."""
    import argparse

    from assistant.cli import build_parser
    from ui.cli import add_serve

    fake_plugin(site, "percent_plugin", """
        from assistant.plugins import Command, hookimpl

        def broken(parser):
            raise RuntimeError("no such option set")

        def bad_help(parser):
            parser.add_argument("--share", help="up 50%!")

        @hookimpl
        def register_commands():
            return [Command("share", "what share of rows pass: 100% means all (%(prog)s is not expanded)",
                            lambda args: 0),
                    Command("broken", "raises", lambda args: 0, broken),
                    Command("badhelp", "a bad format in its arguments' help", lambda args: 0, bad_help),
                    Command("serve", "another serve", lambda args: 0)]
        """)
    parser = build_parser([add_serve])
    warnings = capsys.readouterr().err.splitlines()
    assert any("'broken' left out: its arguments failed: RuntimeError: no such option set" in w for w in warnings)
    assert any("'badhelp' left out: its arguments failed: " in w for w in warnings)
    assert any("plugin percent_plugin's command 'serve' left out: `tailor serve` is already a command" in w
               for w in warnings)
    assert len(warnings) == 3 and all(w.startswith("warning: plugin percent_plugin's command ") for w in warnings)
    with pytest.raises(SystemExit) as done:
        parser.parse_args(["--help"])
    top = " ".join(capsys.readouterr().out.split())  # as one line: argparse wraps the help
    assert done.value.code == 0
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert set(commands) == {"serve", "plan", "train", "jobs", "adapters", "evaluate", "plugins", "mcp", "sweep",
                             "share"}
    assert all(name in top for name in commands) and "another serve" not in top
    assert "paired 95% intervals" in top and "100% means all (%(prog)s is not expanded)" in top
    for name in commands:
        with pytest.raises(SystemExit) as done:
            parser.parse_args([name, "--help"])
        assert done.value.code == 0 and f"usage: tailor {name}" in capsys.readouterr().out


def test_tailor_plugins_chooses_what_loads(site, monkeypatch):
    for name in ("first_plugin", "second_plugin"):
        fake_plugin(site, name, HEADER + f"""
            @hookimpl
            def register_metrics():
                return [Metric("{name}_metric", lambda p, r: 1.0)]
            """)
    assert {"first_plugin_metric", "second_plugin_metric"} <= set(plugins.get().metrics)
    monkeypatch.setenv("TAILOR_PLUGINS", "none")
    assert {p.name for p in plugins.get().plugins} == set(plugins.BUILTINS)
    monkeypatch.setenv("TAILOR_PLUGINS", "second_plugin")
    assert "second_plugin_metric" in plugins.get().metrics and "first_plugin_metric" not in plugins.get().metrics


def test_a_plan_naming_a_missing_plugin_says_which(site):
    from assistant.plan import Plan, PlanError

    raw = Plan().to_dict()
    raw["plugins"] = {"tailor_legal": "2.1"}
    with pytest.raises(PlanError, match=r"plugins: planned with tailor_legal 2.1, which is not installed here"):
        Plan.from_dict(raw)


# -- the example plugin, installed with pip -----------------------------------------------------------------
PEOPLE = ["John Smith", "Mary Jones", "Li Wei", "Anna Berg", "Omar Haddad", "Kenji Sato"]
PLACES = ["Paris", "London", "Beijing", "Cairo", "Lima", "Oslo"]
ORGS = ["Google", "Reuters", "UNICEF", "Siemens"]
TEMPLATES = [["{PER}", "visited", "{LOC}", "."], ["{PER}", "joined", "{ORG}", "in", "{LOC}", "."],
             ["Rain", "fell", "in", "{LOC}", "."], ["{ORG}", "hired", "{PER}", "."]]


def write_conll(path: Path, sentences: int = 64, seed: int = 0) -> Path:
    rng = random.Random(seed)
    lines = ["-DOCSTART- O", ""]
    for i in range(sentences):
        for slot in TEMPLATES[i % len(TEMPLATES)]:
            if slot.startswith("{"):
                kind = slot[1:-1]
                words = rng.choice({"PER": PEOPLE, "LOC": PLACES, "ORG": ORGS}[kind]).split()
                lines += [f"{w} {'B' if j == 0 else 'I'}-{kind}" for j, w in enumerate(words)]
            else:
                lines.append(f"{slot} O")
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def installed_example(tmp_path_factory) -> Path:
    """examples/tailor-ner installed by pip (a real wheel build and install, into its own folder)."""
    target = tmp_path_factory.mktemp("site-ner")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target",
                    str(target), str(EXAMPLE)], check=True, capture_output=True, timeout=300)
    assert (target / "tailor_ner" / "__init__.py").exists()
    return target


def tailor(*args: str, home: Path, site: Path | None, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "TAILOR_HOME": str(home), "PYTHONPATH": os.pathsep.join(
        [str(p) for p in (site, ROOT) if p is not None])}
    env.pop("TAILOR_PLUGINS", None)
    return subprocess.run([sys.executable, "-m", "ui.cli", *args], capture_output=True, text=True, env=env,
                          cwd=home, timeout=timeout)


def test_the_example_plugins_functions(installed_example, monkeypatch):
    monkeypatch.syspath_prepend(str(installed_example))
    import tailor_ner as ner

    text = "-DOCSTART- O\n\nJohn B-PER\nSmith I-PER\nin O\nParis B-LOC\n\n北 B-LOC\n京 I-LOC\n"
    rows = ner.read_conll(Path("x.conll"), text)
    assert [ner.to_example(r)["completion"] for r in rows] == ["PER: John Smith\nLOC: Paris", "LOC: 北京"]
    with pytest.raises(ValueError, match="line 3: 'B_PER' is not a BIO tag"):
        ner.read_conll(Path("x.conll"), "a O\n\nJohn B_PER\n")
    assert ner.entity_f1(["PER: John Smith\nLOC: Paris"], ["LOC: paris\nPER: John  Smith"]) == 1.0
    assert ner.entity_f1(["PER: John"], ["PER: John Smith"]) == 0.0
    assert ner.entity_f1(["NONE"], ["NONE"]) == 1.0


@pytest.mark.slow
def test_the_example_plugin_end_to_end(installed_example, tiny_model, tmp_path, isolated_home):
    home = isolated_home
    (home / "settings.json").write_text(json.dumps({"default_base_model": str(tiny_model)}), encoding="utf-8")
    data = write_conll(tmp_path / "news.conll")

    listed = json.loads(tailor("plugins", "list", "--json", home=home, site=installed_example).stdout)
    ner = next(p for p in listed if p["name"] == "ner")
    assert ner["version"] == "0.1.0" and "tailor-ner" in ner["source"] and not ner["error"]
    assert ner["adds"] == {"tasks": ["entities"], "formats": ["conll"], "metrics": ["entity_f1"]}

    # The conversation, in either language, picks the plugin's task, format and metric.
    zh = tailor("plan", "--json", "--data", str(data), "从新闻句子中抽取人名和地名", home=home, site=installed_example)
    assert json.loads(zh.stdout)["plan"]["task"]["type"] == "entities", zh.stderr
    turn = tailor(
        "plan",
        "--json",
        "--data",
        str(data),
        "extract the people and places from these news sentences",
        home=home,
        site=installed_example,
    )
    assert turn.returncode == 0, turn.stderr
    plan = json.loads(turn.stdout)["plan"]
    assert plan["task"]["type"] == "entities" and plan["data"]["format"] == "conll" and plan["data"]["rows"] == 64
    assert plan["evaluation"]["metrics"][0] == "entity_f1" and plan["plugins"] == {"ner": "0.1.0"}
    (tmp_path / "plan.json").write_text(turn.stdout, encoding="utf-8")  # the whole `plan --json` output trains

    trained = tailor("train", str(tmp_path / "plan.json"), home=home, site=installed_example)
    assert trained.returncode == 0, trained.stderr + trained.stdout
    name = f"{plan['name']}:1"
    folder = home / "adapters" / plan["name"] / "1"
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert "## Plugins" in card and "`ner` 0.1.0" in card

    evaluated = tailor(
        "evaluate", name, "--limit", "6", "--max-new-tokens", "12", "--json", home=home, site=installed_example
    )
    assert evaluated.returncode == 0, evaluated.stderr
    run = json.loads(evaluated.stdout)
    assert run["metrics"] == ["entity_f1", "exact_match"] and run["models"] == ["base", name]
    sys.path.insert(0, str(installed_example))
    try:
        from tailor_ner import entity_f1
    finally:
        sys.path.remove(str(installed_example))
    for model in run["models"]:  # the score is the plugin's function over the answers shown
        answers = [ex[model] for ex in run["examples"]]
        refs = [ex["reference"] for ex in run["examples"]]
        assert run["results"][model]["metrics"]["entity_f1"] == pytest.approx(entity_f1(answers, refs))
    ci = run["results"][name]["vs_base"]["entity_f1"]
    assert ci["low"] <= ci["difference"] <= ci["high"]
    shown = json.loads(tailor("adapters", "show", name, home=home, site=installed_example).stdout)
    assert shown["plan"]["plugins"] == {"ner": "0.1.0"}
    assert "entity_f1" in shown["metrics"]["final"]  # the evaluation's scores are stored on the adapter

    # Without the plugin: evaluating says what is missing; an import of the adapter warns.
    missing = tailor("evaluate", name, "--limit", "2", home=home, site=None)
    assert missing.returncode == 2 and "plugin ner 0.1.0, which is not installed here" in missing.stderr
    exported = tailor("adapters", "export", name, "--out", str(tmp_path / "a.zip"), home=home, site=None)
    assert exported.returncode == 0, exported.stderr
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    imported = tailor("adapters", "import", str(tmp_path / "a.zip"), "--base", str(tiny_model), home=fresh, site=None)
    assert imported.returncode == 0, imported.stderr
    assert "plan was made with plugin ner 0.1.0, not installed here" in imported.stderr


def test_a_plugins_lower_is_better_metric_sorts_best_first(site, isolated_home):
    """The registry's sort reads the registration: a lower-is-better metric lists its smallest value first."""
    fake_plugin(site, "cost_plugin", HEADER + """
        @hookimpl
        def register_metrics():
            return [Metric("cost", lambda p, r: float(len(p)), higher_is_better=False)]
        """)
    from assistant.config import Home
    from assistant.registry import Registry
    from assistant.registry.records import new_adapter

    registry = Registry(Home.resolve(isolated_home))
    for name, cost in (("cheap", 1.0), ("dear", 9.0), ("middling", 4.0)):
        row = new_adapter(name, base_model="b", base_source="b", weights_sha256=name * 4,
                          metrics={"cost": cost, "eval_loss": cost})
        registry.add_adapter({**row, "version": 1, "path": f"adapters/{name}/1", "size_bytes": 1})
    assert plugins.get().higher_is_better("cost") is False and plugins.get().higher_is_better("eval_loss") is False
    for metric in ("cost", "eval_loss"):
        out = subprocess.run([sys.executable, "-m", "ui.cli", "adapters", "list", "--sort", metric],
                             capture_output=True, text=True, cwd=ROOT, timeout=120,
                             env={**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{ROOT}"})
        assert [line.split(":")[0] for line in out.stdout.splitlines()] == ["cheap", "middling", "dear"], out
