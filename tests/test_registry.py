"""The registry and the adapter store, without training: versions, fingerprints, zips, WAL."""

import hashlib
import zipfile

from assistant.config import Home
from assistant.registry import Registry
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
    kw = dict(job_id=None, plan_id=None, base_hub_id="org/b", base_source="b", metrics={"train_loss": 1.0}, log_file=None)
    v1 = store_adapter(reg, fake_adapter(tmp_path / "t1", b"one"), plan, **kw)
    v2 = store_adapter(reg, fake_adapter(tmp_path / "t2", b"two"), plan, **kw)
    assert (v1["version"], v2["version"]) == (1, 2)
    assert v1["weights_sha256"] == hashlib.sha256(b"one").hexdigest()
    assert reg.adapter("demo")["version"] == 2 and reg.adapter("demo:1")["id"] == v1["id"]
    with zipfile.ZipFile(export_zip(reg, v1)) as z:
        assert sorted(z.namelist()) == ["README.md", "adapter_config.json", "adapter_model.safetensors", "plan.json"]
        card = z.read("README.md").decode()
    assert "base_model: org/b" in card and "library_name: peft" in card
    assert not list((tmp_path / "home" / "adapters" / "demo").glob(".*partial"))
