"""Every crash between "trained" and "registered" is recoverable: the worker is killed (SIGKILL, no cleanup)
at each phase, and one recovery — start-up's reconcile, then a resume if the job failed — gives exactly one
registered version with its full lineage."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from assistant.config import Home
from assistant.registry import Registry
from assistant.registry.manage import check, import_adapter
from assistant.registry.store import WEIGHTS
from assistant.train import jobs
from helpers import make_plan, peft_adapter, wait_for

pytestmark = pytest.mark.slow

PHASES = ["step:4", "checkpoint", "adapter_save", "before_register", "rename_insert"]
"""Mid-step; while writing a checkpoint; while saving the adapter; after saving it, before registering; after
the version folder is moved into place, before its row is committed."""


def died(reg: Registry, job_id: int) -> bool:
    job = reg.job(job_id)
    return job.status == "running" and bool(job.pid) and not jobs.is_worker_alive(job.pid)


@pytest.mark.parametrize("phase, recover", [*((p, "reconcile") for p in PHASES), ("rename_insert", "check --repair")])
def test_a_kill_at_any_phase_ends_in_exactly_one_registered_version(phase, recover, topic_csv, tiny_model, monkeypatch):
    home = Home.resolve()
    reg = Registry(home)
    plan = make_plan(topic_csv, tiny_model, epochs=2, save_steps=3)
    monkeypatch.setenv("TAILOR_FAULT", phase)  # the worker inherits it and kills itself there
    job_id = jobs.submit(reg, plan)
    monkeypatch.delenv("TAILOR_FAULT")
    wait_for(lambda: died(reg, job_id), timeout=180)
    assert reg.adapters() == []

    if recover == "check --repair":  # the orphan folder is found by its weights and gets the job's lineage
        assert any("registered as" in line for line in check(reg, repair=True))
    else:
        jobs.reconcile(reg)  # what the app's start-up, `tailor jobs` and `tailor train` do
    if reg.job(job_id).status == "failed":
        jobs.resume(reg, job_id)
        wait_for(lambda: reg.job(job_id).status not in ("queued", "running"), timeout=240)
    job = reg.job(job_id)
    assert job.status == "succeeded", (phase, job, reg.logs(job_id, tail=30))

    adapters = reg.adapters()
    assert len(adapters) == 1, f"{phase}: {len(adapters)} versions registered"
    rec = adapters[0]
    assert (rec.version, rec.origin, rec.job_id, rec.id) == (1, "trained", job_id, job.adapter_id)
    assert rec.plan_id == job.plan_id and rec.dataset_sha256 == plan.data.sha256
    assert rec.metrics["train_loss"] > 0, "a resumed run must not record a zero training loss"
    lineage = reg.lineage(rec.id)
    assert lineage["job"]["id"] == job_id and lineage["dataset"]["sha256"] == plan.data.sha256
    folder = home.adapters / plan.name
    assert sorted(p.name for p in folder.iterdir()) == ["1"], "a leftover or duplicate folder"
    assert (folder / "1" / WEIGHTS).exists() and (folder / "1" / "plan.json").exists()
    assert check(reg) == []


def test_tailor_train_exits_when_its_worker_dies(topic_csv, tiny_model, tmp_path):
    home = Home.resolve()
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(make_plan(topic_csv, tiny_model, epochs=2).to_json(), encoding="utf-8")
    env = {**os.environ, "TAILOR_HOME": str(home.root), "TAILOR_FAULT": "step:2"}
    proc = subprocess.Popen([sys.executable, "-m", "assistant.cli", "train", str(plan_file)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    reg = Registry(home)
    wait_for(lambda: reg.jobs() and died(reg, reg.jobs()[0].id) or proc.poll() is not None, timeout=180)
    dead_at = time.time()
    out, err = proc.communicate(timeout=30)
    assert time.time() - dead_at < 10, "tailor train took more than 10 s to notice its worker died"
    assert proc.returncode == 1
    assert "failed: the worker process died" in err and "tailor jobs resume" in err


def test_two_imports_of_one_name_at_once_get_two_versions(tiny_model, tmp_path):
    reg = Registry(Home.resolve())
    folders = [peft_adapter(tiny_model, tmp_path / f"same-{i}", seed=i) for i in range(2)]
    results, errors = [], []

    def run(folder: Path):
        try:
            results.append(import_adapter(Registry(reg.home), folder, name="same", base_source=str(tiny_model)))
        except Exception as e:  # noqa: BLE001 - collected and reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(f,)) for f in folders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sorted(r.version for r in results) == [1, 2]
    assert check(reg) == []


def test_a_full_disk_is_one_clear_line_and_nothing_is_left(tiny_model, tmp_path, monkeypatch, capsys):
    """ENOSPC while the import writes its files: one line, exit 2, the registry and the disk as they were."""
    import errno

    from assistant.cli import main

    reg = Registry(Home.resolve())
    folder = peft_adapter(tiny_model, tmp_path / "full", seed=3)
    before = sorted(reg.home.root.rglob("*"))
    capsys.readouterr()  # what making the adapter printed
    real_open = open

    def full_disk(path, mode="r", *a, **k):
        if "w" in mode and ".imports" in str(path):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_open(path, mode, *a, **k)

    monkeypatch.setattr("builtins.open", full_disk)
    assert main(["adapters", "import", str(folder), "--base", str(tiny_model)]) == 2
    monkeypatch.undo()
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "the disk is full" in err and "Traceback" not in err
    assert reg.count_adapters() == 0 and sorted(reg.home.root.rglob("*")) == before


def test_a_resume_that_trains_no_step_keeps_the_logged_loss():
    from types import SimpleNamespace

    from assistant.train.worker import train_loss

    history = [{"loss": 2.0, "step": 1}, {"eval_loss": 1.9}, {"loss": 1.0, "step": 2}]
    assert train_loss(SimpleNamespace(training_loss=0.0), history) == 1.5
    assert train_loss(SimpleNamespace(training_loss=0.7), history) == 0.7


def test_a_failing_database_is_one_line(monkeypatch, capsys):
    import sqlite3

    from assistant.cli import main

    Registry(Home.resolve())

    def broken(*a, **k):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(Registry, "search", broken)
    assert main(["adapters", "list"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "registry database cannot be used (disk I/O error)" in err
