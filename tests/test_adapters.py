"""The adapter registry: migrations, search, tags and aliases, import safety, delete/rename, check, merge."""

from __future__ import annotations

import json
import os
import sqlite3
import zipfile
from pathlib import Path

import pytest

from assistant.cli import main
from assistant.config import Home
from assistant.registry import Registry
from assistant.registry.manage import RegistryError, check, delete_adapter, import_adapter, rename_adapter
from assistant.registry.store import WEIGHTS, adapter_dir, export_merged, export_zip, store_adapter
from helpers import peft_adapter, tiny_model_dir, zip_of

FIXTURES = Path(__file__).parent / "fixtures"


def register(reg: Registry, base: Path, tmp: Path, name: str, seed: int = 0, task: str = "classification",
             description: str = "", metrics: dict | None = None) -> dict:
    plan = {"name": name, "task": {"type": task, "description": description, "instruction": "Classify."},
            "base_model": {"name": base.name, "source": str(base)}}
    return store_adapter(reg, peft_adapter(base, tmp / f"{name}-{seed}", seed), plan, job_id=None, plan_id=None,
                         base_hub_id=str(base), base_source=str(base), metrics=metrics or {}, log_file=None)


def generate(base: Path, adapter: Path, prompt: str = "the goal and the match") -> list[int]:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(base)
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), str(adapter)).eval()
    ids = tok(prompt, return_tensors="pt")
    with torch.no_grad():
        return model.generate(**ids, max_new_tokens=8, do_sample=False)[0].tolist()


@pytest.fixture
def reg() -> Registry:
    return Registry(Home.resolve())


# -- schema ------------------------------------------------------------------------------------------------
def test_a_v1_registry_upgrades_in_place_without_losing_rows(tmp_path):
    home = Home.resolve(tmp_path / "old")
    conn = sqlite3.connect(home.db_path)
    conn.executescript((FIXTURES / "registry_v1.sql").read_text())
    conn.execute("insert into plans(id, json, created) values (1, '{}', 't')")
    conn.execute("insert into jobs(id, plan_id, status, created) values (1, 1, 'succeeded', 't')")
    conn.execute(
        "insert into adapters(id, name, version, description, task, base_model, base_source, path, "
        "weights_sha256, size_bytes, plan_id, job_id, metrics, created) values (1, 'old-sentiment', 1, "
        "'reviews of kitchen gadgets', 'classification', 'SmolLM2-135M-Instruct', 'x', 'adapters/old-sentiment/1', "
        "'abc', 10, 1, 1, '{\"accuracy\": 0.9}', 't')"
    )
    conn.execute("insert into tags values (1, 'kitchen')")
    conn.execute("insert into aliases values ('production', 1)")
    conn.commit()
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    conn.close()

    reg = Registry(home)
    assert reg.db.execute("PRAGMA user_version").fetchone()[0] == 4
    assert {"sweep_id", "trial", "trial_settings", "result"} <= set(reg.db["jobs"].columns_dict)  # v4
    assert reg.db["sweeps"].exists()
    rec = reg.adapter("production")
    assert (rec.name, rec.metrics, rec.tags, rec.origin) == ("old-sentiment", {"accuracy": 0.9}, ["kitchen"], "trained")
    assert reg.job(1).status == "succeeded" and reg.plan(1)["json"] == "{}"
    assert [a.name for a in reg.search("kitchen")] == ["old-sentiment"]  # tag, indexed by the migration
    assert [a.name for a in reg.search("gadget")] == ["old-sentiment"]  # description words, by prefix
    # Opening it again is a no-op.
    assert Registry(home).count_adapters() == 1


def test_the_kind_of_an_old_failure_becomes_a_field(tmp_path):
    """v2 → v3: a job that failed for want of memory, recorded as a prefix of its error, gets
    failure='out_of_memory'."""
    home = Home.resolve(tmp_path / "old")
    conn = sqlite3.connect(home.db_path)
    conn.executescript((FIXTURES / "registry_v1.sql").read_text())
    conn.execute("insert into plans(id, json, created) values (1, '{}', 't')")
    for jid, error in ((1, "out of memory: the plan needs 30 GB"), (2, "bad data: x.csv, line 3: ...")):
        conn.execute(
            "insert into jobs(id, plan_id, status, created, error) values (?, 1, 'failed', 't', ?)", [jid, error]
        )
    conn.commit()
    conn.close()
    reg = Registry(home)
    assert (reg.job(1).failure, reg.job(2).failure) == ("out_of_memory", "bad_data")


def test_a_fresh_registry_matches_an_upgraded_one(tmp_path):
    def shape(db_path):
        conn = sqlite3.connect(db_path)
        tables = {
            r[0]: [c[1] for c in conn.execute(f"pragma table_info('{r[0]}')")]
            for r in conn.execute(
                "select name from sqlite_master where type = 'table' and name not like 'adapter_search_%'"
            )
        }
        indexes = {
            r[0] for r in conn.execute("select name from sqlite_master where type = 'index' and sql is not null")
        }
        return tables, indexes

    Registry(Home.resolve(tmp_path / "fresh"))
    old = Home.resolve(tmp_path / "old")
    conn = sqlite3.connect(old.db_path)
    conn.executescript((FIXTURES / "registry_v1.sql").read_text())
    conn.close()
    Registry(old)
    assert shape(tmp_path / "fresh" / "registry.db") == shape(old.db_path)


# -- find --------------------------------------------------------------------------------------------------
def test_search_by_words_tag_task_base_and_sort_by_metric(reg, tiny_model, tmp_path):
    a = register(
        reg,
        tiny_model,
        tmp_path,
        "support-intents",
        1,
        description="route helpdesk tickets by intent",
        metrics={"accuracy": 0.71},
    )
    b = register(
        reg,
        tiny_model,
        tmp_path,
        "news-topics",
        2,
        description="sort headlines into topics",
        metrics={"accuracy": 0.93},
    )
    c = register(
        reg,
        tiny_model,
        tmp_path,
        "legal-summaries",
        3,
        task="summarization",
        description="summarize contracts",
        metrics={"rougeL": 0.4},
    )
    reg.tag(b.id, ["production-candidate", "news"])
    names = lambda rows: [r.name for r in rows]  # noqa: E731
    assert names(reg.search("helpdesk")) == ["support-intents"]
    assert names(reg.search("headline")) == ["news-topics"]  # prefix of "headlines"
    assert names(reg.search("news")) == ["news-topics"]
    assert names(reg.search("", tag="news")) == ["news-topics"]
    assert names(reg.search("", task="summarization")) == ["legal-summaries"]
    assert names(reg.search("contracts summarize")) == ["legal-summaries"]  # every word must match
    assert names(reg.search("", sort="accuracy")) == ["news-topics", "support-intents", "legal-summaries"]
    assert names(reg.search("", sort="accuracy", descending=False))[:2] == ["support-intents", "news-topics"]
    assert names(reg.search("", base_model=tiny_model.name)) == ["legal-summaries", "news-topics", "support-intents"]
    assert reg.search("nothing-like-this") == []
    with pytest.raises(ValueError):
        reg.search("", sort="accuracy; drop table adapters")
    lineage = reg.lineage(c.id)
    assert lineage["adapter"]["name"] == "legal-summaries" and [v["version"] for v in lineage["versions"]] == [1]
    assert a.origin == "trained" and a.base_revision.startswith("local:")
    assert [b["name"] for b in reg.base_models()] == [tiny_model.name]


def test_cli_tag_alias_describe_list_search_show(reg, tiny_model, tmp_path, capsys):
    # An empty registry says so on stderr; stdout, what scripts read, stays empty.
    assert main(["adapters", "list"]) == 0 and main(["jobs", "list"]) == 0
    said = capsys.readouterr()
    assert said.out == "" and said.err.splitlines() == ["no adapters yet",
                                                        "no jobs yet: `tailor train PLAN.json` queues one"]
    register(reg, tiny_model, tmp_path, "sentiment", 1)
    register(reg, tiny_model, tmp_path, "sentiment", 2)
    assert main(["adapters", "tag", "sentiment:1", "reviews", "english"]) == 0
    assert main(["adapters", "alias", "production", "sentiment:1"]) == 0
    assert main(["adapters", "describe", "sentiment:2", "tuned", "on", "hotel", "reviews"]) == 0
    capsys.readouterr()
    assert main(["adapters", "list", "--tag", "english"]) == 0
    assert capsys.readouterr().out.startswith("sentiment:1")
    assert main(["adapters", "search", "hotel"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("sentiment:2") and "sentiment:1" not in out
    assert main(["adapters", "search", "nothing-like-it"]) == 0
    said = capsys.readouterr()
    assert said.out == "" and said.err == "no adapter matches\n"
    assert main(["adapters", "show", "production"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["adapter"]["version"] == 1 and shown["adapter"]["aliases"] == ["production"]
    assert [v["version"] for v in shown["versions"]] == [1, 2]
    # The alias moves.
    assert main(["adapters", "alias", "production", "sentiment:2"]) == 0
    assert reg.adapter("production").version == 2
    assert main(["adapters", "alias", "sentiment", "sentiment:1"]) == 2  # an alias may not shadow a name
    assert main(["adapters", "show", "nope"]) == 2
    assert "no adapter named 'nope'" in capsys.readouterr().err


# -- export and import -------------------------------------------------------------------------------------
def test_export_then_import_into_a_fresh_home_is_identical(reg, tiny_model, tmp_path):
    rec = register(reg, tiny_model, tmp_path, "topics", 5)
    zip_path = export_zip(reg, rec)
    other = Registry(Home.resolve(tmp_path / "elsewhere"))
    imported = import_adapter(other, zip_path, base_source=str(tiny_model))
    assert imported.name == "topics" and imported.origin == "imported"
    assert imported.weights_sha256 == rec.weights_sha256
    assert imported.base_source == str(tiny_model.resolve())
    assert generate(tiny_model, adapter_dir(other, imported)) == generate(tiny_model, adapter_dir(reg, rec))
    # The same weights again are found by their sha256, and nothing new is written.
    with pytest.raises(RegistryError, match="already registered as topics:1"):
        import_adapter(other, zip_path, base_source=str(tiny_model))
    assert other.count_adapters() == 1


@pytest.fixture
def good_files(tiny_model, tmp_path) -> dict[str, bytes]:
    folder = peft_adapter(tiny_model, tmp_path / "good", seed=9)
    return {f.name: f.read_bytes() for f in folder.iterdir() if f.is_file()}


def other_base(tmp_path: Path) -> Path:
    """A model with other layer sizes (hidden 32): adapters for it must not load onto the tiny model."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from helpers import smol_tokenizer_dir

    cfg = LlamaConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=49152,
        tie_word_embeddings=True,
    )
    LlamaForCausalLM(cfg).save_pretrained(tmp_path / "other-base")
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(smol_tokenizer_dir()).save_pretrained(tmp_path / "other-base")
    return tmp_path / "other-base"


@pytest.mark.parametrize(
    "case",
    [
        "traversal",
        "absolute",
        "pickle",
        "bomb",
        "mismatched-base",
        "no-config",
        "bad-config",
        "not-safetensors",
        "not-a-zip",
    ],
)
def test_malicious_or_broken_imports_are_refused_and_nothing_is_written(
    case, reg, tiny_model, tmp_path, good_files, monkeypatch
):
    bad = tmp_path / f"{case}.zip"
    if case == "traversal":
        zip_of(bad, {**good_files, "../../escaped.txt": b"owned"})
        reason = "outside the adapter folder"
    elif case == "absolute":
        zip_of(bad, {**good_files, "/tmp/escaped-abs.txt": b"owned"})
        reason = "outside the adapter folder"
    elif case == "pickle":
        zip_of(bad, {**good_files, "adapter_model.bin": b"\x80\x04cos\nsystem\n."})
        reason = "pickle file"
    elif case == "bomb":
        monkeypatch.setenv("TAILOR_MAX_IMPORT_BYTES", str(20 * 1024**2))
        zip_of(bad, {**good_files, "padding.txt": b"\0" * (64 * 1024**2)})
        assert bad.stat().st_size < 1024**2  # small on disk, huge unpacked
        reason = "over the [0-9,]+-byte limit"
    elif case == "mismatched-base":
        # It claims the right base, but its tensors were made for other layer sizes: the shapes give it away.
        folder = peft_adapter(other_base(tmp_path), tmp_path / "foreign", seed=1)
        files = {f.name: f.read_bytes() for f in folder.iterdir() if f.is_file()}
        cfg = json.loads(files["adapter_config.json"])
        cfg["base_model_name_or_path"] = str(tiny_model)
        zip_of(bad, {**files, "adapter_config.json": json.dumps(cfg).encode()})
        reason = "has shape .* it was trained on a different base model"
    elif case == "no-config":
        zip_of(bad, {k: v for k, v in good_files.items() if k != "adapter_config.json"})
        reason = "no adapter_config.json"
    elif case == "bad-config":
        zip_of(bad, {**good_files, "adapter_config.json": b"{not json"})
        reason = "does not parse"
    elif case == "not-safetensors":
        zip_of(bad, {**good_files, WEIGHTS: b"garbage bytes"})
        reason = "not a valid safetensors file"
    else:
        bad.write_bytes(b"just text")
        reason = "not a zip file"
    before = sorted(str(p) for p in reg.home.root.rglob("*"))
    with pytest.raises(RegistryError, match=reason):
        import_adapter(reg, bad, base_source=str(tiny_model))
    assert reg.count_adapters() == 0
    assert sorted(str(p) for p in reg.home.root.rglob("*")) == before, "the refused import left files behind"
    assert not (tmp_path / "escaped.txt").exists() and not Path("/tmp/escaped-abs.txt").exists()


def test_import_refuses_an_adapter_named_for_another_base(reg, tiny_model, tmp_path, good_files):
    cfg = json.loads(good_files["adapter_config.json"])
    cfg["base_model_name_or_path"] = "meta-llama/Llama-3.1-8B-Instruct"
    bad = zip_of(tmp_path / "named.zip", {**good_files, "adapter_config.json": json.dumps(cfg).encode()})
    with pytest.raises(RegistryError, match="trained on 'meta-llama/Llama-3.1-8B-Instruct'"):
        import_adapter(reg, bad, base_source=str(tiny_model))


def test_import_cli_from_a_folder(reg, tiny_model, tmp_path, capsys):
    folder = peft_adapter(tiny_model, tmp_path / "my-adapter", seed=4)
    assert (
        main(
            [
                "adapters",
                "import",
                str(folder),
                "--base",
                str(tiny_model),
                "--name",
                "mine",
                "--description",
                "from a colleague",
            ]
        )
        == 0
    )
    assert "imported mine:1" in capsys.readouterr().out
    rec = reg.adapter("mine")
    assert sorted(p.name for p in adapter_dir(reg, rec).iterdir()) == ["README.md", "adapter_config.json", WEIGHTS]
    assert reg.search("colleague")[0].name == "mine"


# -- delete, rename, check ----------------------------------------------------------------------------------
def test_delete_refuses_while_served_and_removes_everything_after(reg, tiny_model, tmp_path, capsys):
    rec = register(reg, tiny_model, tmp_path, "served", 1)
    reg.tag(rec.id, ["x"])
    reg.set_alias("prod", rec.id)
    reg.lease(rec.id, "engine-test", os.getpid())
    with pytest.raises(RegistryError, match="being served"):
        delete_adapter(reg, rec)
    assert main(["adapters", "delete", "served:1"]) == 2
    assert adapter_dir(reg, rec).exists()
    reg.release(rec.id, "engine-test")
    reg.lease(rec.id, "engine-gone", 2**22 + 12345)  # a dead process: its lease is stale
    capsys.readouterr()
    assert main(["adapters", "delete", "served"]) == 2  # which version? must be said
    assert "say which version (`served:N`)" in capsys.readouterr().err
    assert main(["adapters", "delete", "nothing-by-that-name"]) == 2  # not asked for a version of nothing
    assert "no adapter named 'nothing-by-that-name'" in capsys.readouterr().err
    assert main(["adapters", "delete", "prod", "--all"]) == 2  # every version of an alias: which name?
    assert "prod is an alias of served:1: delete `served:1`, or `served --all`" in capsys.readouterr().err
    assert main(["adapters", "delete", "served:1"]) == 0
    assert reg.adapter("served") is None and reg.adapter("prod") is None and reg.search("x") == []
    assert not (reg.home.adapters / "served").exists()


def test_engine_holds_a_lease_on_what_it_serves(reg, tiny_model, tmp_path):
    from assistant.serve.engine import Engine

    rec = register(reg, tiny_model, tmp_path, "live", 1)
    engine = Engine(reg, str(tiny_model))
    engine.start().result()
    engine.side_by_side("hello", [None, "live"])
    with pytest.raises(RegistryError, match="being served"):
        delete_adapter(reg, reg.adapter("live"))
    engine.unload_all()
    delete_adapter(reg, reg.adapter("live"))
    assert reg.adapter("live") is None and rec


def test_rename_moves_every_version_and_aliases_follow(reg, tiny_model, tmp_path):
    v1 = register(reg, tiny_model, tmp_path, "draft", 1)
    register(reg, tiny_model, tmp_path, "draft", 2)
    reg.set_alias("prod", v1.id)
    rows = rename_adapter(reg, "draft", "final-name")
    assert [r.version for r in rows] == [1, 2] and reg.versions("draft") == []
    assert all(adapter_dir(reg, r).is_dir() for r in rows)
    assert reg.adapter("prod").name == "final-name" and reg.search("final")[0].name == "final-name"
    register(reg, tiny_model, tmp_path, "other", 3)
    with pytest.raises(RegistryError, match="already exists"):
        rename_adapter(reg, "other", "final-name")


def test_check_reports_drift_and_repair_fixes_it(reg, tiny_model, tmp_path, capsys):
    gone = register(reg, tiny_model, tmp_path, "gone", 1)
    tampered = register(reg, tiny_model, tmp_path, "tampered", 2)
    register(reg, tiny_model, tmp_path, "fine", 3)
    import shutil

    shutil.rmtree(adapter_dir(reg, gone))
    with open(adapter_dir(reg, tampered) / WEIGHTS, "ab") as f:
        f.write(b"\0")
    orphan = reg.home.adapters / "orphan" / "1"
    peft_adapter(tiny_model, orphan, seed=7)
    (reg.home.adapters / "fine" / ".2.partial").mkdir()
    assert main(["adapters", "check"]) == 1
    out = capsys.readouterr().out
    assert "gone:1: folder" in out and "tampered:1: weights changed" in out
    assert "adapters/orphan/1: an adapter folder the registry does not know" in out and ".2.partial" in out
    problems = check(reg, repair=True)
    assert len(problems) == 4
    assert reg.adapter("gone").status == "missing" and reg.adapter("tampered").status == "corrupt"
    assert reg.adapter("orphan").origin == "imported" and not (reg.home.adapters / "fine" / ".2.partial").exists()
    assert check(reg) == []


def test_merged_download_equals_base_plus_adapter(reg, tiny_model, tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    rec = register(reg, tiny_model, tmp_path, "merge-me", 1)
    zip_path = export_merged(reg, rec, log=lambda m: None)
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(tmp_path / "unz")
        names = z.namelist()
    assert "merge-me-v1-merged/model.safetensors" in names and "merge-me-v1-merged/tokenizer.json" in names
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "unz" / "merge-me-v1-merged").eval()
    peft = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tiny_model), str(adapter_dir(reg, rec))
    ).eval()
    base = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    ids = torch.tensor([[1, 400, 500, 600, 700]])
    with torch.no_grad():
        assert torch.allclose(merged(ids).logits, peft(ids).logits, atol=1e-4)
        assert not torch.allclose(merged(ids).logits, base(ids).logits, atol=1e-3)


def test_a_failed_upgrade_leaves_the_old_registry_as_it_was(tmp_path, monkeypatch):
    from assistant.registry import db as dbmod

    home = Home.resolve(tmp_path / "old")
    conn = sqlite3.connect(home.db_path)
    conn.executescript((FIXTURES / "registry_v1.sql").read_text())
    conn.execute(
        "insert into adapters(id, name, version, base_model, base_source, path, weights_sha256, size_bytes, "
        "created) values (1, 'a', 1, 'b', 'x', 'adapters/a/1', 'abc', 1, 't')"
    )
    conn.commit()
    conn.close()

    def broken(db, adapter_id):
        raise RuntimeError("disk full")

    monkeypatch.setattr(dbmod, "_index_adapter", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        Registry(home)
    conn = sqlite3.connect(home.db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert "base_revision" not in [c[1] for c in conn.execute("pragma table_info('adapters')")]
    assert conn.execute("select count(*) from sqlite_master where name = 'adapter_search'").fetchone()[0] == 0
    conn.close()
    monkeypatch.undo()
    assert Registry(home).adapter("a").origin == "trained"  # the next start upgrades it


def test_export_vllm_prints_one_serve_command_and_checks_ranks_and_base(tiny_model, tmp_path, capsys):
    """Outgrowing one GPU: `tailor adapters export A B --vllm` prints the exact vLLM multi-LoRA command."""
    from assistant.cli import main
    from assistant.registry.manage import import_adapter

    reg = Registry(Home.resolve())
    import_adapter(reg, peft_adapter(tiny_model, tmp_path / "a", r=4), name="support", base_source=str(tiny_model))
    import_adapter(reg, peft_adapter(tiny_model, tmp_path / "b", seed=1, r=24), name="billing",
                   base_source=str(tiny_model))
    assert main(["adapters", "export", "support", "billing:1", "--vllm"]) == 0
    command = capsys.readouterr().out.strip()
    assert command.startswith("vllm serve ") and "--enable-lora --lora-modules support-v1=" in command
    assert f"billing-v1={reg.home.root / 'adapters' / 'billing' / '1'}" in command
    assert command.endswith("--max-lora-rank 32 --max-loras 2"), "the smallest accepted rank above 24"
    assert main(["adapters", "export", "support", "billing", "--vllm", "--max-lora-rank", "16"]) == 2
    assert "--max-lora-rank 16 is below the rank of billing:1 (rank 24); use 32" in capsys.readouterr().err
    assert main(["adapters", "export", "support", "--vllm", "--max-lora-rank", "10"]) == 2
    assert "is not one vLLM accepts" in capsys.readouterr().err
    other = tiny_model_dir("tiny-llama-2", seed=1)
    import_adapter(reg, peft_adapter(other, tmp_path / "c", seed=2, r=4), name="other", base_source=str(other))
    assert main(["adapters", "export", "support", "other", "--vllm"]) == 2
    assert "one vLLM server serves one base model" in capsys.readouterr().err
